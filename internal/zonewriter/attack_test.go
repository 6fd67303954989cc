package zonewriter

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/memory"
)

// countingProvider counts the batches that reach the provider: each one
// waited its turn on the writer's pace.
type countingProvider struct {
	Provider
	batches *atomic.Int32
}

func (p countingProvider) ApplyChanges(ctx context.Context, zoneID string, c provider.Changes) (provider.ApplyResult, error) {
	p.batches.Add(1)
	return p.Provider.ApplyChanges(ctx, zoneID, c)
}

// A tenant sending content the provider refuses (a TXT longer than the
// provider takes, through RFC 2136) must be answered before its request
// joins a batch: in a batch it makes the provider refuse the whole batch,
// which is then split request by paced request to find it, stalling every
// other tenant of the zone and charging them for the split.
func TestContentTheProviderRefusesNeverJoinsABatch(t *testing.T) {
	store := memory.New(memory.Config{Zones: []string{testZone}})
	var batches atomic.Int32
	cp := countingProvider{Provider: store.Master(), batches: &batches}
	w, err := New(Options{Providers: ProvidersFunc(func(context.Context, string) (Provider, error) { return cp, nil })})
	if err != nil {
		t.Fatal(err)
	}
	name := "_acme-challenge.a.example.com"
	tn := tenant("team-a", Grant{Name: name, Type: "TXT"})
	long := strings.Repeat("x", provider.MaxTXTContentLength+1)
	for _, tc := range []struct {
		name string
		op   Op
	}{
		{"a TXT one byte longer than the provider takes", Op{Kind: Add, Name: name, Type: "TXT", Content: long}},
		{"the same kept among the newest", Op{Kind: AddKeepNewest, Name: name, Type: "TXT", Content: long, Keep: 2}},
		{"the same as a replacement", Op{Kind: Replace, Name: name, Type: "TXT", Values: []string{long}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := batches.Load()
			_, err := w.Write(context.Background(), Request{Tenant: tn, Zone: testZone, ZoneID: store.ZoneID(testZone), Ops: []Op{tc.op}})
			if codeOf(err) != Refused {
				t.Fatalf("err = %v (code %d), want Refused", err, codeOf(err))
			}
			if got := batches.Load() - before; got != 0 {
				t.Fatalf("%d batches sent for content the provider refuses, want none", got)
			}
		})
	}
}
