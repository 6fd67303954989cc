package gateway

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/memory"
)

// fakeWriter is a dns.ResponseWriter that keeps what the handler wrote.
type fakeWriter struct {
	status  error
	written [][]byte
}

func (w *fakeWriter) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *fakeWriter) RemoteAddr() net.Addr {
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 5353}
}
func (w *fakeWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	w.written = append(w.written, b)
	return nil
}
func (w *fakeWriter) Write(b []byte) (int, error) {
	w.written = append(w.written, append([]byte(nil), b...))
	return len(b), nil
}
func (w *fakeWriter) Close() error        { return nil }
func (w *fakeWriter) TsigStatus() error   { return w.status }
func (w *fakeWriter) TsigTimersOnly(bool) {}
func (w *fakeWriter) Hijack()             {}

// countingWriter passes through to a provider, counts ApplyChanges and checks
// every change against the key's grants and owner marker.
type countingWriter struct {
	Writer
	t      *testing.T
	grants map[Grant]int32
	owner  string

	mu    sync.Mutex
	calls int
}

func (c *countingWriter) ApplyChanges(ctx context.Context, zoneID string, ch provider.Changes) (provider.ApplyResult, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	check := func(what string, rs []provider.Record) {
		for _, r := range rs {
			if _, ok := c.grants[Grant{Name: r.Name, Type: r.Type}]; !ok {
				c.t.Errorf("%s of ungranted %s", what, r)
			}
			if r.Comment != c.owner {
				c.t.Errorf("%s of %s with comment %q, not the gateway's marker", what, r, r.Comment)
			}
		}
	}
	check("create", ch.Create)
	check("update", ch.UpdateNew)
	check("update of", ch.UpdateOld)
	check("delete", ch.Delete)
	return c.Writer.ApplyChanges(ctx, zoneID, ch)
}

func (c *countingWriter) take() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.calls
	c.calls = 0
	return n
}

// Signing modes of FuzzServeDNS.
const (
	modeAsIs       = iota // the bytes as they are, TsigStatus nil: any TSIG in them was never verified
	modeStatusErr         // the bytes as they are, TsigStatus an error
	modeSigned            // re-signed with team-a's current secret and verified by the server's provider
	modeWrongKey          // re-signed with a wrong secret
	modeStale             // re-signed with the right secret, 20 minutes ago
	modePrevSecret        // re-signed with team-a's previous secret
	modeCount
)

func FuzzServeDNS(f *testing.F) {
	// Every input starts from the same zone: a fresh store, seeded, and the
	// key pointed at its zone ID.
	keys := NewKeyStore()
	cw := &countingWriter{owner: OwnerComment(testCluster, "team-a")}
	reset := func(tb testing.TB) Key {
		store := memory.New(memory.Config{Zones: []string{testZone, otherZone}})
		zoneID := store.ZoneID(testZone)
		if _, err := store.Master().ApplyChanges(context.Background(), zoneID, provider.Changes{Create: []provider.Record{
			owned(acmeName, "TXT", "seeded", 120), owned(webName, "A", "203.0.113.10", 300),
			foreign(webName, "TXT", "v=spf1 -all"), foreign(aliasName, "TXT", "someone"),
		}}); err != nil {
			tb.Fatal(err)
		}
		key := teamAKey(zoneID)
		keys.Put(key)
		cw.Writer, cw.grants = store.Master(), key.Grants
		return key
	}
	key := reset(f)
	srv, err := New(Options{
		Keys:        keys,
		Writers:     WritersFunc(func(context.Context, string) (Writer, error) { return cw, nil }),
		ClusterName: testCluster,
		RatePerKey:  -1,
	})
	if err != nil {
		f.Fatal(err)
	}

	seed := func(m *dns.Msg) {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		for mode := range modeCount {
			f.Add(b, uint8(mode))
		}
	}
	mk := func(build func(m *dns.Msg)) *dns.Msg {
		m := update(testZone)
		build(m)
		return m
	}
	seed(mk(func(m *dns.Msg) { m.Insert(rrs(f, acmeName+". 120 IN TXT token")) }))
	seed(mk(func(m *dns.Msg) { m.Remove(rrs(f, acmeName+". 0 IN TXT seeded")) }))
	seed(mk(func(m *dns.Msg) { m.RemoveRRset([]dns.RR{anyRR(webName, dns.TypeTXT, 0)}) }))
	seed(mk(func(m *dns.Msg) { m.RemoveName([]dns.RR{anyRR(webName, dns.TypeANY, 0)}) }))
	seed(mk(func(m *dns.Msg) {
		m.Used(rrs(f, webName+". 0 IN A 203.0.113.10"))
		m.Insert(rrs(f, webName+". 300 IN A 203.0.113.11", aliasName+". 60 IN CNAME x.example.net."))
	}))
	seed(mk(func(m *dns.Msg) {
		m.NameNotUsed([]dns.RR{anyRR(acmeName, dns.TypeANY, 0)})
		m.Insert(rrs(f, "www.example.com. 60 IN A 192.0.2.1"))
	}))
	q := new(dns.Msg)
	q.SetQuestion(acmeName+".", dns.TypeSOA)
	seed(q)
	signed := mk(func(m *dns.Msg) { m.Insert(rrs(f, acmeName+". 120 IN TXT pre-signed")) })
	signed.SetTsig(keyA, dns.HmacSHA256, 300, time.Now().Unix())
	if b, _, err := dns.TsigGenerate(signed, secretA, "", false); err == nil {
		f.Add(b, uint8(modeAsIs))
	}

	granted := map[string]bool{}
	for g := range key.Grants {
		granted[g.Name] = true
	}
	statusErrs := []error{dns.ErrSig, dns.ErrTime, dns.ErrSecret, dns.ErrKeyAlg, dns.ErrAuth}

	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		cw.t = t
		reset(t)
		m := new(dns.Msg)
		if m.Unpack(data) != nil || m.Response {
			return // the MsgAcceptFunc drops responses before they are verified
		}
		mode %= modeCount
		w := &fakeWriter{}
		request := data
		switch mode {
		case modeStatusErr:
			w.status = statusErrs[int(m.Id)%len(statusErrs)]
		case modeSigned, modeWrongKey, modeStale, modePrevSecret:
			if ts := m.IsTsig(); ts != nil {
				m.Extra = m.Extra[:len(m.Extra)-1]
			}
			secret, when := secretA, time.Now()
			switch mode {
			case modeWrongKey:
				secret = wrongSecret
			case modeStale:
				when = when.Add(-20 * time.Minute)
			case modePrevSecret:
				secret = secretAPrev
			}
			m.SetTsig(keyA, dns.HmacSHA256, 300, when.Unix())
			raw, _, err := dns.TsigGenerate(m, secret, "", false)
			if err != nil {
				return
			}
			// What the server does before calling the handler: unpack, then
			// verify (which changes the buffer it is given).
			m = new(dns.Msg)
			if m.Unpack(raw) != nil {
				return
			}
			request = append([]byte(nil), raw...)
			w.status = dns.TsigVerifyWithProvider(raw, srv.tsig, "", false)
		}
		srv.ServeDNS(w, m)

		calls := cw.take()
		verified := mode == modeSigned || mode == modePrevSecret
		if calls > 0 {
			if !verified {
				t.Fatalf("mode %d: ApplyChanges called for a request that is not validly signed", mode)
			}
			if m.Opcode != dns.OpcodeUpdate || len(m.Question) != 1 || provider.NormalizeName(m.Question[0].Name) != testZone {
				t.Fatalf("ApplyChanges called for opcode %d zone %v", m.Opcode, m.Question)
			}
			for _, rr := range m.Ns {
				if !granted[provider.NormalizeName(rr.Header().Name)] {
					t.Fatalf("ApplyChanges called for an update touching %s, which has no grant", rr.Header().Name)
				}
			}
		}
		if calls > 1 {
			t.Fatalf("%d ApplyChanges calls for one request", calls)
		}
		if m.Response {
			if len(w.written) != 0 {
				t.Fatal("a response was answered")
			}
			return
		}
		if len(w.written) != 1 {
			t.Fatalf("%d answers written, want 1", len(w.written))
		}
		if !verified && len(w.written[0]) > dns.MinMsgSize {
			t.Fatalf("answer of %d bytes to an unauthenticated request of %d", len(w.written[0]), len(request))
		}
		if n := srv.verified.len(); n != 0 {
			t.Fatalf("%d verification records left behind", n)
		}
	})
}
