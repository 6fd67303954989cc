package externaldns

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/pkg/apis/externaldns"
	edprovider "sigs.k8s.io/external-dns/provider"
	"sigs.k8s.io/external-dns/provider/rfc2136"

	"github.com/scopedns/scopedns/internal/gateway"
	"github.com/scopedns/scopedns/internal/provider"
)

const teamAKeyName = "team-a.prod.scopedns."

var teamASecret = base64.StdEncoding.EncodeToString([]byte("team-a's 32-byte TSIG secret....."))

// teamAKey is the gateway key of namespace team-a, as the operator builds it
// from the namespace's claims: its endpoints' names and the TXT registry's
// names beside them.
func teamAKey(zoneID string) gateway.Key {
	grants := map[gateway.Grant]int32{}
	for _, n := range []string{webA, apiA} {
		for _, typ := range []string{"A", "AAAA", "CNAME"} {
			grants[gateway.Grant{Name: n, Type: typ}] = 3600
			grants[gateway.Grant{Name: registryName(n, typ), Type: "TXT"}] = 3600
		}
	}
	return gateway.Key{
		Name: teamAKeyName, Algorithm: dns.HmacSHA256, Secrets: []string{teamASecret},
		Namespace: "team-a", Scope: scope,
		Zones:  map[string]string{zone: zoneID},
		Grants: grants,
	}
}

// gatewayFixture is scopedns's RFC 2136 gateway on loopback UDP and TCP,
// writing through scopedns's Cloudflare provider with the master token to
// the suite's simulator, as the operator runs it; it keeps the audit log.
type gatewayFixture struct {
	keys *gateway.KeyStore
	addr string
	logs syncBuffer
}

func startGateway(t *testing.T, s *suite) *gatewayFixture {
	t.Helper()
	master := s.master(t)
	g := &gatewayFixture{keys: gateway.NewKeyStore(teamAKey(s.sim.ZoneID(zone)))}
	srv, err := gateway.New(gateway.Options{
		Addr: "127.0.0.1:0",
		Keys: g.keys,
		Writers: gateway.WritersFunc(func(_ context.Context, sc string) (gateway.Writer, error) {
			if sc != scope {
				return nil, fmt.Errorf("no scope %q", sc)
			}
			return master, nil
		}),
		ClusterName: cluster,
		Logger:      slog.New(slog.NewJSONHandler(&g.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	select {
	case <-srv.Ready():
	case err := <-done:
		cancel()
		t.Fatalf("gateway Start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("the gateway did not start")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway Start returned %v", err)
		}
	})
	g.addr = srv.Addr()
	return g
}

// auditLine is one line of the gateway's audit log.
type auditLine struct {
	Msg, Result, Reason string
	Key, Namespace      string
	Names               []string
}

func (g *gatewayFixture) audit(t *testing.T) []auditLine {
	t.Helper()
	var out []auditLine
	sc := bufio.NewScanner(bytes.NewReader(g.logs.Bytes()))
	for sc.Scan() {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if l.Result != "" {
			out = append(out, l)
		}
	}
	return out
}

// rfc2136Config is external-dns's configuration for the RFC 2136 provider
// with the values of team-a's credentials Secret: --rfc2136-host,
// --rfc2136-port, --rfc2136-zone, --rfc2136-tsig-keyname,
// --rfc2136-tsig-secret, --rfc2136-tsig-secret-alg=hmac-sha256,
// --rfc2136-tsig-axfr, and --rfc2136-batch-change-size=1 so that one
// refused name does not take the rest of its batch with it.
func rfc2136Config(t *testing.T, addr, keyName, secret string) *externaldns.Config {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig("team-a")
	cfg.Provider = "rfc2136"
	cfg.RFC2136Host = []string{host}
	cfg.RFC2136Port = p
	cfg.RFC2136Zone = []string{zone}
	cfg.RFC2136TSIGKeyName = strings.TrimSuffix(keyName, ".")
	cfg.RFC2136TSIGSecret = secret
	cfg.RFC2136TSIGSecretAlg = "hmac-sha256"
	cfg.RFC2136AXFR = true
	cfg.RFC2136BatchChangeSize = 1
	cfg.RFC2136LoadBalancingStrategy = "disabled"
	return cfg
}

func newRFC2136(t *testing.T, cfg *externaldns.Config) edprovider.Provider {
	t.Helper()
	p, err := rfc2136.New(context.Background(), cfg, endpoint.NewDomainFilter(cfg.DomainFilter))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func a(name string, ttl int, ips ...string) *endpoint.Endpoint {
	return endpoint.NewEndpointWithTTL(name, endpoint.RecordTypeA, endpoint.TTL(ttl), ips...)
}

func cname(name, target string) *endpoint.Endpoint {
	return endpoint.NewEndpointWithTTL(name, endpoint.RecordTypeCNAME, 300, target)
}

// TestExternalDNSRFC2136SyncsANamespacesEndpoints: external-dns with team-a's
// key creates, updates and deletes team-a's endpoints. Updates and deletes
// need the current records, which the provider reads by AXFR: without the
// gateway's transfers an update would add a second address beside the old
// one and a delete would never happen.
func TestExternalDNSRFC2136SyncsANamespacesEndpoints(t *testing.T) {
	s := newSuite(t)
	s.seed(t,
		provider.Record{Name: webB, Type: "A", Content: "198.51.100.7", TTL: 300, Comment: gateway.OwnerComment(cluster, "team-b")},
		provider.Record{Name: otherWeb, Type: "A", Content: "198.51.100.8", TTL: 300, Comment: "by hand"},
	)
	g := startGateway(t, s)
	cfg := rfc2136Config(t, g.addr, teamAKeyName, teamASecret)
	p := newRFC2136(t, cfg)
	ctx := context.Background()
	owner := gateway.OwnerComment(cluster, "team-a")

	if err := syncOnce(ctx, t, cfg, p, a(webA, 300, "192.0.2.10"), cname(apiA, webA)); err != nil {
		t.Fatalf("first sync: %v", err)
	}
	// The TXT registry's records, as the gateway stored them (one string,
	// so without zone-file quotes), beside the endpoints.
	registered := "TXT heritage=external-dns,external-dns/owner=team-a " + owner
	want := []string{
		registryName(webA, "A") + " " + registered,
		apiA + " CNAME " + webA + " " + owner,
		registryName(apiA, "CNAME") + " " + registered,
		webA + " A 192.0.2.10 " + owner,
	}
	if got := s.stored(webA, apiA, registryName(webA, "A"), registryName(apiA, "CNAME")); !slices.Equal(got, want) {
		t.Fatalf("after the first sync the simulator holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := s.lookup(t, webA, dns.TypeA); !slices.Equal(got, []string{"192.0.2.10"}) {
		t.Fatalf("DNS answers %v for %s A", got, webA)
	}

	// What external-dns lists through the gateway's AXFR: team-a's records
	// and nothing of team-b's or anyone else's.
	listed, err := p.Records(ctx)
	if err != nil {
		t.Fatalf("external-dns's listing: %v", err)
	}
	var names []string
	for _, e := range listed {
		names = append(names, e.DNSName+" "+e.RecordType)
	}
	slices.Sort(names)
	if wantNames := []string{
		registryName(webA, "A") + " TXT", apiA + " CNAME", registryName(apiA, "CNAME") + " TXT", webA + " A",
	}; !slices.Equal(names, wantNames) {
		t.Fatalf("external-dns lists %v, want %v", names, wantNames)
	}

	if err := syncOnce(ctx, t, cfg, p, a(webA, 300, "192.0.2.20")); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if got := s.stored(webA, apiA, registryName(apiA, "CNAME")); !slices.Equal(got, []string{webA + " A 192.0.2.20 " + owner}) {
		t.Fatalf("after the update and the delete the simulator holds %v, want only %s at 192.0.2.20", got, webA)
	}
	if got := s.lookup(t, webA, dns.TypeA); !slices.Equal(got, []string{"192.0.2.20"}) {
		t.Fatalf("DNS answers %v for %s A after the update", got, webA)
	}
	if got := s.lookup(t, apiA, dns.TypeCNAME); len(got) != 0 {
		t.Fatalf("DNS still answers %v for %s CNAME after the delete", got, apiA)
	}

	// A third sync with nothing to change sends no UPDATE at all: the plan,
	// from the AXFR, already matches.
	before := len(g.audit(t))
	if err := syncOnce(ctx, t, cfg, p, a(webA, 300, "192.0.2.20")); err != nil {
		t.Fatalf("third sync: %v", err)
	}
	for _, l := range g.audit(t)[before:] {
		if l.Msg != "rfc2136 transfer" {
			t.Errorf("a sync with nothing to change sent %s %v", l.Msg, l.Names)
		}
	}
	if got := s.stored(webB, otherWeb); len(got) != 2 {
		t.Fatalf("the other names' records changed: %v", got)
	}
}

// TestExternalDNSRFC2136IsRefusedAnotherNamespacesName: team-a's external-dns
// also asked for team-b's name. The gateway refuses that create, the sync
// says so, team-b's record is untouched, and team-a's own endpoint lands.
func TestExternalDNSRFC2136IsRefusedAnotherNamespacesName(t *testing.T) {
	s := newSuite(t)
	teamB := gateway.OwnerComment(cluster, "team-b")
	s.seed(t, provider.Record{Name: webB, Type: "A", Content: "198.51.100.7", TTL: 300, Comment: teamB})
	g := startGateway(t, s)
	cfg := rfc2136Config(t, g.addr, teamAKeyName, teamASecret)
	p := newRFC2136(t, cfg)

	err := syncOnce(context.Background(), t, cfg, p, a(webA, 300, "192.0.2.10"), a(webB, 300, "192.0.2.66"))
	if err == nil {
		t.Fatal("the sync with another namespace's name reported no error")
	}
	if got := s.stored(webA); !slices.Equal(got, []string{webA + " A 192.0.2.10 " + gateway.OwnerComment(cluster, "team-a")}) {
		t.Fatalf("team-a's own endpoint did not land beside the refused one: %v", got)
	}
	if got := s.stored(webB, registryName(webB, "A")); !slices.Equal(got, []string{webB + " A 198.51.100.7 " + teamB}) {
		t.Fatalf("team-b's name holds %v after team-a's attempt", got)
	}
	if got := s.lookup(t, webB, dns.TypeA); !slices.Equal(got, []string{"198.51.100.7"}) {
		t.Fatalf("DNS answers %v for %s A", got, webB)
	}
	refused := false
	for _, l := range g.audit(t) {
		if l.Msg == "rfc2136 update" && l.Result == "REFUSED" && slices.Contains(l.Names, webB) {
			refused = true
		}
	}
	if !refused {
		t.Fatalf("no audit line shows the update of %s refused:\n%s", webB, g.logs.String())
	}
}

// TestExternalDNSRFC2136WithARevokedKeyFails: once the operator removes
// team-a's key (the namespace's last claim went, or the scope stopped
// selecting it), external-dns can neither list nor write.
func TestExternalDNSRFC2136WithARevokedKeyFails(t *testing.T) {
	s := newSuite(t)
	g := startGateway(t, s)
	cfg := rfc2136Config(t, g.addr, teamAKeyName, teamASecret)
	p := newRFC2136(t, cfg)
	ctx := context.Background()
	if err := syncOnce(ctx, t, cfg, p, a(webA, 300, "192.0.2.10")); err != nil {
		t.Fatalf("sync with the key: %v", err)
	}
	g.keys.Delete(teamAKeyName)

	if _, err := p.Records(ctx); err == nil {
		t.Fatal("external-dns listed the zone with a revoked key")
	}
	if err := syncOnce(ctx, t, cfg, p, a(webA, 300, "192.0.2.99")); err == nil {
		t.Fatal("a sync with a revoked key reported no error")
	}
	// Without a listing, a sync plans creates only; those are refused too.
	cfg.RFC2136AXFR = false
	if err := syncOnce(ctx, t, cfg, newRFC2136(t, cfg), a(apiA, 300, "192.0.2.98")); err == nil {
		t.Fatal("a create with a revoked key reported no error")
	}
	if got := s.stored(webA, apiA); !slices.Equal(got, []string{webA + " A 192.0.2.10 " + gateway.OwnerComment(cluster, "team-a")}) {
		t.Fatalf("a revoked key changed the records: %v", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

func (s *syncBuffer) String() string { return string(s.Bytes()) }
