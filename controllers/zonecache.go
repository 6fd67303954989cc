package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
)

// zoneRecords keeps one snapshot of each zone's records. Claims are planned
// against it, so the provider is listed once per zone and drift interval,
// not once per claim; writes the operator makes are folded into the snapshot
// from the provider's answer. Each zone has its own lock, held across plan
// and apply, so two claims never plan against a snapshot the other is changing.
type zoneRecords struct {
	mu    sync.Mutex
	zones map[string]*zoneSnapshot
}

type zoneSnapshot struct {
	mu      sync.Mutex
	records []provider.Record
	fetched time.Time
}

// lock returns the zone's snapshot locked; the caller unlocks it.
func (c *zoneRecords) lock(zoneID string) *zoneSnapshot {
	c.mu.Lock()
	if c.zones == nil {
		c.zones = map[string]*zoneSnapshot{}
	}
	z, ok := c.zones[zoneID]
	if !ok {
		z = &zoneSnapshot{}
		c.zones[zoneID] = z
	}
	c.mu.Unlock()
	z.mu.Lock()
	return z
}

// load refreshes the snapshot when it is older than maxAge.
func (z *zoneSnapshot) load(ctx context.Context, p provider.Provider, zoneID string, now time.Time, maxAge time.Duration) error {
	if !z.fetched.IsZero() && now.Sub(z.fetched) < maxAge {
		return nil
	}
	recs, err := p.Records(ctx, zoneID, provider.RecordFilter{})
	if err != nil {
		return err
	}
	z.records, z.fetched = recs, now
	return nil
}

// named returns the records at the given names.
func (z *zoneSnapshot) named(names map[string]bool) []provider.Record {
	var out []provider.Record
	for _, r := range z.records {
		if names[provider.NormalizeName(r.Name)] {
			out = append(out, r)
		}
	}
	return out
}

// owned returns the records carrying the owner marker.
func (z *zoneSnapshot) owned(owner string) []provider.Record {
	var out []provider.Record
	for _, r := range z.records {
		if r.Comment == owner {
			out = append(out, r)
		}
	}
	return out
}

// applied folds a successful (possibly partial) apply into the snapshot.
func (z *zoneSnapshot) applied(res provider.ApplyResult) {
	gone := map[string]bool{}
	for _, id := range res.Deleted {
		gone[id] = true
	}
	// A zone listed while the batch was in flight may hold the created
	// records already; replace rather than append twice.
	for _, r := range res.Created {
		gone[r.ID] = true
	}
	updated := map[string]provider.Record{}
	for _, r := range res.Updated {
		updated[r.ID] = r
	}
	kept := z.records[:0]
	for _, r := range z.records {
		if gone[r.ID] {
			continue
		}
		if u, ok := updated[r.ID]; ok {
			r = u
		}
		kept = append(kept, r)
	}
	z.records = append(kept, res.Created...)
}

// invalidate forces the next load to list the zone again, after a failed
// write left the snapshot's truth in doubt.
func (z *zoneSnapshot) invalidate() { z.fetched = time.Time{} }
