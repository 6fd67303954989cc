package zonewriter

import (
	"context"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
)

// record is one record of a zone snapshot.
type record struct {
	provider.Record
	// seq orders records by when the writer first saw them (AddKeepNewest).
	seq uint64
}

// zone is the snapshot of one zone: every record, listed once and then kept
// current by the writer's own batches, listed again when older than Refresh.
//
// A request reads and changes only the names it touches, holding their
// locks (Writer.lockNames) from planning until its batch settled; requests
// at other names of the zone plan meanwhile and join the next batch.
type zone struct {
	id string

	// Guarded by Writer.mu.
	byName   map[string][]*record
	fetched  time.Time     // zero: not loaded
	loading  chan struct{} // non-nil while a list is in flight; closed after
	inflight int           // requests planned and not yet settled
	quiet    chan struct{} // closed when inflight drops to 0
	seq      uint64
}

func newZone(id string) *zone {
	return &zone{id: id, byName: map[string][]*record{}}
}

// begin and end count a request from its plan to its settling: a listing
// waits for the zone to be quiet, or it could miss what is being written.
func (z *zone) begin() {
	if z.inflight == 0 {
		z.quiet = make(chan struct{})
	}
	z.inflight++
}

func (z *zone) end() {
	if z.inflight--; z.inflight == 0 {
		close(z.quiet)
	}
}

func (z *zone) put(r provider.Record) {
	z.seq++
	name := provider.NormalizeName(r.Name)
	z.byName[name] = append(z.byName[name], &record{Record: r, seq: z.seq})
}

func (z *zone) remove(name string, r *record) {
	rs := z.byName[name]
	for i, x := range rs {
		if x == r {
			z.byName[name] = append(rs[:i:i], rs[i+1:]...)
			break
		}
	}
	if len(z.byName[name]) == 0 {
		delete(z.byName, name)
	}
}

// replaceAll swaps the snapshot for a fresh listing.
func (z *zone) replaceAll(recs []provider.Record, now time.Time) {
	z.byName = make(map[string][]*record, len(recs))
	for _, r := range recs {
		z.put(r)
	}
	z.fetched = now
}

// list reads every record of the zone; the writer charges it to no tenant.
func list(ctx context.Context, p Provider, zoneID string) ([]provider.Record, error) {
	return p.Records(ctx, zoneID, provider.RecordFilter{})
}

// pendingAt is how many requests of a zone are planned and not yet settled,
// beyond the first: for tests.
func (w *Writer) pendingAt(zoneID string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if z := w.zones[zoneID]; z != nil {
		return max(z.inflight-1, 0)
	}
	return 0
}

// inflightAt is how many requests of a zone are planned and not yet
// settled: for tests.
func (w *Writer) inflightAt(zoneID string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if z := w.zones[zoneID]; z != nil {
		return z.inflight
	}
	return 0
}
