package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

func axfr(zone string) *dns.Msg {
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(zone))
	return m
}

// transferOf sends a signed (or unsigned) AXFR over TCP and reads every
// message of the answer until the closing SOA, checking that each message is
// signed and chained to the one before (RFC 8945 §5.3.1) independently of
// miekg/dns's transfer client. It returns the messages.
func transferOf(t *testing.T, addr string, c client, m *dns.Msg) ([]*dns.Msg, error) {
	t.Helper()
	co, err := dns.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer co.Close()
	_ = co.SetDeadline(time.Now().Add(10 * time.Second))
	var buf []byte
	var mac string
	if c.key == "" {
		buf, err = m.Pack()
	} else {
		m.SetTsig(c.key, c.alg, 300, time.Now().Unix())
		buf, mac, err = dns.TsigGenerate(m, c.secret, "", false)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := co.Write(buf); err != nil {
		t.Fatal(err)
	}
	var out []*dns.Msg
	soas := 0
	for soas < 2 {
		raw, err := co.ReadMsgHeader(nil)
		if err != nil {
			return out, fmt.Errorf("message %d: %w", len(out), err)
		}
		r := new(dns.Msg)
		if err := r.Unpack(raw); err != nil {
			return out, err
		}
		out = append(out, r)
		ts := r.IsTsig()
		switch {
		case c.key == "" && ts != nil:
			return out, errors.New("an answer to an unsigned request is signed")
		case c.key != "" && ts == nil:
			return out, fmt.Errorf("message %d is not signed", len(out)-1)
		case ts != nil && r.Rcode == dns.RcodeSuccess:
			if err := dns.TsigVerify(raw, c.secret, mac, len(out) > 1); err != nil {
				return out, fmt.Errorf("message %d: TSIG: %w", len(out)-1, err)
			}
			mac = ts.MAC
		}
		if r.Rcode != dns.RcodeSuccess {
			return out, nil
		}
		for _, rr := range r.Answer {
			if rr.Header().Rrtype == dns.TypeSOA {
				soas++
			}
		}
		if len(out) == 1 && (len(r.Answer) == 0 || r.Answer[0].Header().Rrtype != dns.TypeSOA) {
			return out, errors.New("the first message does not start with the SOA")
		}
	}
	return out, nil
}

// answers lists "name type data" of every answer RR but the SOAs, sorted.
func answers(ms []*dns.Msg) []string {
	var out []string
	for _, m := range ms {
		for _, rr := range m.Answer {
			if rr.Header().Rrtype == dns.TypeSOA {
				continue
			}
			h := rr.Header()
			out = append(out, strings.TrimPrefix(rr.String(), h.String()))
			out[len(out)-1] = strings.TrimSuffix(h.Name, ".") + " " + dns.TypeToString[h.Rrtype] + " " + out[len(out)-1]
		}
	}
	slices.Sort(out)
	return out
}

// seedTransferZone writes team-a's records, team-b's, records nobody was
// granted and a type team-a was not granted at one of its names.
func seedTransferZone(f *fixture) {
	f.seed(
		owned(acmeName, "TXT", "token-1", 120),
		owned(webName, "A", "192.0.2.10", 300),
		owned(webName, "AAAA", "2001:db8::10", 300),
		owned(aliasName, "CNAME", "web.team-a.apps.example.com", 300),
		owned(webName, "MX", "10 mail.example.com", 300),
		owned(srvName, "SRV", "1 2 5060 sip.example.com", 300),
		foreign(webName, "TXT", "not granted at this type"),
		foreign(otherName, "TXT", "team-b's"),
		foreign("www.example.com", "A", "192.0.2.99"),
		foreign("example.com", "NS", "ns1.example.net"),
	)
}

var teamATransfer = []string{
	"_acme-challenge.web.team-a.apps.example.com TXT \"token-1\"",
	"_sip._tcp.web.team-a.apps.example.com SRV 1 2 5060 sip.example.com.",
	"alias.team-a.apps.example.com CNAME web.team-a.apps.example.com.",
	"web.team-a.apps.example.com A 192.0.2.10",
	"web.team-a.apps.example.com AAAA 2001:db8::10",
	"web.team-a.apps.example.com MX 10 mail.example.com.",
}

func TestTransferHoldsOnlyTheKeysRecordsBetweenTwoSOAs(t *testing.T) {
	f := newFixture(t, nil)
	seedTransferZone(f)
	ms, err := transferOf(t, f.addr, asTeamA, axfr(testZone))
	if err != nil {
		t.Fatal(err)
	}
	if got := answers(ms); !slices.Equal(got, teamATransfer) {
		t.Fatalf("transfer holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(teamATransfer, "\n"))
	}
	first, last := ms[0].Answer[0], ms[len(ms)-1].Answer[len(ms[len(ms)-1].Answer)-1]
	if first.Header().Rrtype != dns.TypeSOA || last.Header().Rrtype != dns.TypeSOA || first.Header().Name != testZone+"." {
		t.Fatalf("transfer starts with %v and ends with %v, want the zone's SOA both times", first, last)
	}
	if !ms[0].Authoritative {
		t.Error("the transfer is not authoritative")
	}
}

func TestTransferOfManyMessagesIsSignedAndChained(t *testing.T) {
	f := newFixture(t, nil)
	var recs []provider.Record
	for i := range 300 {
		recs = append(recs, owned(acmeName, "TXT", fmt.Sprintf("%03d-%s", i, strings.Repeat("v", 200)), 120))
	}
	f.seed(recs...)
	ms, err := transferOf(t, f.addr, asTeamA, axfr(testZone))
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 3 {
		t.Fatalf("%d messages for 60 KB of records, want several", len(ms))
	}
	if n := len(answers(ms)); n != len(recs) {
		t.Fatalf("%d records transferred, want %d", n, len(recs))
	}
	// miekg/dns's transfer client, which external-dns's rfc2136 provider
	// uses, verifies every envelope with the chained MACs as well.
	m := axfr(testZone)
	m.SetTsig(keyA, dns.HmacSHA256, 300, time.Now().Unix())
	tr := &dns.Transfer{TsigSecret: map[string]string{keyA: secretA}}
	ch, err := tr.In(m, f.addr)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for e := range ch {
		if e.Error != nil {
			t.Fatalf("dns.Transfer: %v", e.Error)
		}
		n += len(e.RR)
	}
	if n != len(recs)+2 {
		t.Fatalf("dns.Transfer read %d RRs, want %d", n, len(recs)+2)
	}
}

func TestTransferIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	seedTransferZone(f)
	for _, tc := range []struct {
		name    string
		as      client
		zone    string
		rcode   int
		tsigErr uint16
		signed  bool
	}{
		{name: "an unsigned transfer is refused and not signed", as: unsigned, zone: testZone, rcode: dns.RcodeRefused},
		{name: "a transfer signed by an unknown key gets NOTAUTH/BADKEY", as: client{key: "nobody.prod.scopedns.", secret: secretA, alg: dns.HmacSHA256}, zone: testZone, rcode: dns.RcodeNotAuth, tsigErr: dns.RcodeBadKey},
		{name: "a transfer signed with a wrong secret gets NOTAUTH/BADSIG", as: client{key: keyA, secret: wrongSecret, alg: dns.HmacSHA256}, zone: testZone, rcode: dns.RcodeNotAuth, tsigErr: dns.RcodeBadSig},
		{name: "a transfer of a zone that is not the key's gets NOTAUTH, signed", as: asTeamA, zone: otherZone, rcode: dns.RcodeNotAuth, signed: true},
		{name: "a transfer of a zone of the key where it holds no grant gets NOTAUTH, signed", as: asTeamB, zone: otherZone, rcode: dns.RcodeNotAuth, signed: true},
		{name: "a transfer of a name below the zone gets NOTAUTH, signed", as: asTeamA, zone: webName, rcode: dns.RcodeNotAuth, signed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := transferOf(t, f.addr, tc.as, axfr(tc.zone))
			if len(ms) != 1 {
				t.Fatalf("%d messages (%v), want one answer", len(ms), err)
			}
			r := ms[0]
			if r.Rcode != tc.rcode || len(r.Answer) != 0 {
				t.Fatalf("rcode %s with %d answers, want %s and none", dns.RcodeToString[r.Rcode], len(r.Answer), dns.RcodeToString[tc.rcode])
			}
			ts := r.IsTsig()
			if tc.as.key != "" && ts == nil {
				t.Fatal("the answer carries no TSIG RR")
			}
			if ts != nil && ts.Error != tc.tsigErr {
				t.Errorf("TSIG error %s, want %s", dns.RcodeToString[int(ts.Error)], dns.RcodeToString[int(tc.tsigErr)])
			}
			if tc.signed {
				if ts.MACSize == 0 {
					t.Fatal("the answer to a known key is not signed")
				}
			}
		})
	}
}

func TestTransferOverUDPIsFORMERRAsInBIND(t *testing.T) {
	f := newFixture(t, nil)
	seedTransferZone(f)
	r, err := f.exchange("udp", asTeamA, axfr(testZone))
	if err != nil {
		t.Fatalf("answer: %v %v", r, err)
	}
	if r.Rcode != dns.RcodeFormatError || len(r.Answer) != 0 {
		t.Fatalf("rcode %s with %d answers, want FORMERR and none", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
}

func TestTransferIsLimitedByTheKeysRate(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.RatePerKey, o.BurstPerKey = 0.001, 1 })
	seedTransferZone(f)
	if _, err := transferOf(t, f.addr, asTeamA, axfr(testZone)); err != nil {
		t.Fatalf("first transfer: %v", err)
	}
	ms, _ := transferOf(t, f.addr, asTeamA, axfr(testZone))
	if len(ms) != 1 || ms[0].Rcode != dns.RcodeRefused || len(ms[0].Answer) != 0 {
		t.Fatalf("second transfer within the key's rate: %v, want one REFUSED answer", ms)
	}
}

// TestTransferOverTheNamespacesBudgetIsRefusedSigned: a namespace that
// spent its part of the front doors' budget on updates is refused its
// transfers too (REFUSED, signed, nothing sent): it is to back off, not poll.
func TestTransferOverTheNamespacesBudgetIsRefusedSigned(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		zw, err := zonewriter.New(zonewriter.Options{Providers: o.Writers, RequestBudget: 4, BudgetWindow: time.Hour, PaceBurst: 4})
		if err != nil {
			t.Fatal(err)
		}
		o.ZoneWriter = zw
	})
	seedTransferZone(f)
	if _, err := transferOf(t, f.addr, asTeamA, axfr(testZone)); err != nil {
		t.Fatalf("a transfer within the budget: %v", err)
	}
	refused := false
	for i := 0; i < 30 && !refused; i++ {
		m := update(testZone)
		m.Insert(rrs(t, fmt.Sprintf("%s. 120 IN TXT flood-%d", acmeName, i)))
		r, err := f.exchange("tcp", asTeamA, m)
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		refused = r.Rcode == dns.RcodeRefused
	}
	if !refused {
		t.Fatal("the namespace was never refused for its budget")
	}
	ms, err := transferOf(t, f.addr, asTeamA, axfr(testZone))
	if len(ms) != 1 {
		t.Fatalf("%d messages (%v), want one answer", len(ms), err)
	}
	if r := ms[0]; r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 || r.IsTsig() == nil || r.IsTsig().MACSize == 0 {
		t.Fatalf("answer %v, want REFUSED, signed, without records", r)
	}
	if !strings.Contains(f.logs.String(), `"msg":"rfc2136 transfer"`) || !strings.Contains(f.logs.String(), "provider budget") {
		t.Fatalf("no audit line says the budget refused the transfer:\n%s", f.logs.String())
	}
}

// TestTransferWritesOneAuditLine: one line per transfer, at info level, with
// the key, the zone and how many records went out; never the secret.
func TestTransferWritesOneAuditLine(t *testing.T) {
	f := newFixture(t, nil)
	seedTransferZone(f)
	if _, err := transferOf(t, f.addr, asTeamA, axfr(testZone)); err != nil {
		t.Fatal(err)
	}
	// The line is written once the last message went out, which the
	// client may read first.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(f.logs.String(), `"msg":"rfc2136 transfer"`) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if m["msg"] == "rfc2136 transfer" {
			lines = append(lines, m)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d transfer audit lines, want 1:\n%s", len(lines), f.logs.String())
	}
	l := lines[0]
	if l["result"] != "NOERROR" || l["key"] != keyA || l["namespace"] != "team-a" || l["zone"] != testZone || l["records"] != float64(len(teamATransfer)) {
		t.Errorf("audit line %v", l)
	}
	if strings.Contains(f.logs.String(), secretA) {
		t.Error("the log holds the key's secret")
	}
}

// TestDigTransfer drives the gateway with BIND's dig, a client this project
// did not write: its AXFR verifies every message's TSIG, chained, as BIND's
// secondaries do.
func TestDigTransfer(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		t.Skip("dig not installed: run hack/setup.sh")
	}
	f := newFixture(t, nil)
	seedTransferZone(f)
	var many []provider.Record
	for i := range 200 {
		many = append(many, owned(acmeName, "TXT", fmt.Sprintf("%03d-%s", i, strings.Repeat("d", 200)), 120))
	}
	f.seed(many...)
	host, port, err := net.SplitHostPort(f.addr)
	if err != nil {
		t.Fatal(err)
	}
	run := func(key string) string {
		out, _ := exec.Command(dig, "-y", key, "@"+host, "-p", port, "+nocookie", "+tries=1", "+time=5", testZone, "AXFR").CombinedOutput()
		// One space between fields, one line per line, as zone files
		// compare.
		lines := strings.Split(string(out), "\n")
		for i, l := range lines {
			lines[i] = strings.Join(strings.Fields(l), " ")
		}
		return strings.Join(lines, "\n")
	}
	for _, tc := range []struct {
		name     string
		key      string
		want     []string
		wantNot  []string
		messages bool
	}{
		{
			name: "dig with the key's secret transfers the key's records only, every message verified",
			key:  "hmac-sha256:team-a.prod.scopedns:" + secretA,
			want: []string{
				"web.team-a.apps.example.com. 300 IN A 192.0.2.10",
				"alias.team-a.apps.example.com. 300 IN CNAME web.team-a.apps.example.com.",
				"\"199-ddd", "XFR size: 208 records",
			},
			wantNot:  []string{"www.example.com", "team-b", "not granted", "ns1.example.net", "tsig verify failure", "Transfer failed"},
			messages: true,
		},
		{
			name:    "dig with a wrong secret gets no records",
			key:     "hmac-sha256:team-a.prod.scopedns:" + wrongSecret,
			want:    []string{"Transfer failed"},
			wantNot: []string{"192.0.2.10"},
		},
		{
			name:    "dig with another namespace's key gets none of team-a's records",
			key:     "hmac-sha512:team-b.prod.scopedns:" + secretB,
			want:    []string{"team-b's"},
			wantNot: []string{"192.0.2.10", "token-1", "www.example.com"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := run(tc.key)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("dig's output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("dig's output holds %q:\n%s", w, out)
				}
			}
			if tc.messages && !strings.Contains(out, "messages") {
				t.Errorf("dig's output has no transfer summary:\n%s", out)
			}
		})
	}
}
