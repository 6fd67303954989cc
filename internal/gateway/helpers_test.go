package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // the test signs with MD5 to see it refused
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/memory"
)

const (
	testCluster = "test-cluster"
	testZone    = "example.com"
	otherZone   = "example.org"

	keyA      = "team-a.prod.scopedns."
	keyB      = "team-b.prod.scopedns."
	keyMD5    = "legacy.prod.scopedns."
	keyBroken = "broken.nowhere.scopedns."

	acmeName  = "_acme-challenge.web.team-a.apps.example.com"
	webName   = "web.team-a.apps.example.com"
	aliasName = "alias.team-a.apps.example.com"
	srvName   = "_sip._tcp.web.team-a.apps.example.com"
	otherName = "_acme-challenge.web.team-b.apps.example.com"
)

var (
	secretA     = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("a"), 32))
	secretAPrev = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("p"), 32))
	secretB     = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("b"), 64))
	wrongSecret = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("x"), 32))
)

// fixture is a gateway on loopback UDP and TCP writing to an in-memory
// provider.
type fixture struct {
	t       testing.TB
	store   *memory.Store
	zoneID  string
	otherID string
	keys    *KeyStore
	srv     *Server
	addr    string
	logs    *syncBuffer

	mu      sync.Mutex
	results []string
}

func teamAKey(zoneID string) Key {
	return Key{
		Name:      keyA,
		Algorithm: dns.HmacSHA256,
		Secrets:   []string{secretA, secretAPrev},
		// The rotation overlap outlasts every test but the one of its end.
		PreviousValidUntil: time.Now().Add(time.Hour),
		Namespace:          "team-a",
		Scope:              "prod",
		Zones:              map[string]string{testZone: zoneID},
		Grants: map[Grant]int32{
			{Name: acmeName, Type: "TXT"}:    3600,
			{Name: webName, Type: "A"}:       300,
			{Name: webName, Type: "AAAA"}:    300,
			{Name: aliasName, Type: "CNAME"}: 0,
			{Name: webName, Type: "MX"}:      300,
			{Name: webName, Type: "CAA"}:     300,
			{Name: srvName, Type: "SRV"}:     300,
			// The grant engine grants no HINFO; this one reaches the
			// gateway's own check of the types it writes.
			{Name: webName, Type: "HINFO"}: 0,
		},
	}
}

func newFixture(t testing.TB, mutate func(*Options)) *fixture {
	t.Helper()
	store := memory.New(memory.Config{Zones: []string{testZone, otherZone}})
	f := &fixture{t: t, store: store, zoneID: store.ZoneID(testZone), otherID: store.ZoneID(otherZone), logs: &syncBuffer{}}
	f.keys = NewKeyStore(
		teamAKey(f.zoneID),
		Key{
			Name: keyB, Algorithm: "HMACSHA512", Secrets: []string{secretB}, Namespace: "team-b", Scope: "prod",
			Zones:  map[string]string{testZone: f.zoneID, otherZone: f.otherID},
			Grants: map[Grant]int32{{Name: otherName, Type: "TXT"}: 0},
		},
		Key{
			Name: keyMD5, Algorithm: dns.HmacMD5, Secrets: []string{secretA}, Namespace: "legacy", Scope: "prod",
			Zones: map[string]string{testZone: f.zoneID}, Grants: map[Grant]int32{{Name: acmeName, Type: "TXT"}: 0},
		},
		Key{
			Name: keyBroken, Algorithm: dns.HmacSHA256, Secrets: []string{secretA}, Namespace: "broken", Scope: "nowhere",
			Zones: map[string]string{testZone: f.zoneID}, Grants: map[Grant]int32{{Name: acmeName, Type: "TXT"}: 0},
		},
	)
	o := Options{
		Addr:        "127.0.0.1:0",
		Keys:        f.keys,
		Writers:     memoryWriters(store),
		ClusterName: testCluster,
		RatePerKey:  -1,
		Logger:      slog.New(slog.NewJSONHandler(f.logs, nil)),
		Observer: func(r string) {
			f.mu.Lock()
			f.results = append(f.results, r)
			f.mu.Unlock()
		},
	}
	if mutate != nil {
		mutate(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	startServer(t, srv)
	f.addr = srv.Addr()
	return f
}

func memoryWriters(store *memory.Store) Writers {
	return WritersFunc(func(_ context.Context, scope string) (Writer, error) {
		if scope != "prod" {
			return nil, errors.New("no such scope")
		}
		return store.Master(), nil
	})
}

func startServer(t testing.TB, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("Start: %v", err)
	case <-time.After(5 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start returned %v", err)
		}
	})
}

// seed creates records directly at the provider.
func (f *fixture) seed(recs ...provider.Record) {
	f.t.Helper()
	if _, err := f.store.Master().ApplyChanges(context.Background(), f.zoneID, provider.Changes{Create: recs}); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) records() []provider.Record { return f.store.Records(testZone) }

func (f *fixture) observed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.results...)
}

// client describes how a test signs.
type client struct {
	key, secret, alg string
	md5              bool  // sign with HMAC-MD5 (which miekg/dns no longer does)
	timeShift        int64 // seconds added to the signing time
}

var (
	asTeamA     = client{key: keyA, secret: secretA, alg: dns.HmacSHA256}
	asTeamAPrev = client{key: keyA, secret: secretAPrev, alg: dns.HmacSHA256}
	asTeamB     = client{key: keyB, secret: secretB, alg: dns.HmacSHA512}
	unsigned    = client{}
)

// exchange sends m over net ("udp" or "tcp") and returns the answer and the
// client's error (which includes a failed check of the answer's TSIG).
func (f *fixture) exchange(net string, c client, m *dns.Msg) (*dns.Msg, error) {
	return exchange(f.addr, net, c, m)
}

func exchange(addr, net string, c client, m *dns.Msg) (*dns.Msg, error) {
	cl := &dns.Client{Net: net, Timeout: 5 * time.Second}
	co, err := cl.Dial(addr)
	if err != nil {
		return nil, err
	}
	defer co.Close()
	return exchangeOn(co, c, m)
}

// exchangeOn signs m itself (miekg/dns's Conn would chain the previous
// answer's MAC into the next request's, as in a zone transfer), sends it on
// co and checks the answer's MAC.
func exchangeOn(co *dns.Conn, c client, m *dns.Msg) (*dns.Msg, error) {
	_ = co.SetDeadline(time.Now().Add(5 * time.Second))
	var buf []byte
	var err error
	var requestMAC string
	if c.key == "" {
		buf, err = m.Pack()
	} else {
		if c.md5 {
			m.SetTsig(c.key, dns.HmacMD5, 300, time.Now().Unix()+c.timeShift)
			buf, requestMAC, err = dns.TsigGenerateWithProvider(m, md5Provider(c.secret), "", false)
		} else {
			m.SetTsig(c.key, c.alg, 300, time.Now().Unix()+c.timeShift)
			buf, requestMAC, err = dns.TsigGenerate(m, c.secret, "", false)
		}
	}
	if err != nil {
		return nil, err
	}
	if _, err := co.Write(buf); err != nil {
		return nil, err
	}
	raw, err := co.ReadMsgHeader(nil)
	if err != nil {
		return nil, err
	}
	r := new(dns.Msg)
	if err := r.Unpack(raw); err != nil {
		return nil, err
	}
	if r.Id != m.Id {
		return r, fmt.Errorf("answer id %d, want %d", r.Id, m.Id)
	}
	if r.IsTsig() != nil {
		// miekg/dns's client refuses to verify any answer whose rcode is
		// NOTAUTH, so the MAC is checked here.
		err = verifyAnswerMAC(raw, c.secret, c.alg, requestMAC)
	}
	return r, err
}

type md5Provider string

func (p md5Provider) Generate(msg []byte, _ *dns.TSIG) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(string(p))
	if err != nil {
		return nil, err
	}
	h := hmac.New(md5.New, raw)
	h.Write(msg)
	return h.Sum(nil), nil
}

func (p md5Provider) Verify(msg []byte, t *dns.TSIG) error {
	b, err := p.Generate(msg, t)
	if err != nil {
		return err
	}
	if hex.EncodeToString(b) != t.MAC {
		return dns.ErrSig
	}
	return nil
}

// verifyAnswerMAC checks the MAC of a signed answer on its wire bytes
// (RFC 8945 §4.3), independently of miekg/dns's verification, whose client
// refuses any answer whose rcode is NOTAUTH (dns.ErrAuth).
func verifyAnswerMAC(raw []byte, secret, alg, requestMAC string) error {
	var dh struct{ qd, an, ns, ar int }
	if len(raw) < 12 {
		return errors.New("short answer")
	}
	dh.qd, dh.an, dh.ns, dh.ar = int(binary.BigEndian.Uint16(raw[4:])), int(binary.BigEndian.Uint16(raw[6:])), int(binary.BigEndian.Uint16(raw[8:])), int(binary.BigEndian.Uint16(raw[10:]))
	off := 12
	for range dh.qd {
		_, o, err := dns.UnpackDomainName(raw, off)
		if err != nil {
			return err
		}
		off = o + 4
	}
	for range dh.an + dh.ns + dh.ar - 1 {
		_, o, err := dns.UnpackRR(raw, off)
		if err != nil {
			return err
		}
		off = o
	}
	last, _, err := dns.UnpackRR(raw, off)
	if err != nil {
		return err
	}
	ts, ok := last.(*dns.TSIG)
	if !ok {
		return errors.New("last record is not TSIG")
	}
	stripped := append([]byte(nil), raw[:off]...)
	binary.BigEndian.PutUint16(stripped[0:], ts.OrigId)
	binary.BigEndian.PutUint16(stripped[10:], uint16(dh.ar-1))

	var in []byte
	reqMAC, _ := hex.DecodeString(requestMAC)
	in = binary.BigEndian.AppendUint16(in, uint16(len(reqMAC)))
	in = append(in, reqMAC...)
	in = append(in, stripped...)
	name := make([]byte, 256)
	n, _ := dns.PackDomainName(dns.CanonicalName(ts.Hdr.Name), name, 0, nil, false)
	in = append(in, name[:n]...)
	in = binary.BigEndian.AppendUint16(in, dns.ClassANY)
	in = binary.BigEndian.AppendUint32(in, 0)
	n, _ = dns.PackDomainName(dns.CanonicalName(ts.Algorithm), name, 0, nil, false)
	in = append(in, name[:n]...)
	in = append(in, byte(ts.TimeSigned>>40), byte(ts.TimeSigned>>32), byte(ts.TimeSigned>>24), byte(ts.TimeSigned>>16), byte(ts.TimeSigned>>8), byte(ts.TimeSigned))
	in = binary.BigEndian.AppendUint16(in, ts.Fudge)
	in = binary.BigEndian.AppendUint16(in, ts.Error)
	in = binary.BigEndian.AppendUint16(in, ts.OtherLen)
	other, _ := hex.DecodeString(ts.OtherData)
	in = append(in, other...)

	key, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return err
	}
	newHash := sha256.New
	if dns.CanonicalName(alg) == dns.HmacSHA512 {
		newHash = sha512.New
	}
	h := hmac.New(newHash, key)
	h.Write(in)
	if hex.EncodeToString(h.Sum(nil)) != ts.MAC {
		return dns.ErrSig
	}
	return nil
}

func rr(t testing.TB, s string) dns.RR {
	t.Helper()
	r, err := dns.NewRR(s)
	if err != nil {
		t.Fatalf("NewRR(%q): %v", s, err)
	}
	return r
}

func rrs(t testing.TB, ss ...string) []dns.RR {
	out := make([]dns.RR, len(ss))
	for i, s := range ss {
		out[i] = rr(t, s)
	}
	return out
}

func anyRR(name string, typ uint16, class uint16) dns.RR {
	return &dns.ANY{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: typ, Class: class}}
}

func update(zone string) *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	return m
}

func owned(name, typ, content string, ttl int) provider.Record {
	return provider.Record{Name: name, Type: typ, Content: content, TTL: ttl, Comment: OwnerComment(testCluster, "team-a")}
}

func foreign(name, typ, content string) provider.Record {
	return provider.Record{Name: name, Type: typ, Content: content, TTL: 300, Comment: "written by hand"}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
