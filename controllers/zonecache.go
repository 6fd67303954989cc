package controllers

import (
	"context"
	"slices"
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
	fetched time.Time
	// The records by ID, indexed by normalised name and by owner comment:
	// every claim plans against the records at its names and those it
	// owns, and scanning the whole zone for each claim made convergence
	// quadratic (10,000 claims in a zone of 10,000 records).
	byID    map[string]provider.Record
	byName  map[string]map[string]bool // normalised name -> IDs
	byOwner map[string]map[string]bool // comment -> IDs
}

func (z *zoneSnapshot) reset(recs []provider.Record) {
	z.byID = make(map[string]provider.Record, len(recs))
	z.byName, z.byOwner = map[string]map[string]bool{}, map[string]map[string]bool{}
	for _, r := range recs {
		z.put(r)
	}
}

func (z *zoneSnapshot) put(r provider.Record) {
	if old, ok := z.byID[r.ID]; ok {
		z.drop(old)
	}
	if z.byID == nil {
		z.reset(nil)
	}
	z.byID[r.ID] = r
	addTo(z.byName, provider.NormalizeName(r.Name), r.ID)
	addTo(z.byOwner, r.Comment, r.ID)
}

func (z *zoneSnapshot) drop(r provider.Record) {
	delete(z.byID, r.ID)
	removeFrom(z.byName, provider.NormalizeName(r.Name), r.ID)
	removeFrom(z.byOwner, r.Comment, r.ID)
}

func addTo(m map[string]map[string]bool, k, id string) {
	if m[k] == nil {
		m[k] = map[string]bool{}
	}
	m[k][id] = true
}

func removeFrom(m map[string]map[string]bool, k, id string) {
	delete(m[k], id)
	if len(m[k]) == 0 {
		delete(m, k)
	}
}

// pick returns the records of ids, in ID order (plans are deterministic).
func (z *zoneSnapshot) pick(ids map[string]bool, out []provider.Record) []provider.Record {
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	slices.Sort(sorted)
	for _, id := range sorted {
		out = append(out, z.byID[id])
	}
	return out
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
	z.reset(recs)
	z.fetched = now
	return nil
}

// named returns the records at the given (normalised) names.
func (z *zoneSnapshot) named(names map[string]bool) []provider.Record {
	ids := map[string]bool{}
	for n := range names {
		for id := range z.byName[n] {
			ids[id] = true
		}
	}
	return z.pick(ids, nil)
}

// owned returns the records carrying the owner marker.
func (z *zoneSnapshot) owned(owner string) []provider.Record {
	return z.pick(z.byOwner[owner], nil)
}

// applied folds a successful (possibly partial) apply into the snapshot.
// A zone listed while the batch was in flight may hold the created records
// already; put replaces rather than adds twice.
func (z *zoneSnapshot) applied(res provider.ApplyResult) {
	for _, id := range res.Deleted {
		if r, ok := z.byID[id]; ok {
			z.drop(r)
		}
	}
	for _, r := range res.Updated {
		z.put(r)
	}
	for _, r := range res.Created {
		z.put(r)
	}
}

// invalidate forces the next load to list the zone again, after a failed
// write left the snapshot's truth in doubt.
func (z *zoneSnapshot) invalidate() { z.fetched = time.Time{} }
