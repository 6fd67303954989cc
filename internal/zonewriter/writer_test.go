package zonewriter

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/memory"
)

const (
	testZone    = "example.com"
	testCluster = "test"
)

type fixture struct {
	store  *memory.Store
	zoneID string
	w      *Writer
}

// slowProvider answers batches after a delay, as a provider across a
// network does.
type slowProvider struct {
	Provider
	delay time.Duration
}

func (p slowProvider) ApplyChanges(ctx context.Context, zoneID string, c provider.Changes) (provider.ApplyResult, error) {
	time.Sleep(p.delay)
	return p.Provider.ApplyChanges(ctx, zoneID, c)
}

func newFixture(t *testing.T, o Options) *fixture {
	return newFixtureWithLatency(t, o, 0)
}

func newFixtureWithLatency(t *testing.T, o Options, latency time.Duration) *fixture {
	t.Helper()
	store := memory.New(memory.Config{Zones: []string{testZone}})
	f := &fixture{store: store, zoneID: store.ZoneID(testZone)}
	var p Provider = store.Master()
	if latency > 0 {
		p = slowProvider{Provider: p, delay: latency}
	}
	o.Providers = ProvidersFunc(func(context.Context, string) (Provider, error) { return p, nil })
	w, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.w = w
	return f
}

func tenant(ns string, grants ...Grant) Tenant {
	g := map[Grant]int32{}
	for _, x := range grants {
		g[x] = 0
	}
	return Tenant{Namespace: ns, Scope: "prod", Owner: OwnerComment(testCluster, ns), Grants: g}
}

func (f *fixture) write(t Tenant, ops ...Op) (Result, error) {
	return f.w.Write(context.Background(), Request{Tenant: t, Zone: testZone, ZoneID: f.zoneID, Ops: ops, Protocol: "test"})
}

func (f *fixture) contents(name, typ string) []string {
	var out []string
	for _, r := range f.store.Records(testZone) {
		if r.Name == name && r.Type == typ {
			out = append(out, r.Content)
		}
	}
	slices.Sort(out)
	return out
}

func codeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

func TestConcurrentRequestsOfManyTenantsShareOneListingAndFewBatches(t *testing.T) {
	f := newFixtureWithLatency(t, Options{}, 50*time.Millisecond)
	const tenants = 100
	var wg sync.WaitGroup
	errs := make(chan error, tenants)
	for i := range tenants {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("_acme-challenge.t%d.example.com", i)
			tn := tenant(fmt.Sprintf("team-%d", i), Grant{Name: name, Type: "TXT"})
			if _, err := f.write(tn, Op{Kind: Add, Name: name, Type: "TXT", Content: "token"}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	calls := f.store.Calls()
	if got := len(f.store.Records(testZone)); got != tenants {
		t.Fatalf("%d records written, want %d", got, tenants)
	}
	if calls[provider.OpRecordsList] != 1 {
		t.Errorf("the zone was listed %d times, want once", calls[provider.OpRecordsList])
	}
	// 100 requests arriving together at a provider 50ms away: the first goes
	// out alone at once, the rest gather while it is in flight.
	if calls[provider.OpRecordsBatch] > 4 {
		t.Errorf("%d batches for %d concurrent requests, want at most 4", calls[provider.OpRecordsBatch], tenants)
	}
}

func TestRequestsAreAnsweredFromTheSnapshot(t *testing.T) {
	f := newFixture(t, Options{})
	name := "home.team-a.example.com"
	tn := tenant("team-a", Grant{Name: name, Type: "A"})
	replace := func(ip string) (Result, error) {
		return f.write(tn, Op{Kind: Replace, Name: name, Type: "A", Values: []string{ip}, TTL: 60})
	}
	if res, err := replace("203.0.113.1"); err != nil || res.Created != 1 {
		t.Fatalf("first address: %+v %v", res, err)
	}
	before := f.store.Calls()
	res, err := replace("203.0.113.1")
	if err != nil || res.Changed() {
		t.Fatalf("the same address again changed something: %+v %v", res, err)
	}
	if after := f.store.Calls(); after[provider.OpRecordsList] != before[provider.OpRecordsList] || after[provider.OpRecordsBatch] != before[provider.OpRecordsBatch] {
		t.Fatalf("an unchanged address cost provider requests: %v then %v", before, after)
	}
	if res, err := replace("203.0.113.2"); err != nil || res.Created != 1 || res.Deleted != 1 {
		t.Fatalf("a new address: %+v %v", res, err)
	}
	if got := f.contents(name, "A"); !slices.Equal(got, []string{"203.0.113.2"}) {
		t.Fatalf("records %v, want the new address only", got)
	}
}

func TestKeepNewestKeepsTheTwoNewestValuesEvenWhenTwoArriveAtOnce(t *testing.T) {
	f := newFixtureWithLatency(t, Options{}, 30*time.Millisecond)
	name := "_acme-challenge.www.example.com"
	tn := tenant("team-a", Grant{Name: name, Type: "TXT"})
	add := func(v string) error {
		_, err := f.write(tn, Op{Kind: AddKeepNewest, Name: name, Type: "TXT", Content: v, Keep: 2})
		return err
	}
	if err := add("old"); err != nil {
		t.Fatal(err)
	}
	// The apex and the wildcard challenge of one certificate, at once.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, v := range []string{"apex", "wildcard"} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = add(v) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if got := f.contents(name, "TXT"); !slices.Equal(got, []string{"apex", "wildcard"}) {
		t.Fatalf("records %v, want the two newest values", got)
	}
}

func TestTheWriterRefusesWhatTheTenantMayNotDo(t *testing.T) {
	mine := "_acme-challenge.a.example.com"
	f := newFixture(t, Options{})
	if _, err := f.store.Master().ApplyChanges(context.Background(), f.zoneID, provider.Changes{Create: []provider.Record{
		{Name: mine, Type: "TXT", Content: "by hand", TTL: 60},
	}}); err != nil {
		t.Fatal(err)
	}
	limited := tenant("team-a", Grant{Name: mine, Type: "TXT"})
	limited.Grants[Grant{Name: mine, Type: "TXT"}] = 120
	for _, tc := range []struct {
		name string
		op   Op
		pre  []Prereq
		want Code
	}{
		{"a name outside the grants", Op{Kind: Add, Name: "payroll.example.com", Type: "TXT", Content: "x"}, nil, Refused},
		{"a type not granted at a granted name", Op{Kind: Add, Name: mine, Type: "A", Content: "192.0.2.1"}, nil, Refused},
		{"a TTL above the granted one", Op{Kind: Add, Name: mine, Type: "TXT", Content: "x", TTL: 300}, nil, Refused},
		{"a record someone else wrote", Op{Kind: DeleteValue, Name: mine, Type: "TXT", Content: "by hand"}, nil, Refused},
		{"a prerequisite where the tenant has no grant", Op{Kind: Add, Name: mine, Type: "TXT", Content: "x"}, []Prereq{{Kind: NameInUse, Name: "payroll.example.com"}}, Refused},
		{"a name outside the zone", Op{Kind: Add, Name: "example.org", Type: "TXT", Content: "x"}, nil, Invalid},
		{"keep-newest keeping nothing", Op{Kind: AddKeepNewest, Name: mine, Type: "TXT", Content: "x"}, nil, Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.w.Write(context.Background(), Request{Tenant: limited, Zone: testZone, ZoneID: f.zoneID, Prereqs: tc.pre, Ops: []Op{tc.op}})
			if got := codeOf(err); got != tc.want {
				t.Fatalf("code %d (%v), want %d", got, err, tc.want)
			}
			if got := f.contents(mine, "TXT"); !slices.Equal(got, []string{"by hand"}) {
				t.Fatalf("records changed to %v", got)
			}
		})
	}
}

func TestOneFloodingTenantIsRefusedBeforeTheOthers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	f := newFixture(t, Options{RequestBudget: 10, PaceBurst: 10, BudgetWindow: time.Minute, Now: func() time.Time { return now }})
	a := "_acme-challenge.a.example.com"
	b := "_acme-challenge.b.example.com"
	ta, tb := tenant("team-a", Grant{Name: a, Type: "TXT"}), tenant("team-b", Grant{Name: b, Type: "TXT"})
	refusedAt := -1
	for i := range 20 {
		_, err := f.write(ta, Op{Kind: Add, Name: a, Type: "TXT", Content: fmt.Sprint("v", i)})
		if err != nil {
			if codeOf(err) != OverBudget {
				t.Fatalf("flood request %d: %v", i, err)
			}
			refusedAt = i
			break
		}
	}
	// Alone, team-a may use half of the budget with its headroom (1.5 × 10
	// / 2 = 7.5 requests); a batch is charged once it is sent, so the eighth
	// goes out and the ninth is refused.
	if refusedAt != 8 {
		t.Fatalf("team-a refused at request %d, want 8", refusedAt)
	}
	if _, err := f.write(tb, Op{Kind: Add, Name: b, Type: "TXT", Content: "b"}); err != nil {
		t.Fatalf("team-b during team-a's flood: %v", err)
	}
}

func TestAProviderRefusalFailsOnlyItsRequestAndKeepsTheSnapshot(t *testing.T) {
	f := newFixture(t, Options{})
	name := "_acme-challenge.a.example.com"
	tn := tenant("team-a", Grant{Name: name, Type: "TXT"})
	if _, err := f.write(tn, Op{Kind: Add, Name: name, Type: "TXT", Content: "kept"}); err != nil {
		t.Fatal(err)
	}
	f.store.FailNext(provider.OpRecordsBatch, &provider.Error{Kind: provider.KindInvalid, Op: provider.OpRecordsBatch, Message: "content refused"})
	_, err := f.write(tn, Op{Kind: Add, Name: name, Type: "TXT", Content: "refused"})
	if codeOf(err) != Refused {
		t.Fatalf("a refused batch: %v, want Refused", err)
	}
	lists := f.store.Calls()[provider.OpRecordsList]
	if _, err := f.write(tn, Op{Kind: DeleteValue, Name: name, Type: "TXT", Content: "kept"}); err != nil {
		t.Fatalf("deleting after the refusal: %v", err)
	}
	if got := f.store.Calls()[provider.OpRecordsList]; got != lists {
		t.Errorf("a refusal of the request's content made the writer list the zone again (%d lists, was %d)", got, lists)
	}
	if got := f.contents(name, "TXT"); len(got) != 0 {
		t.Fatalf("records %v, want none", got)
	}
}

func TestThePaceKeepsAnyWindowWithinTheBudget(t *testing.T) {
	for _, tc := range []struct {
		name          string
		budget, burst int
	}{
		{"Cloudflare's half for the front doors", 600, 0},
		{"a budget smaller than the default burst's divisor", 10, 0},
		{"a burst asked above the budget", 20, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			window := 5 * time.Minute
			p := newPace(tc.budget, tc.burst, window)
			if most := float64(p.Burst()) + float64(p.Limit())*window.Seconds(); most > float64(tc.budget)+1e-9 {
				t.Fatalf("burst %d + %.2f/s over %s = %.1f requests, above the budget %d", p.Burst(), float64(p.Limit()), window, most, tc.budget)
			}
		})
	}
}

func TestARecordRemovedBehindTheWritersBackIsSeenAfterTheFailure(t *testing.T) {
	f := newFixture(t, Options{})
	name := "home.team-a.example.com"
	tn := tenant("team-a", Grant{Name: name, Type: "A"})
	replace := func(ip string) error {
		_, err := f.write(tn, Op{Kind: Replace, Name: name, Type: "A", Values: []string{ip}})
		return err
	}
	if err := replace("203.0.113.1"); err != nil {
		t.Fatal(err)
	}
	// Someone deletes the record at the provider; the snapshot still has it.
	recs := f.store.Records(testZone)
	if _, err := f.store.Master().ApplyChanges(context.Background(), f.zoneID, provider.Changes{Delete: recs}); err != nil {
		t.Fatal(err)
	}
	if err := replace("203.0.113.2"); err == nil {
		t.Fatal("deleting a record that is gone succeeded at the provider")
	}
	// The failure told the writer its snapshot is wrong: the next request
	// lists the zone again and lands.
	if err := replace("203.0.113.2"); err != nil {
		t.Fatalf("the retry after the failure: %v", err)
	}
	if got := f.contents(name, "A"); !slices.Equal(got, []string{"203.0.113.2"}) {
		t.Fatalf("records %v", got)
	}
}

// blockingProvider holds every batch until released.
type blockingProvider struct {
	Provider
	entered chan struct{}
	release chan struct{}
}

func (p blockingProvider) ApplyChanges(ctx context.Context, zoneID string, c provider.Changes) (provider.ApplyResult, error) {
	p.entered <- struct{}{}
	<-p.release
	return p.Provider.ApplyChanges(ctx, zoneID, c)
}

func TestTwoNamespacesAtOneNameWithOtherTypesDoNotWaitForEachOther(t *testing.T) {
	store := memory.New(memory.Config{Zones: []string{testZone}})
	bp := blockingProvider{Provider: store.Master(), entered: make(chan struct{}, 4), release: make(chan struct{})}
	w, err := New(Options{Providers: ProvidersFunc(func(context.Context, string) (Provider, error) { return bp, nil })})
	if err != nil {
		t.Fatal(err)
	}
	name := "shared.example.com"
	ta, tb := tenant("team-a", Grant{Name: name, Type: "A"}), tenant("team-b", Grant{Name: name, Type: "TXT"})
	req := func(tn Tenant, op Op) Request {
		return Request{Tenant: tn, Zone: testZone, ZoneID: store.ZoneID(testZone), Ops: []Op{op}}
	}
	aDone := make(chan error, 1)
	go func() {
		_, err := w.Write(context.Background(), req(ta, Op{Kind: Add, Name: name, Type: "A", Content: "192.0.2.1"}))
		aDone <- err
	}()
	<-bp.entered // team-a's batch is at the provider, and stays there
	bDone := make(chan error, 1)
	go func() {
		_, err := w.Write(context.Background(), req(tb, Op{Kind: Add, Name: name, Type: "TXT", Content: "v"}))
		bDone <- err
	}()
	// team-b's request plans while team-a's batch is out, and its batch
	// gathers behind it: it does not wait at team-a's name lock.
	deadline := time.After(10 * time.Second)
	for w.pendingAt(store.ZoneID(testZone)) == 0 {
		select {
		case err := <-bDone:
			t.Fatalf("team-b returned before team-a's batch settled: %v", err)
		case <-deadline:
			t.Fatal("team-b's request never planned while team-a's batch was out: it waits for team-a's lock")
		case <-time.After(time.Millisecond):
		}
	}
	close(bp.release)
	if err := errors.Join(<-aDone, <-bDone); err != nil {
		t.Fatal(err)
	}
}

// A request that arrives while a batch waits its turn on the pace rides in
// that batch: it does not make up the next batch alone and spend a turn of
// its own (which charged a tenant out of step with the others a whole request
// per update, and refused it within seconds in the front-door bench).
func TestARequestArrivingWhileABatchWaitsItsTurnJoinsIt(t *testing.T) {
	f := newFixture(t, Options{RequestBudget: 6, PaceBurst: 1, BudgetWindow: time.Second}) // a turn every 200ms
	names := []string{"_acme-challenge.a.example.com", "_acme-challenge.b.example.com", "_acme-challenge.c.example.com"}
	write := func(i int) error {
		tn := tenant(fmt.Sprintf("team-%d", i), Grant{Name: names[i], Type: "TXT"})
		_, err := f.write(tn, Op{Kind: Add, Name: names[i], Type: "TXT", Content: "v"})
		return err
	}
	if err := write(0); err != nil { // spends the burst
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- write(1) }() // waits about 200ms for its turn
	deadline := time.Now().Add(5 * time.Second)
	for f.w.pendingAt(f.zoneID) == 0 && f.w.inflightAt(f.zoneID) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	go func() { errs <- write(2) }()
	if err := errors.Join(<-errs, <-errs); err != nil {
		t.Fatal(err)
	}
	if got := f.store.Calls()[provider.OpRecordsBatch]; got != 2 {
		t.Fatalf("%d batches, want 2: the request that came while the second waited its turn went alone", got)
	}
}
