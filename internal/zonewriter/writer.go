package zonewriter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/scopedns/scopedns/internal/batch"
	"github.com/scopedns/scopedns/internal/budget"
	"github.com/scopedns/scopedns/internal/provider"
)

const (
	defaultMaxChanges   = 200
	defaultRefresh      = 5 * time.Minute
	defaultMinTTL       = 60
	defaultBudgetWindow = 5 * time.Minute
	// callTimeout bounds one provider call the writer makes for many
	// tenants; no one request's deadline may cut it short, or the writer
	// would not know what the provider did.
	callTimeout = 2 * time.Minute
	// costUnit is one provider request on the fair budget, which counts
	// whole units: a tenant's share of a batch is charged in thousandths.
	costUnit = 1000
	// fairHeadroom (in halves: 3 is 1.5×) scales the budget the fair
	// shares are cut from. The pace alone holds the writer to its budget;
	// the fair shares are there so that no tenant takes most of it. Cut
	// from exactly the budget they would refuse tenants of a busy writer
	// for no one's sake: n tenants sharing every batch each pay budget/n,
	// just above their share budget/(n+1). With 1.5× a tenant alone may
	// take three quarters of the budget, two at once up to half each, and
	// equal tenants are never refused.
	fairHeadroom = 3
)

// Writer applies front-door requests; it is safe for concurrent use.
type Writer struct {
	o       Options
	batches *batch.Batcher

	mu      sync.Mutex
	budgets map[string]*scopeBudget // scope -> its budget; guarded by mu
	zones   map[string]*zone        // zone ID -> snapshot
	names   map[string]*nameLock    // zone ID + "\x00" + name + "\x00" + type -> lock
}

// New checks the options and builds a writer.
func New(o Options) (*Writer, error) {
	if o.Providers == nil {
		return nil, errors.New("zonewriter: Options.Providers is required")
	}
	if o.Window < 0 {
		o.Window = 0
	}
	if o.MaxChanges <= 0 {
		o.MaxChanges = defaultMaxChanges
	}
	if o.Refresh <= 0 {
		o.Refresh = defaultRefresh
	}
	if o.MinTTL == 0 {
		o.MinTTL = defaultMinTTL
	}
	if o.BudgetWindow <= 0 {
		o.BudgetWindow = defaultBudgetWindow
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &Writer{o: o, zones: map[string]*zone{}, names: map[string]*nameLock{}}
	w.batches = batch.New(o.Window, o.MaxChanges, o.Hooks)
	w.budgets = map[string]*scopeBudget{}
	return w, nil
}

// scopeBudget is one scope's part of the writer's capacity. Each scope
// writes with its own master credential, whose budget is its own: one
// scope's tenants never wait on, nor are refused for, another's.
type scopeBudget struct {
	fair *budget.Fair  // in costUnits; nil: no per-tenant budget
	pace *rate.Limiter // spreads batches over the budget's window; nil: none
}

// budgetOf is a scope's budget, made on first use. Called with w.mu held.
func (w *Writer) budgetOf(scope string) *scopeBudget {
	b := w.budgets[scope]
	if b == nil {
		b = &scopeBudget{}
		if w.o.RequestBudget > 0 {
			b.fair = budget.NewFair(w.o.RequestBudget*costUnit*fairHeadroom/2, w.o.BudgetWindow)
			b.pace = newPace(w.o.RequestBudget, w.o.PaceBurst, w.o.BudgetWindow)
		}
		w.budgets[scope] = b
	}
	return b
}

// Write applies one request, all of it or nothing. A request not applied
// returns an *Error saying why. ctx bounds the wait for other requests and
// for the batch; a batch once sent is settled whatever ctx does.
func (w *Writer) Write(ctx context.Context, r Request) (Result, error) {
	ops, e := w.check(r)
	if e != nil {
		return Result{}, e
	}
	p, err := w.o.Providers.Provider(ctx, r.Tenant.Scope)
	if err != nil || p == nil {
		return Result{}, &Error{Code: Failed, Reason: fmt.Sprintf("no provider for scope %s: %v", r.Tenant.Scope, err), Err: err}
	}
	names := touchedNames(r.Prereqs, ops)
	locks, e := w.lockNames(ctx, r.ZoneID, lockKeys(r.Prereqs, ops, r.Tenant.Grants))
	if e != nil {
		return Result{}, e
	}
	defer locks.release(false)
	for {
		plan, e := w.plan(ctx, p, r, ops, names)
		if e != nil {
			return Result{}, e
		}
		if plan == nil {
			continue // waited for a listing: plan again
		}
		if plan.changes.IsEmpty() {
			return Result{}, nil
		}
		// The RRsets only read are free once planned: a request that plans
		// after this one joins the same batch or a later one, so it comes
		// after this one whatever it does to them, and another namespace's
		// writes at its own type never wait for this one's batch.
		locks.release(true)
		return w.send(p, r.ZoneID, plan)
	}
}

// nameLock serialises the requests at one (name, type) of one zone, first
// come first served (a channel's waiting senders are served in order), so
// that a request never plans on a record whose creation or removal the
// provider has not confirmed, prerequisites are answered from settled state,
// and no request at a busy RRset waits forever behind later ones.
type nameLock struct {
	sem  chan struct{}
	refs int // requests holding or waiting; guarded by Writer.mu
}

// lockNames takes the locks of a request's lock keys (lockKeys), in order
// (they are sorted, so two requests never wait on each other). Only requests
// at the same RRsets wait: the rest of the zone plans and batches meanwhile.
func (w *Writer) lockNames(ctx context.Context, zoneID string, keys []lockKey) (*heldLocks, *Error) {
	w.mu.Lock()
	h := &heldLocks{w: w, zoneID: zoneID, keys: keys, locks: make([]*nameLock, len(keys)), state: make([]lockState, len(keys))}
	for i, k := range keys {
		n := zoneID + "\x00" + k.key
		l := w.names[n]
		if l == nil {
			l = &nameLock{sem: make(chan struct{}, 1)}
			w.names[n] = l
		}
		l.refs++
		h.locks[i] = l
	}
	w.mu.Unlock()
	for i, l := range h.locks {
		select {
		case l.sem <- struct{}{}:
			h.state[i] = lockHeld
		case <-ctx.Done():
			h.release(false)
			return nil, &Error{Code: Failed, Reason: "gave up waiting for the earlier writes at the same names: " + ctx.Err().Error(), Err: ctx.Err()}
		}
	}
	return h, nil
}

// heldLocks are one request's locks.
type heldLocks struct {
	w      *Writer
	zoneID string
	keys   []lockKey
	locks  []*nameLock
	state  []lockState
}

type lockState int

const (
	lockWaiting lockState = iota // not taken yet
	lockHeld
	lockReleased
)

// release gives back the locks still held, or with readsOnly only those of
// the RRsets the request reads and does not change.
func (h *heldLocks) release(readsOnly bool) {
	var gone []int
	for i := len(h.locks) - 1; i >= 0; i-- {
		if h.state[i] == lockReleased || readsOnly && h.keys[i].hold {
			continue
		}
		if h.state[i] == lockHeld {
			<-h.locks[i].sem
		}
		h.state[i] = lockReleased
		gone = append(gone, i)
	}
	h.w.mu.Lock()
	for _, i := range gone {
		if h.locks[i].refs--; h.locks[i].refs == 0 {
			delete(h.w.names, h.zoneID+"\x00"+h.keys[i].key)
		}
	}
	h.w.mu.Unlock()
}

// planned is a request decided against the snapshot.
type planned struct {
	z       *zone
	tenant  string
	budget  *scopeBudget
	changes provider.Changes
	refs    changeRefs
}

// plan decides the request against the zone's snapshot, with the request's
// names locked. It returns nil, nil after waiting for a listing: the caller
// plans again on the newer state.
func (w *Writer) plan(ctx context.Context, p Provider, r Request, ops []Op, names []string) (*planned, *Error) {
	w.mu.Lock()
	z := w.zone(r.ZoneID)
	if wait, e := w.ready(p, z); wait != nil || e != nil {
		w.mu.Unlock()
		if e != nil {
			return nil, e
		}
		return nil, waitFor(ctx, wait)
	}
	v := newView(r.Zone, r.Tenant)
	v.strict = r.Strict
	for _, n := range names {
		for _, rec := range z.byName[n] {
			v.add(n, rec)
		}
	}
	if e := v.checkPrereqs(r.Prereqs); e != nil {
		w.mu.Unlock()
		return nil, e
	}
	for _, op := range ops {
		if e := v.apply(op); e != nil {
			w.mu.Unlock()
			return nil, e
		}
	}
	changes, refs := v.changes()
	if changes.IsEmpty() {
		w.mu.Unlock()
		return &planned{}, nil
	}
	// What the provider would refuse is refused here, alone: in a batch it
	// would fail the whole batch, split paced request by request to find
	// it, while every other request of the zone waits and pays its share.
	if err := changes.Validate(); err != nil {
		w.mu.Unlock()
		return nil, &Error{Code: Refused, Reason: "the provider would refuse the records: " + err.Error(), Err: err}
	}
	b := w.budgetOf(r.Tenant.Scope)
	if e := w.allowed(b.fair, r.Tenant.Namespace); e != nil {
		w.mu.Unlock()
		return nil, e
	}
	z.begin()
	w.mu.Unlock()
	return &planned{z: z, tenant: r.Tenant.Namespace, budget: b, changes: changes, refs: refs}, nil
}

// ready makes sure the zone has a snapshot young enough. It returns a
// channel to wait on when one is being listed, or when a listing must wait
// for the zone's batches in flight (a listing beside them could miss what
// they write). A stale snapshot with batches in flight is used as it is: it
// is only drift, and the listing comes once they settle. Called with w.mu
// held; it is released around the provider call.
func (w *Writer) ready(p Provider, z *zone) (<-chan struct{}, *Error) {
	if z.loading != nil {
		return z.loading, nil
	}
	now := w.o.Now()
	if !z.fetched.IsZero() && now.Sub(z.fetched) < w.o.Refresh {
		return nil, nil
	}
	if z.inflight > 0 {
		if z.fetched.IsZero() {
			return z.quiet, nil
		}
		return nil, nil
	}
	z.loading = make(chan struct{})
	w.mu.Unlock()
	ctx, cancel := w.sharedCtx()
	recs, err := list(ctx, p, z.id)
	cancel()
	w.mu.Lock()
	close(z.loading)
	z.loading = nil
	if err != nil {
		w.o.Logger.Error("listing a zone's records for the front doors", "zoneID", z.id, "error", err)
		return nil, providerError("reading the zone's records", err)
	}
	z.replaceAll(recs, now)
	return nil, nil
}

// send applies a planned request in the zone's next batch and settles the
// snapshot with what the provider did.
func (w *Writer) send(p Provider, zoneID string, pl *planned) (Result, error) {
	ctx, cancel := w.sharedCtx()
	var a batch.Applier = p
	if pl.budget.pace != nil {
		a = pacedApplier{Applier: p, pace: pl.budget.pace}
	}
	res, cost, err := w.batches.ApplyCost(ctx, a, zoneID, pl.changes)
	cancel()
	if pl.budget.fair != nil {
		pl.budget.fair.Add(pl.tenant, int(math.Ceil(cost*costUnit)), w.o.Now())
	}
	var recs []provider.Record
	if err == nil {
		recs = stored(pl.changes, res)
	}
	w.mu.Lock()
	w.settle(pl, res, recs, err)
	pl.z.end()
	w.mu.Unlock()
	if err != nil {
		if !provider.IsRequestFault(err) {
			w.o.Logger.Error("writing a front-door batch", "zoneID", zoneID, "error", err)
		}
		return Result{}, providerError("writing records", err)
	}
	return Result{
		Created: len(pl.changes.Create), Updated: len(pl.changes.UpdateNew), Deleted: len(pl.changes.Delete),
		Stored: recs,
	}, nil
}

// stored are the records a change set created and updated, as the provider
// stored them where it said so.
func stored(c provider.Changes, res provider.ApplyResult) []provider.Record {
	out := make([]provider.Record, 0, len(c.Create)+len(c.UpdateNew))
	for i, r := range c.Create {
		if i < len(res.Created) && res.Created[i].ID != "" {
			r = res.Created[i]
		}
		out = append(out, r)
	}
	for i, r := range c.UpdateNew {
		if i < len(res.Updated) && res.Updated[i].ID != "" {
			r = res.Updated[i]
		}
		out = append(out, r)
	}
	return out
}

// settle brings the snapshot up to date after a batch: what the provider
// stored on success (recs, see stored); nothing when the provider refused the request's content
// (it applied none of it, and the snapshot is right). A record not found or
// in conflict means the snapshot is wrong (someone changed the zone behind
// it), and on any other error what the provider did is not known: the zone
// is listed again before the next decision. Called with w.mu held.
func (w *Writer) settle(pl *planned, res provider.ApplyResult, recs []provider.Record, err error) {
	z := pl.z
	if err != nil {
		contentRefused := provider.IsInvalid(err) && len(res.Created)+len(res.Updated)+len(res.Deleted) == 0
		var notSent *notSentError
		if !contentRefused && !errors.As(err, &notSent) {
			z.fetched = time.Time{}
		}
		return
	}
	for _, c := range recs[:len(pl.changes.Create)] {
		z.put(c)
	}
	for i, r := range pl.refs.updated {
		r.Record = recs[len(pl.changes.Create)+i]
	}
	for _, r := range pl.refs.deleted {
		z.remove(provider.NormalizeName(r.Name), r)
	}
}

// allowed refuses a tenant that used its fair part of the writer's request
// budget. Called with w.mu held.
func (w *Writer) allowed(fair *budget.Fair, tenant string) *Error {
	if fair == nil {
		return nil
	}
	now := w.o.Now()
	if fair.Allowed(tenant, now) {
		return nil
	}
	// The same words whoever else is writing: the share (the budget over the
	// active tenants) would tell a tenant how many others are.
	return &Error{Code: OverBudget, Reason: fmt.Sprintf(
		"namespace %s used its share of the provider budget per %s; back off and retry", tenant, w.o.BudgetWindow)}
}

// sharedCtx is the context of the provider calls the writer makes for many
// tenants at once: paced on the gateway share, charged to none of them.
func (w *Writer) sharedCtx() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	return budget.WithTenant(ctx, &budget.Tab{Tenant: "@zonewriter", Shared: true}), cancel
}

func (w *Writer) zone(id string) *zone {
	z := w.zones[id]
	if z == nil {
		z = newZone(id)
		w.zones[id] = z
	}
	return z
}

// waitFor waits for ch or the end of ctx.
func waitFor(ctx context.Context, ch <-chan struct{}) *Error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return &Error{Code: Failed, Reason: "gave up waiting for the zone's earlier writes: " + ctx.Err().Error(), Err: ctx.Err()}
	}
}

// providerError maps a failed provider call: over a budget (the writer's
// share of the master token, or the provider's own limit) is OverBudget,
// everything else Failed.
func providerError(doing string, err error) *Error {
	var over *budget.OverShareError
	var notSent *notSentError
	if _, limited := provider.IsRateLimited(err); limited || errors.As(err, &over) || errors.As(err, &notSent) {
		return &Error{Code: OverBudget, Reason: fmt.Sprintf("%s: provider budget: %v", doing, err), Err: err}
	}
	if provider.IsRequestFault(err) {
		return &Error{Code: Refused, Reason: fmt.Sprintf("%s: the provider refused the records: %v", doing, err), Err: err}
	}
	return &Error{Code: Failed, Reason: fmt.Sprintf("%s: %v", doing, err), Err: err}
}

// lockKey is one (name, type) a request locks; hold says the request
// changes it (or reads it for a change it decides, a CNAME's), so the lock is
// held until the batch settled. The others are read only, by prerequisites
// and name-wide deletes, and are released once the request is planned.
type lockKey struct {
	key  string
	hold bool
}

// lockKeys are the (name, type) pairs a request must lock, sorted. Two
// namespaces may hold different types at one name (the verdict gives each
// (name, type) to one namespace, and a CNAME to a name alone): their requests
// must not wait for each other. So a request locks the RRsets it reads or
// changes, and every type at a name where it reads or changes the whole name:
// a name prerequisite, a delete of every RRset, or a CNAME (a CNAME add is
// ignored beside other data, and other data beside a CNAME). A request at
// one type reads the name's CNAME only, which no CNAME change can move while
// it holds its type. Of a DeleteName only the granted types are held: it is
// refused if it finds any other.
func lockKeys(ps []Prereq, ops []Op, grants map[Grant]int32) []lockKey {
	hold := map[string]bool{}
	add := func(name, typ string, wholeName, changes bool) {
		if !wholeName && typ != "CNAME" {
			k := name + "\x00" + typ
			hold[k] = hold[k] || changes
			return
		}
		for _, t := range provider.SupportedTypes {
			k := name + "\x00" + t
			_, granted := grants[Grant{Name: name, Type: t}]
			hold[k] = hold[k] || changes && (typ == "CNAME" || granted)
		}
	}
	for _, p := range ps {
		add(p.Name, p.Type, p.Kind == NameInUse || p.Kind == NameNotInUse, false)
	}
	for _, o := range ops {
		add(o.Name, o.Type, o.Kind == DeleteName, true)
	}
	keys := make([]lockKey, 0, len(hold))
	for k, h := range hold {
		keys = append(keys, lockKey{key: k, hold: h})
	}
	slices.SortFunc(keys, func(a, b lockKey) int { return strings.Compare(a.key, b.key) })
	return keys
}

func touchedNames(ps []Prereq, ops []Op) []string {
	names := make([]string, 0, len(ps)+len(ops))
	for _, p := range ps {
		names = append(names, p.Name)
	}
	for _, o := range ops {
		names = append(names, o.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// newPace spreads the writer's batches evenly over its budget's window. The
// provider's limit is "at most N requests in any window": sent as fast as
// they come, the N go out in the first seconds and every request after waits
// for the window to slide, up to the whole window (seconds-long tails in the
// front-door bench). Paced, each batch waits at most an interval and gathers
// what arrives meanwhile, so latency stays near the interval while the
// budget lasts the window. The burst lets a quiet writer answer a few
// requests at once; the rate leaves room for it, so burst plus a window's
// worth stays within N.
func newPace(budget, burst int, window time.Duration) *rate.Limiter {
	if burst <= 0 {
		burst = max(1, budget/20)
	}
	burst = min(burst, budget)
	return rate.NewLimiter(rate.Limit(float64(budget-burst)/window.Seconds()), burst)
}

// notSentError is a batch the scope's pace could not send before its
// deadline: nothing reached the provider, so the snapshot stays, and the
// clients are to back off (OverBudget).
type notSentError struct{ err error }

func (e *notSentError) Error() string {
	return "the scope's pace could not send the batch in time: " + e.err.Error()
}

func (e *notSentError) Unwrap() error { return e.err }

// pacedApplier is a batch.Gate: each batch request waits its turn on the
// pace, the first one while its batch still gathers.
type pacedApplier struct {
	batch.Applier
	pace *rate.Limiter
}

var _ batch.Gate = pacedApplier{}

func (p pacedApplier) Pass(ctx context.Context) error {
	if err := p.pace.Wait(ctx); err != nil {
		return &notSentError{err: err}
	}
	return nil
}
