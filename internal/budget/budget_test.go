package budget

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSplit(t *testing.T) {
	cases := map[string]struct {
		limit    int
		share    float64
		replicas int
		want     Shares
	}{
		"no gateway share leaves everything to one limiter": {1200, 0, 3, Shares{Process: 1200}},
		"half for the gateway on one replica":               {1200, 0.5, 1, Shares{Process: 1200, Gateway: 600}},
		"half for the gateway on two replicas":              {1200, 0.5, 2, Shares{Process: 900, Gateway: 300}},
		"shares round down so the sum stays under":          {1200, 0.5, 7, Shares{Process: 685, Gateway: 85}},
		"a share above 1 is all of it":                      {100, 2, 1, Shares{Process: 100, Gateway: 100}},
		"zero replicas count as one":                        {100, 0.5, 0, Shares{Process: 100, Gateway: 50}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := Split(c.limit, c.share, c.replicas)
			if got != c.want {
				t.Fatalf("Split(%d, %v, %d) = %+v, want %+v", c.limit, c.share, c.replicas, got, c.want)
			}
			// What every replica may send, with one of them leading: the
			// leader's Process limit, and the gateway part of the others.
			n := max(c.replicas, 1)
			if sum := got.Process + (n-1)*got.Gateway; sum > c.limit {
				t.Fatalf("replicas together may send %d, above the limit %d", sum, c.limit)
			}
		})
	}
}

func TestFairFloodingTenantLeavesRoomForOthers(t *testing.T) {
	now := time.Unix(1000, 0)
	f := NewFair(600, 5*time.Minute)
	flooded := 0
	for range 10_000 {
		if f.Charge("flood", now) {
			flooded++
		}
	}
	if flooded != 300 {
		t.Fatalf("a lone tenant got %d requests, want 300 (half: a slice stays free)", flooded)
	}
	// Another tenant still gets its allowance: 600 / (2 active + 1).
	got := 0
	for range 1000 {
		if f.Charge("quiet", now) {
			got++
		}
	}
	if got != 200 {
		t.Fatalf("the second tenant got %d requests, want 200", got)
	}
	// A third is still let in at once: the flooder is over the new allowance.
	if !f.Charge("third", now) {
		t.Fatal("a third tenant was refused")
	}
	if f.Charge("flood", now) {
		t.Fatal("the flooding tenant was let in above its shrunk allowance")
	}
}

func TestFairWindowSlides(t *testing.T) {
	start := time.Unix(1000, 0)
	f := NewFair(10, time.Minute)
	for range 5 {
		if !f.Charge("a", start) {
			t.Fatal("refused within the allowance")
		}
	}
	if f.Charge("a", start.Add(59*time.Second)) {
		t.Fatal("let in above the allowance inside the window")
	}
	if !f.Charge("a", start.Add(time.Minute)) {
		t.Fatal("refused after the window slid past the first requests")
	}
	if n := f.Tenants(start.Add(3 * time.Minute)); n != 0 {
		t.Fatalf("%d tenants remembered after their requests left the window", n)
	}
	if len(f.log) != 0 || len(f.tenants) != 0 {
		t.Fatalf("memory kept after the window: %d charges, %d tenants", len(f.log), len(f.tenants))
	}
}

func TestFairMemoryIsBoundedByTheWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	f := NewFair(100, time.Second)
	for i := range 100_000 {
		now = now.Add(time.Millisecond)
		f.Charge(string(rune('a'+i%1000)), now)
	}
	if live := len(f.log) - f.head; live > 1000 {
		t.Fatalf("%d charges kept for a window of a second", live)
	}
	if len(f.tenants) > 1000 {
		t.Fatalf("%d tenants kept", len(f.tenants))
	}
}

func TestTabRecordsRefusal(t *testing.T) {
	now := time.Unix(1000, 0)
	f := NewFair(2, time.Minute)
	tab := &Tab{Tenant: "team-a"}
	ctx := WithTenant(context.Background(), tab)
	if TabFrom(ctx) != tab || TabFrom(context.Background()) != nil {
		t.Fatal("the context does not carry the tab")
	}
	if err := tab.Charge(f, now); err != nil {
		t.Fatalf("first charge: %v", err)
	}
	err := tab.Charge(f, now)
	var over *OverShareError
	if !errors.As(err, &over) || over.Tenant != "team-a" {
		t.Fatalf("second charge: %v, want an OverShareError for team-a", err)
	}
	if !tab.Refused() || tab.Sent() != 1 {
		t.Fatalf("tab: refused %v, sent %d; want true, 1", tab.Refused(), tab.Sent())
	}
}
