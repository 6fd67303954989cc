// Package batch coalesces the record changes that many writers make in one
// zone into one provider batch, and finds the writers at fault when the
// provider refuses a batch for its content. The claim controller and the
// zone writer of the front doors both send through it.
package batch

import (
	"context"
	"sync"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
)

// Applier applies record changes to one zone; provider.Provider fits.
type Applier interface {
	ApplyChanges(ctx context.Context, zoneID string, changes provider.Changes) (provider.ApplyResult, error)
}

// maxSplitRequests bounds the requests spent finding the claims at fault in
// one refused batch, on top of the batch itself. Finding k refused claims
// among n by halving costs at most 2k·⌈log2 n⌉ requests (measured in
// batcher_test.go: one among 8 costs 6, one among 200 costs 16, two among 8
// at most 10). 64 finds every refused claim of a batch of up to 32 claims,
// and four of a full batch of 200 (100 claims of two records each), for at
// most a twentieth of Cloudflare's 1,200 requests per 5 minutes; past it the
// claims not yet told apart share the error and retry on their own.
const maxSplitRequests = 64

// Batcher coalesces the record changes of many claims in one zone into one
// provider batch. A thousand claims created at once cost a handful of batch
// requests instead of a thousand: the first claim to arrive waits a short
// window, then sends everything that queued up meanwhile (up to max
// changes) and hands each claim its share of the result. While claims keep
// joining, the batch keeps gathering for another window, up to four windows
// in all: claims applied by a slow client trickle in, and a fixed window cut
// them into many small batches (the 1,000-namespace bench under load sent
// batches of a quarter of the limit). Claims never share a (name, type), so
// their changes never collide inside a batch.
//
// A batch is one transaction at the provider, so one claim whose changes the
// provider refuses would fail every claim beside it, for as long as it
// exists. When the provider refuses a batch for what it asks
// (provider.IsRequestFault), the batch is halved and each half sent again,
// down to single claims (see settle): the others land in the same pass and
// only the claims at fault get the provider's error. Errors that any request
// would meet (rate limits, outages, credentials) are never split, which
// would only multiply the load: every claim gets the error.
type Batcher struct {
	window time.Duration
	max    int
	hooks  Hooks

	mu       sync.Mutex
	pending  map[string]*batch        // zone ID -> the batch being gathered
	inflight map[string]chan struct{} // zone ID -> closed when its batch in flight settles
}

type batch struct {
	size   int           // changes of all parts
	parts  []*part       // in the order they joined
	full   chan struct{} // closed when the batch reaches max
	joined chan struct{} // signalled (never blocking) when a claim joins
}

// part is one claim's share of a batch.
type part struct {
	changes provider.Changes
	done    chan struct{}
	res     provider.ApplyResult
	err     error
	cost    float64 // this part's share of the requests sent
}

func newPart(c provider.Changes) *part { return &part{changes: c, done: make(chan struct{})} }

// Gate is an Applier whose requests wait their turn (a pace): the batcher
// passes it before each request, before the first with the batch still
// gathering.
type Gate interface {
	Applier
	Pass(ctx context.Context) error
}

// Hooks are told what the batcher does, for metrics; nil fields are skipped.
type Hooks struct {
	// Split is called for every refused batch cut in two.
	Split func()
	// Refused is called for every single writer's changes the provider
	// refused on their own.
	Refused func()
}

// New returns a batcher that gathers a zone's changes for window (up to four
// windows while writers keep joining) and sends at most max changes a batch.
// With window 0 a batch goes out at once when the zone has none in flight,
// and gathers only while one is: a lone writer waits for nothing, and under
// load batches grow with the provider's latency and pacing.
func New(window time.Duration, max int, hooks Hooks) *Batcher {
	return &Batcher{window: window, max: max, hooks: hooks, pending: map[string]*batch{}, inflight: map[string]chan struct{}{}}
}

// Apply sends changes in the zone's next batch and returns this caller's
// share of the result.
func (b *Batcher) Apply(ctx context.Context, p Applier, zoneID string, c provider.Changes) (provider.ApplyResult, error) {
	res, _, err := b.ApplyCost(ctx, p, zoneID, c)
	return res, err
}

// ApplyCost is Apply that also returns the caller's share of the provider
// requests sent: each request's one split between the callers whose changes
// it carried, in proportion to their changes. A front door charges its tenant that share.
func (b *Batcher) ApplyCost(ctx context.Context, p Applier, zoneID string, c provider.Changes) (provider.ApplyResult, float64, error) {
	b.mu.Lock()
	cur, joining := b.pending[zoneID]
	if joining && cur.size+c.Len() > b.max {
		joining = false // full: start the next batch
	}
	if !joining {
		cur = &batch{full: make(chan struct{}), joined: make(chan struct{}, 1)}
		b.pending[zoneID] = cur
	}
	pt := newPart(c)
	cur.parts = append(cur.parts, pt)
	cur.size += c.Len()
	if cur.size >= b.max {
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
		return pt.res, pt.cost, pt.err
	case <-ctx.Done():
		return provider.ApplyResult{}, 0, ctx.Err()
	}
}

// lead gathers the batch for a window (none with window 0), sends it once
// the zone's batch before it settled, and shares the result.
func (b *Batcher) lead(ctx context.Context, p Applier, zoneID string, cur *batch) {
	if b.window > 0 {
		b.gather(ctx, cur)
	}
	b.sendAfterPrevious(ctx, p, zoneID, cur)
}

// gather waits until a window passes with no writer joining (at most four
// windows, or until the batch is full).
func (b *Batcher) gather(ctx context.Context, cur *batch) {
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
}

// sendAfterPrevious sends the batch once the zone's batch before it settled.
func (b *Batcher) sendAfterPrevious(ctx context.Context, p Applier, zoneID string, cur *batch) {
	// One batch in flight per zone: while the one before is out (waiting
	// its turn in the provider's pacing, or on the wire), this one keeps
	// gathering. Under load the batches grow instead of multiplying, so the
	// requests sent stay within the provider's pace however many writers
	// there are.
	b.mu.Lock()
	prev := b.inflight[zoneID]
	b.mu.Unlock()
	if prev != nil {
		select {
		case <-prev:
		case <-cur.full:
		case <-ctx.Done():
		}
	}
	// A paced applier's turn is waited for with the batch still open:
	// whatever arrives during the wait rides along, instead of making up
	// the next batch alone and spending a turn of its own.
	var gateErr error
	if g, ok := p.(Gate); ok {
		gateErr = g.Pass(ctx)
	}
	b.mu.Lock()
	if b.pending[zoneID] == cur {
		delete(b.pending, zoneID)
	}
	mine := make(chan struct{})
	b.inflight[zoneID] = mine
	b.mu.Unlock()
	if gateErr != nil {
		share(cur.parts, provider.ApplyResult{}, gateErr, true)
	} else {
		b.send(ctx, p, zoneID, cur.parts)
	}
	b.mu.Lock()
	if b.inflight[zoneID] == mine {
		delete(b.inflight, zoneID)
	}
	b.mu.Unlock()
	close(mine)
}

// send applies the parts as one batch, splitting it when the provider
// refuses it for its content, and returns how many requests it made.
func (b *Batcher) send(ctx context.Context, p Applier, zoneID string, parts []*part) int {
	s := &splitter{ctx: ctx, p: p, zoneID: zoneID, budget: maxSplitRequests, hooks: b.hooks}
	s.settle(parts)
	s.chargeRefused()
	return s.requests
}

// splitter finds the parts of one refused batch that the provider refuses.
// Halves go out one after the other, not at once: each request still waits
// its turn in the provider's pacing, and a half that lands releases its
// claims before the other half is tried.
type splitter struct {
	ctx      context.Context
	p        Applier
	zoneID   string
	budget   int // requests left for splitting
	requests int
	hooks    Hooks
	// refusedRequests are the requests the provider refused for their
	// content; refused are the parts it refused in the end, held until they
	// are charged those requests (chargeRefused).
	refusedRequests int
	refused         []*part
}

// settle sends parts as one request and hands each part its share. A refusal
// of the request's content is split in halves, each settled again, while
// the budget lasts; a single part, any other error, or a refusal after the
// provider applied some of it (a batch larger than one provider request)
// is every part's result as it is.
func (s *splitter) settle(parts []*part) {
	res, err := s.apply(parts)
	refused := err != nil && provider.IsRequestFault(err) && nothingApplied(res)
	if refused {
		s.refusedRequests++
	}
	if refused && len(parts) == 1 {
		call(s.hooks.Refused)
	}
	if !refused || len(parts) == 1 || s.budget < 2 {
		if refused {
			// At fault: charged the splits once they are over.
			s.refused = append(s.refused, parts...)
			share(parts, res, err, false)
			return
		}
		chargeShares(parts)
		share(parts, res, err, true)
		return
	}
	s.budget -= 2
	call(s.hooks.Split)
	mid := len(parts) / 2
	s.settle(parts[:mid])
	s.settle(parts[mid:])
}

// apply sends the parts' changes as one batch.
func (s *splitter) apply(parts []*part) (provider.ApplyResult, error) {
	var c provider.Changes
	for _, pt := range parts {
		c.Create = append(c.Create, pt.changes.Create...)
		c.UpdateOld = append(c.UpdateOld, pt.changes.UpdateOld...)
		c.UpdateNew = append(c.UpdateNew, pt.changes.UpdateNew...)
		c.Delete = append(c.Delete, pt.changes.Delete...)
	}
	if g, ok := s.p.(Gate); ok && s.requests > 0 {
		// The first request passed the gate before the batch closed.
		if err := g.Pass(s.ctx); err != nil {
			return provider.ApplyResult{}, err
		}
	}
	s.requests++
	// The leader's context may end while others wait on the batch; send it
	// on a context that outlives this one reconcile.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 2*time.Minute)
	defer cancel()
	return s.p.ApplyChanges(ctx, s.zoneID, c)
}

// chargeShares charges each part its share of one request, in proportion to
// its changes.
func chargeShares(parts []*part) {
	n := 0
	for _, pt := range parts {
		n += pt.changes.Len()
	}
	for _, pt := range parts {
		pt.cost += float64(pt.changes.Len()) / float64(max(n, 1))
	}
}

// chargeRefused charges the refused parts every request of the refusal: the
// one that carried them and the requests refused while the batch was split
// to find them. The parts that landed pay only for the requests that landed
// them, so a tenant's refused content costs no other tenant anything. A
// refusal that no part is refused in on its own (a provider changing its
// mind) is charged to no one.
func (s *splitter) chargeRefused() {
	n := 0
	for _, pt := range s.refused {
		n += pt.changes.Len()
	}
	for _, pt := range s.refused {
		pt.cost += float64(s.refusedRequests) * float64(pt.changes.Len()) / float64(max(n, 1))
		close(pt.done)
	}
}

// share hands each part its slice of one request's result and its error,
// and releases it (with release false, chargeRefused does).
func share(parts []*part, res provider.ApplyResult, err error, release bool) {
	var created, updated, deleted int
	for _, pt := range parts {
		pt.res = provider.ApplyResult{
			Created: slice(res.Created, created, len(pt.changes.Create)),
			Updated: slice(res.Updated, updated, len(pt.changes.UpdateNew)),
			Deleted: slice(res.Deleted, deleted, len(pt.changes.Delete)),
		}
		created += len(pt.changes.Create)
		updated += len(pt.changes.UpdateNew)
		deleted += len(pt.changes.Delete)
		pt.err = err
		if release {
			close(pt.done)
		}
	}
}

func nothingApplied(res provider.ApplyResult) bool {
	return len(res.Created)+len(res.Updated)+len(res.Deleted) == 0
}

// slice returns s[from:from+n] clipped to what s holds: a failed batch
// reports only what earlier batches did.
func slice[T any](s []T, from, n int) []T {
	lo, hi := min(from, len(s)), min(from+n, len(s))
	return s[lo:hi]
}

func call(f func()) {
	if f != nil {
		f()
	}
}
