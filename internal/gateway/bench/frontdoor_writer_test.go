package bench

import (
	"context"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/gateway"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// withZoneWriter gives the gateway the zone writer the manager builds: the
// front doors' share of the budget (budget requests per window), divided
// between tenants and paced over the window.
func withZoneWriter(t *testing.T, o *gateway.Options, p zonewriter.Provider, budget int, window time.Duration) {
	t.Helper()
	zw, err := zonewriter.New(zonewriter.Options{
		Providers:     zonewriter.ProvidersFunc(func(context.Context, string) (zonewriter.Provider, error) { return p, nil }),
		RequestBudget: budget, BudgetWindow: window,
		// One: the pace's burst and 10 s of its rate (19 requests) stay
		// within the 20 the client lets the gateway send in 10 s.
		PaceBurst: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	o.ZoneWriter = zw
}
