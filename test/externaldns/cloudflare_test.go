package externaldns

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/pkg/apis/externaldns"
	edprovider "sigs.k8s.io/external-dns/provider"
	edcloudflare "sigs.k8s.io/external-dns/provider/cloudflare"

	"github.com/scopedns/scopedns/internal/cfapi"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// Tokens of the Cloudflare-compatible front door (40 characters of
// Cloudflare's alphabet, as frontcreds draws them).
const (
	cfTokenA = "TokenOfTeamA0123456789abcdefghijklmnopqr"
	cfTokenB = "TokenOfTeamB0123456789abcdefghijklmnopqr"
)

// cfToken is a namespace's token, granted its endpoints' names (A, AAAA,
// CNAME) and the TXT registry's names beside them, as the operator derives
// it from the namespace's reservations.
func cfToken(ns, value, zoneID string, names ...string) cfapi.Token {
	grants := map[zonewriter.Grant]int32{}
	for _, n := range names {
		for _, typ := range []string{"A", "AAAA", "CNAME"} {
			grants[zonewriter.Grant{Name: n, Type: typ}] = 3600
			grants[zonewriter.Grant{Name: registryName(n, typ), Type: "TXT"}] = 3600
		}
	}
	return cfapi.Token{
		ID: strings.Repeat(ns[len(ns)-1:], 32), Values: []string{value},
		Tenant: zonewriter.Tenant{Namespace: ns, Scope: scope, Owner: zonewriter.OwnerComment(cluster, ns), Grants: grants},
		Zones:  []cfapi.Zone{{ID: zoneID, Name: zone}},
	}
}

// frontDoor is scopedns's Cloudflare-compatible API on loopback, writing
// through the zone writer and scopedns's Cloudflare provider with the master
// token to the suite's simulator, as the operator runs it.
type frontDoor struct {
	url    string
	tokens *cfapi.TokenStore
	logs   *syncBuffer
	served atomic.Int64 // requests the front door answered
}

// requests is how many requests the front door answered.
func (fd *frontDoor) requests() int { return int(fd.served.Load()) }

func startFrontDoor(t testing.TB, s *suite, tokens ...cfapi.Token) *frontDoor {
	t.Helper()
	master := s.master(t)
	w, err := zonewriter.New(zonewriter.Options{Providers: zonewriter.ProvidersFunc(func(_ context.Context, sc string) (zonewriter.Provider, error) {
		return master, nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	fd := &frontDoor{tokens: cfapi.NewTokenStore(tokens...), logs: &syncBuffer{}}
	h, err := cfapi.New(cfapi.Options{Tokens: fd.tokens, Writer: w, Logger: slog.New(slog.NewJSONHandler(fd.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(cfapi.Prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fd.served.Add(1)
		h.ServeHTTP(w, r)
	}))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	fd.url = ts.URL + "/client/v4"
	return fd
}

// newCloudflare is external-dns's Cloudflare provider as `--provider=
// cloudflare` builds it, with CF_API_TOKEN and CLOUDFLARE_BASE_URL in its
// environment (read once, when it is built).
func newCloudflare(t testing.TB, baseURL, token string, cfg *externaldns.Config) edprovider.Provider {
	t.Helper()
	t.Setenv("CF_API_TOKEN", token)
	t.Setenv("CLOUDFLARE_BASE_URL", baseURL)
	p, err := edcloudflare.New(context.Background(), cfg, endpoint.NewDomainFilter(cfg.DomainFilter))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExternalDNSCloudflareSyncsANamespacesEndpoints: external-dns's
// Cloudflare provider, pointed at the front door with team-a's token,
// creates, updates and deletes team-a's endpoints and its TXT registry
// records, lists only team-a's records, and never touches team-b's or
// anyone else's.
func TestExternalDNSCloudflareSyncsANamespacesEndpoints(t *testing.T) {
	s := newSuite(t)
	teamB := zonewriter.OwnerComment(cluster, "team-b")
	s.seed(t,
		provider.Record{Name: webB, Type: "A", Content: "198.51.100.7", TTL: 300, Comment: teamB},
		provider.Record{Name: otherWeb, Type: "A", Content: "198.51.100.8", TTL: 300, Comment: "by hand"},
	)
	zoneID := s.sim.ZoneID(zone)
	fd := startFrontDoor(t, s, cfToken("team-a", cfTokenA, zoneID, webA, apiA), cfToken("team-b", cfTokenB, zoneID, webB))
	cfg := baseConfig("team-a")
	p := newCloudflare(t, fd.url, cfTokenA, cfg)
	ctx := context.Background()
	owner := zonewriter.OwnerComment(cluster, "team-a")

	if err := syncOnce(ctx, t, cfg, p, a(webA, 300, "192.0.2.10"), cname(apiA, webA)); err != nil {
		t.Fatalf("first sync: %v\naudit:\n%s", err, fd.logs.String())
	}
	registered := `TXT "heritage=external-dns,external-dns/owner=team-a" ` + owner
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
		t.Fatalf("external-dns lists %v, want only team-a's %v", names, wantNames)
	}

	if err := syncOnce(ctx, t, cfg, p, a(webA, 300, "192.0.2.20")); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if got := s.stored(webA, apiA, registryName(apiA, "CNAME")); !slices.Equal(got, []string{webA + " A 192.0.2.20 " + owner}) {
		t.Fatalf("after the update and the delete the simulator holds %v, want only %s at 192.0.2.20", got, webA)
	}

	// A sync with nothing to change writes nothing.
	batches := s.sim.Requests()["dns_records.batch"]
	if err := syncOnce(ctx, t, cfg, p, a(webA, 300, "192.0.2.20")); err != nil {
		t.Fatalf("third sync: %v", err)
	}
	if got := s.sim.Requests()["dns_records.batch"]; got != batches {
		t.Fatalf("a sync with nothing to change sent %d provider batches", got-batches)
	}
	if got := s.stored(webB, otherWeb); len(got) != 2 {
		t.Fatalf("the other names' records changed: %v", got)
	}
}

// TestExternalDNSCloudflareIsRefusedAnotherNamespacesName: team-a's
// external-dns also asks for team-b's name. The front door refuses it (403),
// external-dns falls back to one change at a time, team-a's own endpoint
// lands and team-b's record is untouched.
func TestExternalDNSCloudflareIsRefusedAnotherNamespacesName(t *testing.T) {
	s := newSuite(t)
	teamB := zonewriter.OwnerComment(cluster, "team-b")
	s.seed(t, provider.Record{Name: webB, Type: "A", Content: "198.51.100.7", TTL: 300, Comment: teamB})
	zoneID := s.sim.ZoneID(zone)
	fd := startFrontDoor(t, s, cfToken("team-a", cfTokenA, zoneID, webA, apiA))
	cfg := baseConfig("team-a")
	p := newCloudflare(t, fd.url, cfTokenA, cfg)
	err := syncOnce(context.Background(), t, cfg, p, a(webA, 300, "192.0.2.10"), a(webB, 300, "192.0.2.66"))
	if err == nil {
		t.Fatal("the sync with another namespace's name reported no error")
	}
	if got := s.stored(webA); !slices.Equal(got, []string{webA + " A 192.0.2.10 " + zonewriter.OwnerComment(cluster, "team-a")}) {
		t.Fatalf("team-a's own endpoint did not land beside the refused one: %v\naudit:\n%s", got, fd.logs.String())
	}
	if got := s.stored(webB, registryName(webB, "A")); !slices.Equal(got, []string{webB + " A 198.51.100.7 " + teamB}) {
		t.Fatalf("team-b's name holds %v after team-a's attempt", got)
	}
	if !strings.Contains(fd.logs.String(), `"status":403`) {
		t.Fatalf("no audit line shows a 403:\n%s", fd.logs.String())
	}
}

// TestExternalDNSCloudflareWithARevokedTokenFails: once the operator takes
// team-a's token out of the front door, external-dns can neither list nor
// write.
func TestExternalDNSCloudflareWithARevokedTokenFails(t *testing.T) {
	s := newSuite(t)
	zoneID := s.sim.ZoneID(zone)
	fd := startFrontDoor(t, s, cfToken("team-a", cfTokenA, zoneID, webA))
	cfg := baseConfig("team-a")
	p := newCloudflare(t, fd.url, cfTokenA, cfg)
	ctx := context.Background()
	if err := syncOnce(ctx, t, cfg, p, a(webA, 300, "192.0.2.10")); err != nil {
		t.Fatalf("sync with the token: %v", err)
	}
	fd.tokens.Replace(nil)
	err := syncOnce(ctx, t, cfg, p, a(webA, 300, "192.0.2.99"))
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("sync with a revoked token: %v, want a 401", err)
	}
	if got := s.stored(webA); len(got) != 1 || !strings.Contains(got[0], "192.0.2.10") {
		t.Fatalf("the revoked token changed %s: %v", webA, got)
	}
}
