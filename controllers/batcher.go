package controllers

import (
	"context"
	"sync"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
)

// changeApplier applies record changes to one zone; provider.Provider fits.
type changeApplier interface {
	ApplyChanges(ctx context.Context, zoneID string, changes provider.Changes) (provider.ApplyResult, error)
}

// batcher coalesces the record changes of many claims in one zone into one
// provider batch. A thousand claims created at once cost a handful of batch
// requests instead of a thousand: the first claim to arrive waits a short
// window, then sends everything that queued up meanwhile (up to max
// changes) and hands each claim its share of the result. While claims keep
// joining, the batch keeps gathering for another window, up to four windows
// in all: claims applied by a slow client trickle in, and a fixed window cut
// them into many small batches (the 1,000-namespace bench under load sent
// batches of a quarter of the limit). Claims never share a (name, type), so
// their changes never collide inside a batch.
type batcher struct {
	window time.Duration
	max    int

	mu      sync.Mutex
	pending map[string]*batch // zone ID -> the batch being gathered
}

type batch struct {
	changes provider.Changes
	parts   []*part
	full    chan struct{} // closed when the batch reaches max
	joined  chan struct{} // signalled (never blocking) when a claim joins
}

// part is one claim's share of a batch: offsets into the combined changes.
type part struct {
	create, update, delete [2]int
	done                   chan struct{}
	res                    provider.ApplyResult
	err                    error
}

func newBatcher(window time.Duration, max int) *batcher {
	return &batcher{window: window, max: max, pending: map[string]*batch{}}
}

// apply sends changes in the zone's next batch and returns this caller's
// share of the result.
func (b *batcher) apply(ctx context.Context, p changeApplier, zoneID string, c provider.Changes) (provider.ApplyResult, error) {
	b.mu.Lock()
	cur, joining := b.pending[zoneID]
	if joining && cur.changes.Len()+c.Len() > b.max {
		joining = false // full: start the next batch
	}
	if !joining {
		cur = &batch{full: make(chan struct{}), joined: make(chan struct{}, 1)}
		b.pending[zoneID] = cur
	}
	pt := &part{done: make(chan struct{})}
	pt.create = [2]int{len(cur.changes.Create), len(cur.changes.Create) + len(c.Create)}
	pt.update = [2]int{len(cur.changes.UpdateNew), len(cur.changes.UpdateNew) + len(c.UpdateNew)}
	pt.delete = [2]int{len(cur.changes.Delete), len(cur.changes.Delete) + len(c.Delete)}
	cur.changes.Create = append(cur.changes.Create, c.Create...)
	cur.changes.UpdateOld = append(cur.changes.UpdateOld, c.UpdateOld...)
	cur.changes.UpdateNew = append(cur.changes.UpdateNew, c.UpdateNew...)
	cur.changes.Delete = append(cur.changes.Delete, c.Delete...)
	cur.parts = append(cur.parts, pt)
	if cur.changes.Len() >= b.max {
		delete(b.pending, zoneID)
		close(cur.full)
	} else if joining {
		select {
		case cur.joined <- struct{}{}:
		default:
		}
	}
	b.mu.Unlock()

	if !joining {
		b.lead(ctx, p, zoneID, cur)
	}
	select {
	case <-pt.done:
		return pt.res, pt.err
	case <-ctx.Done():
		return provider.ApplyResult{}, ctx.Err()
	}
}

// lead waits until a window passes with no claim joining (at most four
// windows, or until the batch is full), sends it and shares the result.
func (b *batcher) lead(ctx context.Context, p changeApplier, zoneID string, cur *batch) {
	deadline := time.Now().Add(4 * b.window)
	t := time.NewTimer(b.window)
gather:
	for {
		select {
		case <-t.C:
			break gather
		case <-cur.joined:
			t.Reset(min(b.window, time.Until(deadline)))
		case <-cur.full:
			t.Stop()
			break gather
		case <-ctx.Done():
			t.Stop()
			break gather
		}
	}
	b.mu.Lock()
	if b.pending[zoneID] == cur {
		delete(b.pending, zoneID)
	}
	b.mu.Unlock()

	// The leader's context may end while others wait on the batch; send it
	// on a context that outlives this one reconcile.
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	res, err := p.ApplyChanges(sendCtx, zoneID, cur.changes)
	for _, pt := range cur.parts {
		pt.res = provider.ApplyResult{
			Created: slice(res.Created, pt.create),
			Updated: slice(res.Updated, pt.update),
			Deleted: slice(res.Deleted, pt.delete),
		}
		pt.err = err
		close(pt.done)
	}
}

// slice returns s[r[0]:r[1]] clipped to what s holds: a failed batch
// reports only what earlier batches did.
func slice[T any](s []T, r [2]int) []T {
	lo, hi := min(r[0], len(s)), min(r[1], len(s))
	return s[lo:hi]
}
