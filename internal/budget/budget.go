// Package budget shares one provider credential's request budget between the
// controllers' reconciles and the RFC 2136 gateway's tenants.
//
// The provider allows Limit requests in any Window for the credential (the
// master token: 1,200 per 5 minutes on Cloudflare), however many replicas
// send them. [Split] divides it: a gateway share, divided again by the number
// of replicas (every replica serves the gateway), and the rest reserved for
// reconciles (only the leader reconciles). [Fair] divides one replica's
// gateway share between tenants. A gateway request carries its tenant in its
// context ([WithTenant]); the provider client charges that tenant once per
// HTTP request it is about to send (every page, batch and retry), so a
// message costs what it really sends, charged before it is sent.
package budget

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Shares is one replica's part of a credential's budget: at most Process
// requests in any window for everything this replica sends, of which at most
// Gateway for the gateway's tenants.
type Shares struct {
	Process, Gateway int
}

// Split divides limit requests per window. gatewayShare (0 to 1) of it is the
// gateway's, across all replicas: each of the replicas gets an equal part,
// rounded down. The rest is the reconcile reserve; only the leader uses it,
// but since a replica that is not the leader sends nothing but gateway
// requests, every replica can be given the same Process limit (reserve plus
// its gateway part) without knowing whether it leads: the sum over replicas
// of what they can send is reserve + replicas × gateway part ≤ limit.
// Reconciles may use the gateway part when the gateway leaves it idle; the
// gateway never uses the reserve.
//
// gatewayShare 0 is no split: Gateway is 0 and Process is limit.
func Split(limit int, gatewayShare float64, replicas int) Shares {
	if gatewayShare <= 0 || limit <= 0 {
		return Shares{Process: limit}
	}
	replicas = max(replicas, 1)
	gatewayShare = min(gatewayShare, 1)
	all := int(float64(limit) * gatewayShare)
	per := all / replicas
	return Shares{Process: limit - all + per, Gateway: per}
}

// Fair divides a gateway share of limit requests per window between tenants.
// A tenant may have at most limit / (active + 1) requests in any window,
// where active is the number of tenants with a request in the window
// (counting the one asking): the extra slice is left for a tenant that has
// not spoken yet, so even a share taken by one flooding tenant leaves room for
// the next. A tenant's allowance shrinks as others become active and grows
// back as they go quiet, so idle tenants' slices are not held for them. The
// allowance is at least 1, so many tenants may together ask for more than
// limit; the provider client's limiter of the gateway share holds them to it.
//
// Memory is bounded by what it counts: an entry per request in the last
// window, and a tenant only while it has one.
type Fair struct {
	limit  int
	window time.Duration

	mu      sync.Mutex
	log     []charge // every admitted charge of the last window, oldest first
	head    int      // log[head:] is live
	tenants map[string]int
}

type charge struct {
	tenant string
	at     time.Time
	n      int
}

// NewFair returns the accounting of limit requests per window.
func NewFair(limit int, window time.Duration) *Fair {
	return &Fair{limit: max(limit, 1), window: window, tenants: map[string]int{}}
}

// Charge counts one request of tenant at now and returns true, or returns
// false, counting nothing, when the tenant has its allowance's worth of
// requests in the window already.
func (f *Fair) Charge(tenant string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire(now)
	used := f.tenants[tenant]
	if used >= f.allowanceLocked(used == 0) {
		return false
	}
	f.log = append(f.log, charge{tenant: tenant, at: now, n: 1})
	f.tenants[tenant] = used + 1
	return true
}

// Allowed reports whether tenant is within its allowance at now: what
// Charge would decide, counting nothing. With Add it charges a cost known
// only afterwards (a tenant's share of a batch it joined).
func (f *Fair) Allowed(tenant string, now time.Time) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire(now)
	used := f.tenants[tenant]
	return used < f.allowanceLocked(used == 0)
}

// Add counts n units of tenant at now, whatever its allowance.
func (f *Fair) Add(tenant string, n int, now time.Time) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire(now)
	f.log = append(f.log, charge{tenant: tenant, at: now, n: n})
	f.tenants[tenant] += n
}

// Allowance is what a tenant that already has requests in the window may
// have in it at now.
func (f *Fair) Allowance(now time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire(now)
	return f.allowanceLocked(false)
}

func (f *Fair) allowanceLocked(newcomer bool) int {
	active := len(f.tenants)
	if newcomer {
		active++
	}
	return max(1, f.limit/(active+1))
}

// Tenants is how many tenants have requests in the window at now.
func (f *Fair) Tenants(now time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.expire(now)
	return len(f.tenants)
}

// Limit and Window say what the share is.
func (f *Fair) Limit() int            { return f.limit }
func (f *Fair) Window() time.Duration { return f.window }

func (f *Fair) expire(now time.Time) {
	for f.head < len(f.log) && !now.Before(f.log[f.head].at.Add(f.window)) {
		c := f.log[f.head]
		f.log[f.head] = charge{}
		f.head++
		if n := f.tenants[c.tenant] - c.n; n > 0 {
			f.tenants[c.tenant] = n
		} else {
			delete(f.tenants, c.tenant)
		}
	}
	// Compact once the dead prefix is most of the slice.
	if f.head > 0 && f.head >= len(f.log)/2 {
		n := copy(f.log, f.log[f.head:])
		clear(f.log[n:])
		f.log = f.log[:n]
		f.head = 0
	}
}

// Tab is a gateway request's account: the tenant charged for every provider
// request sent on its behalf, and whether one was refused for the tenant's
// share. It is safe for concurrent use.
type Tab struct {
	Tenant string
	// Shared marks the calls of the front doors' zone writer, each made for
	// many tenants at once (a snapshot, a coalesced batch): they are paced on
	// the gateway share like every tenant's, so the front doors never take
	// the reconcile reserve, but charged to no tenant on Fair; the writer
	// divides its capacity between tenants itself.
	Shared  bool
	sent    atomic.Int32
	refused atomic.Bool
}

// Sent is how many provider requests were charged to the tab.
func (t *Tab) Sent() int { return int(t.sent.Load()) }

// Refused reports that a provider request was not sent because the tenant was
// over its share.
func (t *Tab) Refused() bool { return t.refused.Load() }

// Charge charges one request to the tab's tenant on f and records the
// outcome; the error says why it was refused.
func (t *Tab) Charge(f *Fair, now time.Time) error {
	if !t.Shared && !f.Charge(t.Tenant, now) {
		t.refused.Store(true)
		return &OverShareError{Tenant: t.Tenant, Limit: f.Allowance(now), Window: f.window}
	}
	t.sent.Add(1)
	return nil
}

// OverShareError is a provider request refused before it was sent because its
// tenant used its share of the gateway's budget.
type OverShareError struct {
	Tenant string
	Limit  int
	Window time.Duration
}

func (e *OverShareError) Error() string {
	return fmt.Sprintf("namespace %s used its share of the provider budget (%d requests per %s while others are active)", e.Tenant, e.Limit, e.Window)
}

type tabKey struct{}

// WithTenant marks ctx as the context of provider calls made for tab's
// tenant by the gateway.
func WithTenant(ctx context.Context, tab *Tab) context.Context {
	return context.WithValue(ctx, tabKey{}, tab)
}

// TabFrom returns the tab of a gateway call's context, or nil for any other
// (reconciles).
func TabFrom(ctx context.Context) *Tab {
	t, _ := ctx.Value(tabKey{}).(*Tab)
	return t
}
