package sim

import (
	"net"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// serveDNS runs the simulator's DNS handler on loopback UDP and TCP.
func serveDNS(t *testing.T, srv *Server) (udpAddr, tcpAddr string) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udp := &dns.Server{PacketConn: pc, Handler: srv}
	tcp := &dns.Server{Listener: l, Handler: srv}
	started := make(chan struct{}, 2)
	udp.NotifyStartedFunc = func() { started <- struct{}{} }
	tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	<-started
	<-started
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
	})
	return pc.LocalAddr().String(), l.Addr().String()
}

func query(t *testing.T, network, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	in, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return in
}

// rrs renders a section without TTLs, sorted.
func rrs(section []dns.RR) string {
	var out []string
	for _, rr := range section {
		h := rr.Header()
		out = append(out, h.Name+" "+dns.TypeToString[h.Rrtype]+" "+strings.TrimPrefix(rr.String(), h.String()))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func TestDNSAnswers(t *testing.T) {
	f := newFixture(t)
	udpAddr, tcpAddr := serveDNS(t, f.srv)

	// The TXT record cert-manager would write, through the API.
	_, tok := f.mint(t, TokenSpec{Policies: []Policy{allow(zoneRes(f.srv.ZoneID("example.com")), PermZoneRead, PermDNSWrite)}})
	f.mustOK(t, "POST", "/zones/"+f.srv.ZoneID("example.com")+"/dns_records", tok, map[string]any{
		"type": "TXT", "name": "_acme-challenge.web.team-a.apps.example.com", "content": "LHDhK3oGRvkiefQnx7OOczTY5Tic_xZ6HcMOc_gmtoM", "ttl": 120,
	})
	for _, r := range []Record{
		{Name: "www", Type: "A", Content: "192.0.2.10", TTL: 300},
		{Name: "www", Type: "AAAA", Content: "2001:db8::10", TTL: 300},
		{Name: "alias", Type: "CNAME", Content: "www.example.com", TTL: 60},
		{Name: "outside", Type: "CNAME", Content: "target.example.net", TTL: 60},
		{Name: "*.wild", Type: "A", Content: "192.0.2.99", TTL: 60},
		{Name: "@", Type: "MX", Content: "mx.example.com", Priority: 10, TTL: 3600},
		{Name: "_sip._tcp", Type: "SRV", Data: &RecordData{Priority: 1, Weight: 2, Port: 5060, Target: "sip.example.com"}, TTL: 60},
		{Name: "@", Type: "CAA", Data: &RecordData{Tag: "issue", Value: "letsencrypt.org"}, TTL: 60},
		{Name: "multi", Type: "TXT", Content: `"part one" "part two"`, TTL: 60},
		{Name: "long", Type: "TXT", Content: strings.Repeat("a", 300), TTL: 60},
		{Name: "auto", Type: "A", Content: "192.0.2.1"},
		{Name: "deep.ent", Type: "A", Content: "192.0.2.2", TTL: 60},
	} {
		if _, err := f.srv.AddRecord("example.com", r); err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
	}

	cases := map[string]struct {
		name       string
		qtype      uint16
		wantRcode  int
		wantAA     bool
		wantAnswer string
		wantSOA    bool
	}{
		"the challenge TXT record answers": {
			name: "_acme-challenge.web.team-a.apps.example.com", qtype: dns.TypeTXT, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "_acme-challenge.web.team-a.apps.example.com. TXT \"LHDhK3oGRvkiefQnx7OOczTY5Tic_xZ6HcMOc_gmtoM\"",
		},
		"names are case-insensitive": {
			name: "WWW.Example.COM", qtype: dns.TypeA, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "www.example.com. A 192.0.2.10",
		},
		"AAAA answers": {
			name: "www.example.com", qtype: dns.TypeAAAA, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "www.example.com. AAAA 2001:db8::10",
		},
		"a CNAME inside the zone is followed": {
			name: "alias.example.com", qtype: dns.TypeA, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "alias.example.com. CNAME www.example.com.\nwww.example.com. A 192.0.2.10",
		},
		"a CNAME out of the zones is returned alone": {
			name: "outside.example.com", qtype: dns.TypeA, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "outside.example.com. CNAME target.example.net.",
		},
		"a wildcard answers for a name below it": {
			name: "anything.wild.example.com", qtype: dns.TypeA, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "anything.wild.example.com. A 192.0.2.99",
		},
		"MX answers at the apex": {
			name: "example.com", qtype: dns.TypeMX, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "example.com. MX 10 mx.example.com.",
		},
		"SRV answers": {
			name: "_sip._tcp.example.com", qtype: dns.TypeSRV, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "_sip._tcp.example.com. SRV 1 2 5060 sip.example.com.",
		},
		"CAA answers": {
			name: "example.com", qtype: dns.TypeCAA, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "example.com. CAA 0 issue \"letsencrypt.org\"",
		},
		"quoted TXT content becomes several strings": {
			name: "multi.example.com", qtype: dns.TypeTXT, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "multi.example.com. TXT \"part one\" \"part two\"",
		},
		"long TXT content is split at 255 bytes": {
			name: "long.example.com", qtype: dns.TypeTXT, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "long.example.com. TXT \"" + strings.Repeat("a", 255) + "\" \"" + strings.Repeat("a", 45) + "\"",
		},
		"SOA answers at the apex": {
			name: "example.com", qtype: dns.TypeSOA, wantRcode: dns.RcodeSuccess, wantAA: true,
		},
		"NS answers at the apex": {
			name: "example.com", qtype: dns.TypeNS, wantRcode: dns.RcodeSuccess, wantAA: true,
			wantAnswer: "example.com. NS ns1.cfsim.invalid.\nexample.com. NS ns2.cfsim.invalid.",
		},
		"a missing type at an existing name is NODATA": {
			name: "www.example.com", qtype: dns.TypeTXT, wantRcode: dns.RcodeSuccess, wantAA: true, wantSOA: true,
		},
		"an empty non-terminal is NODATA": {
			name: "ent.example.com", qtype: dns.TypeA, wantRcode: dns.RcodeSuccess, wantAA: true, wantSOA: true,
		},
		"a missing name is NXDOMAIN": {
			name: "missing.example.com", qtype: dns.TypeA, wantRcode: dns.RcodeNameError, wantAA: true, wantSOA: true,
		},
		"a name outside the zones is refused": {
			name: "example.net", qtype: dns.TypeA, wantRcode: dns.RcodeRefused,
		},
	}
	for name, tc := range cases {
		for _, network := range []string{"udp", "tcp"} {
			addr := udpAddr
			if network == "tcp" {
				addr = tcpAddr
			}
			t.Run(name+" over "+network, func(t *testing.T) {
				in := query(t, network, addr, tc.name, tc.qtype)
				if in.Rcode != tc.wantRcode || in.Authoritative != tc.wantAA || in.RecursionAvailable {
					t.Fatalf("rcode %s aa %v ra %v", dns.RcodeToString[in.Rcode], in.Authoritative, in.RecursionAvailable)
				}
				if tc.wantAnswer != "" && rrs(in.Answer) != tc.wantAnswer {
					t.Fatalf("answer\n%s\nwant\n%s", rrs(in.Answer), tc.wantAnswer)
				}
				if tc.qtype == dns.TypeSOA && (len(in.Answer) != 1 || in.Answer[0].Header().Rrtype != dns.TypeSOA) {
					t.Fatalf("answer %v", in.Answer)
				}
				hasSOA := len(in.Ns) == 1 && in.Ns[0].Header().Rrtype == dns.TypeSOA
				if tc.wantSOA && (!hasSOA || len(in.Answer) != 0) {
					t.Fatalf("want an empty answer and the SOA in authority, got %v / %v", in.Answer, in.Ns)
				}
			})
		}
	}

	t.Run("TTLs come from the record and automatic is 300", func(t *testing.T) {
		if ttl := query(t, "udp", udpAddr, "_acme-challenge.web.team-a.apps.example.com", dns.TypeTXT).Answer[0].Header().Ttl; ttl != 120 {
			t.Fatalf("ttl %d", ttl)
		}
		if ttl := query(t, "udp", udpAddr, "auto.example.com", dns.TypeA).Answer[0].Header().Ttl; ttl != 300 {
			t.Fatalf("auto ttl %d", ttl)
		}
	})
	t.Run("a deleted record disappears and the SOA serial moves", func(t *testing.T) {
		serial := query(t, "udp", udpAddr, "example.com", dns.TypeSOA).Answer[0].(*dns.SOA).Serial
		var id string
		for _, r := range f.srv.Records("example.com") {
			if r.Name == "www.example.com" && r.Type == "A" {
				id = r.ID
			}
		}
		f.mustOK(t, "DELETE", "/zones/"+f.srv.ZoneID("example.com")+"/dns_records/"+id, testMaster, nil)
		if in := query(t, "udp", udpAddr, "www.example.com", dns.TypeA); len(in.Answer) != 0 {
			t.Fatalf("answer after delete: %v", in.Answer)
		}
		if s2 := query(t, "udp", udpAddr, "example.com", dns.TypeSOA).Answer[0].(*dns.SOA).Serial; s2 <= serial {
			t.Fatalf("serial %d -> %d", serial, s2)
		}
	})
	t.Run("an UPDATE is not implemented", func(t *testing.T) {
		m := new(dns.Msg)
		m.SetUpdate("example.com.")
		in, _, err := (&dns.Client{Net: "udp", Timeout: 2 * time.Second}).Exchange(m, udpAddr)
		if err != nil {
			t.Fatal(err)
		}
		if in.Rcode != dns.RcodeNotImplemented {
			t.Fatalf("rcode %s", dns.RcodeToString[in.Rcode])
		}
	})
	t.Run("the queries were counted", func(t *testing.T) {
		if f.srv.Requests()["dns.query"] == 0 {
			t.Fatal("no dns.query count")
		}
	})
}
