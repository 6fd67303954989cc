package zonewriter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/scopedns/scopedns/internal/batch"
	"github.com/scopedns/scopedns/internal/budget"
	"github.com/scopedns/scopedns/internal/provider"
)

const (
	defaultWindow       = 100 * time.Millisecond
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
)

// Writer applies front-door requests; it is safe for concurrent use.
type Writer struct {
	o       Options
	batches *batch.Batcher
	fair    *budget.Fair // in costUnits; nil: no per-tenant budget

	mu    sync.Mutex
	zones map[string]*zone // zone ID -> snapshot
}

// New checks the options and builds a writer.
func New(o Options) (*Writer, error) {
	if o.Providers == nil {
		return nil, errors.New("zonewriter: Options.Providers is required")
	}
	if o.Window <= 0 {
		o.Window = defaultWindow
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
	w := &Writer{o: o, zones: map[string]*zone{}}
	w.batches = batch.New(o.Window, o.MaxChanges, batch.Hooks{Split: o.Hooks.Split, Refused: o.Hooks.Refused})
	if o.RequestBudget > 0 {
		w.fair = budget.NewFair(o.RequestBudget*costUnit, o.BudgetWindow)
	}
	return w, nil
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
	for {
		plan, e := w.plan(ctx, p, r, ops, names)
		if e != nil {
			return Result{}, e
		}
		if plan == nil {
			continue // waited for a batch or a listing: plan again
		}
		if plan.changes.IsEmpty() {
			return Result{}, nil
		}
		return w.send(p, r.ZoneID, plan)
	}
}

// planned is a request decided against the snapshot, its names marked busy.
type planned struct {
	z       *zone
	tenant  string
	names   []string
	changes provider.Changes
	refs    changeRefs
	done    chan struct{}
}

// plan decides the request against the zone's snapshot. It returns nil, nil
// after waiting for something (a listing, a batch at one of the names): the
// caller plans again on the newer state.
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
	for _, n := range names {
		if ch := z.busy[n]; ch != nil {
			w.mu.Unlock()
			return nil, waitFor(ctx, ch)
		}
	}
	v := newView(r.Zone, r.Tenant)
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
	if e := w.allowed(r.Tenant.Namespace); e != nil {
		w.mu.Unlock()
		return nil, e
	}
	pl := &planned{z: z, tenant: r.Tenant.Namespace, names: names, changes: changes, refs: refs, done: make(chan struct{})}
	for _, n := range names {
		z.busy[n] = pl.done
	}
	w.mu.Unlock()
	return pl, nil
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
	for _, ch := range z.busy {
		if z.fetched.IsZero() {
			return ch, nil
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
	res, cost, err := w.batches.ApplyCost(ctx, p, zoneID, pl.changes)
	cancel()
	if w.fair != nil {
		w.fair.Add(pl.tenant, int(math.Ceil(cost*costUnit)), w.o.Now())
	}
	w.mu.Lock()
	w.settle(pl, res, err)
	for _, n := range pl.names {
		if pl.z.busy[n] == pl.done {
			delete(pl.z.busy, n)
		}
	}
	close(pl.done)
	w.mu.Unlock()
	if err != nil {
		if !provider.IsRequestFault(err) {
			w.o.Logger.Error("writing a front-door batch", "zoneID", zoneID, "error", err)
		}
		return Result{}, providerError("writing records", err)
	}
	return Result{Created: len(pl.changes.Create), Updated: len(pl.changes.UpdateNew), Deleted: len(pl.changes.Delete)}, nil
}

// settle brings the snapshot up to date after a batch: what the provider
// stored on success; nothing on a refusal of the request's content (the
// provider applied none of it); on any other error the snapshot is listed
// again, since what the provider did is not known. Called with w.mu held.
func (w *Writer) settle(pl *planned, res provider.ApplyResult, err error) {
	z := pl.z
	if err != nil {
		if !provider.IsRequestFault(err) || len(res.Created)+len(res.Updated)+len(res.Deleted) > 0 {
			z.fetched = time.Time{}
		}
		return
	}
	for i, c := range pl.changes.Create {
		if i < len(res.Created) && res.Created[i].ID != "" {
			c = res.Created[i]
		}
		z.put(c)
	}
	for i, r := range pl.refs.updated {
		u := pl.changes.UpdateNew[i]
		if i < len(res.Updated) && res.Updated[i].ID != "" {
			u = res.Updated[i]
		}
		r.Record = u
	}
	for _, r := range pl.refs.deleted {
		z.remove(provider.NormalizeName(r.Name), r)
	}
}

// allowed refuses a tenant that used its fair part of the writer's request
// budget. Called with w.mu held.
func (w *Writer) allowed(tenant string) *Error {
	if w.fair == nil {
		return nil
	}
	now := w.o.Now()
	if w.fair.Allowed(tenant, now) {
		return nil
	}
	return &Error{Code: OverBudget, Reason: fmt.Sprintf(
		"namespace %s used its share of the provider budget (%.1f requests per %s while others are active)",
		tenant, float64(w.fair.Allowance(now))/costUnit, w.o.BudgetWindow)}
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
	if _, limited := provider.IsRateLimited(err); limited || errors.As(err, &over) {
		return &Error{Code: OverBudget, Reason: fmt.Sprintf("%s: provider budget: %v", doing, err), Err: err}
	}
	if provider.IsRequestFault(err) {
		return &Error{Code: Refused, Reason: fmt.Sprintf("%s: the provider refused the records: %v", doing, err), Err: err}
	}
	return &Error{Code: Failed, Reason: fmt.Sprintf("%s: %v", doing, err), Err: err}
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
