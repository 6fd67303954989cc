package cloudflare

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"
	"time"
	"weak"

	"github.com/scopedns/scopedns/internal/budget"
)

// limiter paces requests of one credential: at most n in any window (a sliding
// window over the times of the last n requests, which is what Cloudflare
// enforces), and none while paused by a 429's Retry-After.
//
// Cloudflare counts a request when it arrives, which is some time after we
// send it. Counting by send time alone let a slow request arrive inside the
// window of the one sent a window after it (the 1,000-namespace bench saw
// 1,203 requests in 5 minutes and three 429s). So each request's slot holds
// the time its answer came back, when that is known: the request arrived
// before then, and its slot's next request is sent a full window later, so
// the two can never arrive inside one window.
type limiter struct {
	mu          sync.Mutex
	n           int
	window      time.Duration
	slots       []slot // ring of the last n admissions
	head        int    // oldest admission, once the ring is full
	seq         uint64 // admissions so far; tells a reused slot from its earlier request
	pausedUntil time.Time
	now         func() time.Time
}

// slot is one admitted request: when it was sent, then when its answer came.
type slot struct {
	t   time.Time
	seq uint64
}

// ticket names an admitted request's slot, for done.
type ticket struct {
	i   int
	seq uint64
}

func newLimiter(n int, window time.Duration) *limiter {
	return &limiter{n: n, window: window, slots: make([]slot, 0, min(n, 4096)), now: time.Now}
}

// reserve admits a request now and returns its ticket and 0, or returns how
// long to wait before asking again.
func (l *limiter) reserve() (ticket, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Before(l.pausedUntil) {
		return ticket{}, l.pausedUntil.Sub(now)
	}
	if len(l.slots) < l.n {
		l.seq++
		l.slots = append(l.slots, slot{t: now, seq: l.seq})
		return ticket{i: len(l.slots) - 1, seq: l.seq}, 0
	}
	if free := l.slots[l.head].t.Add(l.window); now.Before(free) {
		return ticket{}, free.Sub(now)
	}
	l.seq++
	i := l.head
	l.slots[i] = slot{t: now, seq: l.seq}
	l.head = (l.head + 1) % l.n
	return ticket{i: i, seq: l.seq}, 0
}

// done records that the admitted request's answer came back now: the slot
// frees a window after this instead of a window after the send.
func (l *limiter) done(t ticket) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.seq == 0 || t.i >= len(l.slots) || l.slots[t.i].seq != t.seq {
		return // never admitted, or the slot already serves a later request
	}
	if now := l.now(); now.After(l.slots[t.i].t) {
		l.slots[t.i].t = now
	}
}

// wait blocks until a request may be sent and returns its ticket. When the
// wait would be longer than max, or longer than the context allows, it
// returns a *throttled error at once instead.
func (l *limiter) wait(ctx context.Context, max time.Duration) (ticket, error) {
	for {
		tk, d := l.reserve()
		if d <= 0 {
			return tk, nil
		}
		if d > max || !fits(ctx, d) {
			return ticket{}, &throttled{wait: d}
		}
		if err := sleepCtx(ctx, d); err != nil {
			return ticket{}, err
		}
	}
}

// pause holds every request back for d (a 429's Retry-After).
func (l *limiter) pause(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.now().Add(d); until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}

// throttled is the client-side limiter refusing to wait as long as needed.
type throttled struct{ wait time.Duration }

func (e *throttled) Error() string {
	return fmt.Sprintf("client-side rate limit: next request possible in %s", e.wait.Round(time.Millisecond))
}

// limits are one credential's limiters in this process: all paces every
// request on the process's share of the credential's budget; when the budget
// is split (Options.GatewayShare), gateway requests (a context carrying a
// budget.Tab) are also charged to their tenant on fair and paced on gateway,
// this replica's gateway part, so that the gateway never takes the reconcile
// reserve and no tenant takes the others' part.
type limits struct {
	all     *limiter
	gateway *limiter     // nil without a split
	fair    *budget.Fair // nil without a split
}

func newLimits(o Options) *limits {
	sh := budget.Split(o.RateLimit, o.GatewayShare, o.GatewayReplicas)
	l := &limits{all: newLimiter(sh.Process, o.RateWindow)}
	if sh.Gateway > 0 {
		l.gateway = newLimiter(sh.Gateway, o.RateWindow)
		l.fair = budget.NewFair(sh.Gateway, o.RateWindow)
	}
	return l
}

// admit waits for the limiters a request goes through, charging a gateway
// request to its tenant first (refused at once when the tenant is over its
// share: nothing is sent). done must be called with the tickets once the
// answer is back.
func (l *limits) admit(ctx context.Context, max time.Duration) (all, gw ticket, err error) {
	if tab := budget.TabFrom(ctx); tab != nil && l.fair != nil {
		if err := tab.Charge(l.fair, l.all.now()); err != nil {
			return ticket{}, ticket{}, err
		}
		if gw, err = l.gateway.wait(ctx, max); err != nil {
			return ticket{}, ticket{}, err
		}
	}
	all, err = l.all.wait(ctx, max)
	return all, gw, err
}

func (l *limits) done(all, gw ticket) {
	l.all.done(all)
	if l.gateway != nil {
		l.gateway.done(gw)
	}
}

// registry shares one limits per credential and API: the key is a hash of the
// base URL and the token, so the registry holds no secret. Entries go away when
// no Provider uses them any more.
var registry = struct {
	sync.Mutex
	m map[string]weak.Pointer[limits]
}{m: map[string]weak.Pointer[limits]{}}

func limiterKey(baseURL, token string) string {
	h := sha256.Sum256([]byte(baseURL + "\x00" + token))
	return hex.EncodeToString(h[:])
}

// sharedLimits returns the limits for the key, creating them from o when
// there are none. The first Provider's limits win.
func sharedLimits(key string, o Options) *limits {
	registry.Lock()
	defer registry.Unlock()
	if l := registry.m[key].Value(); l != nil {
		return l
	}
	l := newLimits(o)
	wp := weak.Make(l)
	registry.m[key] = wp
	runtime.AddCleanup(l, func(key string) {
		registry.Lock()
		defer registry.Unlock()
		if registry.m[key] == wp {
			delete(registry.m, key)
		}
	}, key)
	return l
}
