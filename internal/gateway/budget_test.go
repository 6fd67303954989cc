package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

const simToken = "gateway-budget-test-master-token"

// countingHandler records the status of every request that reaches the
// simulator.
type countingHandler struct {
	next http.Handler
	mu   sync.Mutex
	sent int
	rate int // 429 answers
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	c.next.ServeHTTP(rec, r)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent++
	if rec.code == http.StatusTooManyRequests {
		c.rate++
	}
}

func (c *countingHandler) counts() (sent, tooMany int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sent, c.rate
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) { s.code = code; s.ResponseWriter.WriteHeader(code) }

// TestOneKeyFloodingLeavesOthersTheirBudget: the master token allows 40
// requests a minute, half of them the front doors'. team-a floods UPDATEs one
// after the other, each a batch of its own; it gets REFUSED once it used its
// slice,
// while team-b's UPDATE and a reconcile's calls (no tenant) still go through,
// and the provider never answers 429.
func TestOneKeyFloodingLeavesOthersTheirBudget(t *testing.T) {
	s, err := sim.New(sim.Config{Zones: []string{testZone}, MasterToken: simToken})
	if err != nil {
		t.Fatal(err)
	}
	const limit = 40
	s.SetRateLimit(limit, time.Minute)
	counter := &countingHandler{next: s}
	hs := httptest.NewServer(counter)
	t.Cleanup(hs.Close)
	p, err := cloudflare.New(cloudflare.Options{
		AccountID: s.AccountID(), APIToken: simToken, BaseURL: hs.URL + "/client/v4/", HTTPClient: hs.Client(),
		RateLimit: limit, RateWindow: time.Minute, GatewayShare: 0.5, GatewayReplicas: 1,
		MaxRateLimitWait: 50 * time.Millisecond, MaxRetries: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	zoneID := s.ZoneID(testZone)
	logs := &syncBuffer{}
	keys := NewKeyStore(teamAKey(zoneID), Key{
		Name: keyB, Algorithm: "HMACSHA512", Secrets: []string{secretB}, Namespace: "team-b", Scope: "prod",
		Zones: map[string]string{testZone: zoneID}, Grants: map[Grant]int32{{Name: otherName, Type: "TXT"}: 0},
	})
	// The front doors' writer gets the gateway's half of the budget, 20
	// requests a minute, and divides it between tenants.
	zw, err := zonewriter.New(zonewriter.Options{
		Providers:     zonewriter.ProvidersFunc(func(context.Context, string) (zonewriter.Provider, error) { return p, nil }),
		RequestBudget: limit / 2, BudgetWindow: time.Minute, PaceBurst: limit/2 - 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{
		Addr: "127.0.0.1:0", Keys: keys, ClusterName: testCluster, RatePerKey: -1,
		ZoneWriter: zw,
		Logger:     slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, srv)

	add := func(name, value string) *dns.Msg {
		m := update(testZone)
		m.Insert(rrs(t, fmt.Sprintf("%s. 120 IN TXT %s", name, value)))
		return m
	}
	var flood []int
	for i := range 30 {
		r, err := exchange(srv.Addr(), "udp", asTeamA, add(acmeName, fmt.Sprintf("flood-%d", i)))
		if err != nil {
			t.Fatalf("flood update %d: %v", i, err)
		}
		flood = append(flood, r.Rcode)
	}
	refusedAt := -1
	for i, rc := range flood {
		if rc == dns.RcodeRefused && refusedAt < 0 {
			refusedAt = i
		}
		if refusedAt >= 0 && rc != dns.RcodeRefused {
			t.Fatalf("flood update %d: %s after the key was refused", i, dns.RcodeToString[rc])
		}
		if refusedAt < 0 && rc != dns.RcodeSuccess {
			t.Fatalf("flood update %d: %s before the key used its share", i, dns.RcodeToString[rc])
		}
	}
	if refusedAt < 0 {
		t.Fatalf("the flooding key was never refused: %v", flood)
	}
	if !strings.Contains(logs.String(), "provider budget") {
		t.Fatalf("no audit line says the budget refused the key:\n%s", logs.String())
	}

	r, err := exchange(srv.Addr(), "udp", asTeamB, add(otherName, "team-b"))
	if err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("team-b's update during the flood: %v %v", r, err)
	}
	// A reconcile: no tenant in its context, paced on the reserve.
	ctx := context.Background()
	if _, err := p.Records(ctx, zoneID, provider.RecordFilter{}); err != nil {
		t.Fatalf("a reconcile's list during the flood: %v", err)
	}
	if _, err := p.ApplyChanges(ctx, zoneID, provider.Changes{Create: []provider.Record{{
		Name: "reconciled." + testZone, Type: "A", Content: "192.0.2.1", TTL: 300,
	}}}); err != nil {
		t.Fatalf("a reconcile's write during the flood: %v", err)
	}
	sent, tooMany := counter.counts()
	if tooMany != 0 || sent > limit {
		t.Fatalf("the provider saw %d requests and answered %d with 429; the limit is %d", sent, tooMany, limit)
	}
}
