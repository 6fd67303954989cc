package cloudflare_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/budget"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

// arrivals records when each request reached the simulator and how many got
// a 429.
type arrivals struct {
	next    http.Handler
	mu      sync.Mutex
	at      []time.Time
	tooMany int
}

func (a *arrivals) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.at = append(a.at, time.Now())
	a.mu.Unlock()
	rec := &codeRecorder{ResponseWriter: w}
	a.next.ServeHTTP(rec, r)
	if rec.code == http.StatusTooManyRequests {
		a.mu.Lock()
		a.tooMany++
		a.mu.Unlock()
	}
}

// maxIn is the most arrivals in any window.
func (a *arrivals) maxIn(window time.Duration) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	most, lo := 0, 0
	for hi := range a.at {
		for a.at[hi].Sub(a.at[lo]) >= window {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
}

type codeRecorder struct {
	http.ResponseWriter
	code int
}

func (c *codeRecorder) WriteHeader(code int) { c.code = code; c.ResponseWriter.WriteHeader(code) }

// TestReplicasTogetherStayWithinTheLimit: two replicas of the manager, each
// with its own limiters (two processes; here two base URLs of one simulator,
// which the registry keeps apart), send as much as they are let: the leader
// reconciles and serves gateway tenants, the other serves gateway tenants
// only. The provider never sees more than its limit in a window.
func TestReplicasTogetherStayWithinTheLimit(t *testing.T) {
	const limit, window = 40, time.Second
	s, err := sim.New(sim.Config{Zones: []string{"example.com"}, MasterToken: masterToken})
	if err != nil {
		t.Fatal(err)
	}
	s.SetRateLimit(limit, window)
	meter := &arrivals{next: s}
	hs := httptest.NewServer(meter)
	t.Cleanup(hs.Close)
	replica := func(baseURL string) *cloudflare.Provider {
		p, err := cloudflare.New(cloudflare.Options{
			AccountID: s.AccountID(), APIToken: masterToken, BaseURL: baseURL, HTTPClient: hs.Client(),
			RateLimit: limit, RateWindow: window, GatewayShare: 0.5, GatewayReplicas: 2,
			MaxRateLimitWait: 2 * window, MaxRetries: -1,
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	leader := replica(hs.URL + "/client/v4/")
	other := replica(strings.Replace(hs.URL, "127.0.0.1", "localhost", 1) + "/client/v4/")
	zoneID := s.ZoneID("example.com")

	ctx, cancel := context.WithTimeout(context.Background(), 3*window)
	defer cancel()
	var wg sync.WaitGroup
	hammer := func(p *cloudflare.Provider, tenant string) {
		defer wg.Done()
		c := ctx
		if tenant != "" {
			c = budget.WithTenant(ctx, &budget.Tab{Tenant: tenant})
		}
		for ctx.Err() == nil {
			_, err := p.Records(c, zoneID, provider.RecordFilter{Name: "x.example.com"})
			if _, limited := provider.IsRateLimited(err); err != nil && !limited && ctx.Err() == nil {
				t.Errorf("records list: %v", err)
				return
			}
		}
	}
	for i := range 4 {
		wg.Add(3)
		go hammer(leader, "")                            // reconciles
		go hammer(leader, "tenant-"+string(rune('a'+i))) // gateway on the leader
		go hammer(other, "tenant-"+string(rune('a'+i)))  // gateway on the other replica
	}
	wg.Wait()
	most := meter.maxIn(window)
	if meter.tooMany != 0 || most > limit {
		t.Fatalf("the provider saw up to %d requests in a window and answered %d with 429; the limit is %d", most, meter.tooMany, limit)
	}
	if most < limit*3/4 {
		t.Fatalf("at most %d requests in a window: the replicas did not use their budget, so this proves nothing", most)
	}
}
