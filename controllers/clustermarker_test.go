package controllers

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
	"github.com/scopedns/scopedns/internal/provider/memory"
)

type fixedProvider struct{ p provider.Provider }

func (f fixedProvider) For(context.Context, *v1alpha1.DNSScope) (provider.Provider, error) {
	return f.p, nil
}

// Two installations started with one --cluster-name on one provider
// account: the second finds the first's zone marker, reports it, and
// neither collects the first's records nor sweeps its tokens. Before the
// markers, its record GC deleted the first's records after the grace and its
// sweep revoked the first's tokens.
func TestASecondInstallationOfOneClusterNameTouchesNothingOfTheFirst(t *testing.T) {
	backends := map[string]func(t *testing.T) (provider.Provider, string){
		"on the memory provider": func(t *testing.T) (provider.Provider, string) {
			s := memory.New(memory.Config{Zones: []string{"example.com"}})
			return s.Master(), s.ZoneID("example.com")
		},
		"on the Cloudflare provider against the simulator": func(t *testing.T) (provider.Provider, string) {
			const master = "master-token-value-0123456789abcdef"
			s, err := sim.New(sim.Config{Zones: []string{"example.com"}, MasterToken: master})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			p, err := cloudflare.New(cloudflare.Options{AccountID: s.AccountID(), APIToken: master, BaseURL: srv.URL + "/client/v4/", MaxRetries: -1, RateLimit: -1})
			if err != nil {
				t.Fatal(err)
			}
			return p, s.ZoneID("example.com")
		},
	}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			p, zoneID := backend(t)
			zone := provider.Zone{ID: zoneID, Name: "example.com"}
			scope := readyScope("prod", v1alpha1.ZoneStatus{Name: zone.Name, ID: zoneID})

			// The first installation marks the zone, writes a claim's
			// record and holds a token.
			first := &ZoneMarks{ClusterName: gcCluster, Instance: "first"}
			if err := first.Check(ctx, p, providerAccount(scope), zone); err != nil {
				t.Fatalf("the first installation: %v", err)
			}
			if _, err := p.ApplyChanges(ctx, zoneID, provider.Changes{Create: []provider.Record{
				rr("", "web.team-a.apps.example.com", "A", "192.0.2.1", 300, claimA),
			}}); err != nil {
				t.Fatal(err)
			}
			token, err := p.MintToken(ctx, provider.TokenSpec{Name: provider.TokenName(gcCluster, "prod", "team-a", "1"), ZoneIDs: []string{zoneID}})
			if err != nil {
				t.Fatal(err)
			}

			// The second has the same name, another instance, no claims
			// and no DNSCredentials.
			second := &ZoneMarks{ClusterName: gcCluster, Instance: "second"}
			cl := fake.NewClientBuilder().WithScheme(testScheme(t)).WithStatusSubresource(&v1alpha1.DNSScope{}).WithObjects(scope).Build()
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			gc := &RecordGC{
				Client: cl, Providers: fixedProvider{p}, ClusterName: gcCluster, Grace: time.Minute,
				Live: &liveTable{LiveOwners{}}, Now: func() time.Time { return now },
				Marks: second,
			}
			for range 3 {
				n, err := gc.Collect(ctx)
				if n != 0 {
					t.Fatalf("the second installation's record GC removed %d records of the first", n)
				}
				if gc.Marks != nil && !errors.Is(err, provider.ErrClusterNameConflict) {
					t.Fatalf("the record GC says %v, want the cluster name conflict", err)
				}
				now = now.Add(2 * time.Minute)
			}
			recs, err := p.Records(ctx, zoneID, provider.RecordFilter{Owner: claimA})
			if err != nil || len(recs) != 1 {
				t.Fatalf("the first installation's record: %v, %v; want it kept", recs, err)
			}

			sweeper := &TokenSweeper{Client: cl, Providers: fixedProvider{p}, ClusterName: gcCluster, MinAge: time.Nanosecond, Marks: second}
			if n, err := sweeper.Sweep(ctx); err != nil || n != 0 {
				t.Fatalf("the second installation's sweep revoked %d tokens (%v)", n, err)
			}
			if _, err := p.Token(ctx, token.ID); err != nil {
				t.Fatalf("the first installation's token: %v; want it alive", err)
			}

			rec := events.NewFakeRecorder(10)
			sr := &ScopeReconciler{Client: cl, Recorder: rec, Marks: second}
			if conflict, err := sr.reportMarks(ctx, scope, p, []provider.Zone{zone}); err != nil || !conflict {
				t.Fatalf("the scope's report: conflict %v, %v", conflict, err)
			}
			c := meta.FindStatusCondition(scope.Status.Conditions, v1alpha1.ConditionClusterNameConflict)
			if c == nil || c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.ReasonClusterNameConflict || !strings.Contains(c.Message, "instance first") {
				t.Fatalf("ClusterNameConflict = %+v", c)
			}
			if ev := <-rec.Events; !strings.Contains(ev, "Warning "+v1alpha1.ReasonClusterNameConflict) {
				t.Fatalf("event %q", ev)
			}
			// The first installation, looking again, finds the second.
			first.Interval = time.Nanosecond
			if err := first.Check(ctx, p, providerAccount(scope), zone); !errors.Is(err, provider.ErrClusterNameConflict) {
				t.Fatalf("the first installation after the second marked the zone: %v", err)
			}
		})
	}
}

// countingProvider counts record lists and can refuse writes.
type countingProvider struct {
	provider.Provider
	lists       int
	refuseWrite bool
}

func (c *countingProvider) Records(ctx context.Context, zoneID string, f provider.RecordFilter) ([]provider.Record, error) {
	c.lists++
	return c.Provider.Records(ctx, zoneID, f)
}

func (c *countingProvider) ApplyChanges(ctx context.Context, zoneID string, ch provider.Changes) (provider.ApplyResult, error) {
	if c.refuseWrite {
		return provider.ApplyResult{}, &provider.Error{Op: "records.batch", Kind: provider.KindForbidden, Message: "update-policy refuses the name"}
	}
	return c.Provider.ApplyChanges(ctx, zoneID, ch)
}

func TestZoneMarks(t *testing.T) {
	ctx := context.Background()
	type env struct {
		p     *countingProvider
		zone  provider.Zone
		marks *ZoneMarks
		now   *time.Time
	}
	setup := func(t *testing.T) env {
		s := memory.New(memory.Config{Zones: []string{"example.com"}})
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		e := env{p: &countingProvider{Provider: s.Master()}, zone: provider.Zone{ID: s.ZoneID("example.com"), Name: "example.com"}, now: &now}
		e.marks = &ZoneMarks{ClusterName: gcCluster, Instance: "mine", Interval: 10 * time.Minute, Now: func() time.Time { return *e.now }}
		return e
	}
	cases := map[string]func(t *testing.T, e env){
		"a zone without a conflict is looked at once per interval": func(t *testing.T, e env) {
			for range 3 {
				if err := e.marks.Check(ctx, e.p, "acct", e.zone); err != nil {
					t.Fatal(err)
				}
			}
			*e.now = e.now.Add(11 * time.Minute)
			if err := e.marks.Check(ctx, e.p, "acct", e.zone); err != nil {
				t.Fatal(err)
			}
			if e.p.lists != 2 {
				t.Fatalf("%d lists, want 2", e.p.lists)
			}
		},
		"a zone in conflict is the installation's a minute after the other marker is deleted": func(t *testing.T, e env) {
			if err := provider.MarkZone(ctx, e.p, e.zone, gcCluster, "theirs"); err != nil {
				t.Fatal(err)
			}
			if err := e.marks.Check(ctx, e.p, "acct", e.zone); !errors.Is(err, provider.ErrClusterNameConflict) {
				t.Fatalf("got %v, want the conflict", err)
			}
			theirs, err := e.p.Records(ctx, e.zone.ID, provider.RecordFilter{Name: provider.ClusterMarkerName(e.zone.Name)})
			if err != nil {
				t.Fatal(err)
			}
			var stale []provider.Record
			for _, r := range theirs {
				if strings.Contains(r.Content, "theirs") {
					stale = append(stale, r)
				}
			}
			if _, err := e.p.ApplyChanges(ctx, e.zone.ID, provider.Changes{Delete: stale}); err != nil || len(stale) != 1 {
				t.Fatalf("deleting the other marker (%d): %v", len(stale), err)
			}
			if err := e.marks.Check(ctx, e.p, "acct", e.zone); !errors.Is(err, provider.ErrClusterNameConflict) {
				t.Fatalf("within the minute: got %v, want the remembered conflict", err)
			}
			*e.now = e.now.Add(conflictRecheck)
			if err := e.marks.Check(ctx, e.p, "acct", e.zone); err != nil {
				t.Fatalf("a minute later: %v", err)
			}
		},
		"a marker the credential may not write leaves the zone usable": func(t *testing.T, e env) {
			e.p.refuseWrite = true
			if err := e.marks.Check(ctx, e.p, "acct", e.zone); err != nil {
				t.Fatalf("got %v, want nil", err)
			}
		},
		"another cluster name's marker is no conflict": func(t *testing.T, e env) {
			if err := provider.MarkZone(ctx, e.p, e.zone, "other-cluster", "theirs"); err != nil {
				t.Fatal(err)
			}
			if err := e.marks.Check(ctx, e.p, "acct", e.zone); err != nil {
				t.Fatalf("got %v", err)
			}
		},
	}
	for name, run := range cases {
		t.Run(name, func(t *testing.T) { run(t, setup(t)) })
	}
}

func TestInstanceIDTellsInstallationsApart(t *testing.T) {
	a := InstanceID("uid-1", "scopedns-system")
	for what, other := range map[string]string{
		"another cluster":   InstanceID("uid-2", "scopedns-system"),
		"another namespace": InstanceID("uid-1", "scopedns-b"),
	} {
		if other == a {
			t.Errorf("%s has the same instance ID %s", what, a)
		}
	}
	if InstanceID("uid-1", "scopedns-system") != a {
		t.Errorf("the instance ID is not stable")
	}
}

func TestGuardRefusesTheFrontDoorsWritesInAZoneOfAnotherInstallation(t *testing.T) {
	ctx := context.Background()
	s := memory.New(memory.Config{Zones: []string{"example.com", "example.net"}})
	p := s.Master()
	clash := provider.Zone{ID: s.ZoneID("example.com"), Name: "example.com"}
	if err := provider.MarkZone(ctx, p, clash, gcCluster, "elsewhere"); err != nil {
		t.Fatal(err)
	}
	scope := readyScope("prod", v1alpha1.ZoneStatus{Name: "example.com", ID: clash.ID}, v1alpha1.ZoneStatus{Name: "example.net", ID: s.ZoneID("example.net")})
	guarded := (&ZoneMarks{ClusterName: gcCluster, Instance: "mine"}).Guard(p, scope)
	write := func(zone, name string) error {
		_, err := guarded.ApplyChanges(ctx, s.ZoneID(zone), provider.Changes{Create: []provider.Record{
			rr("", name, "TXT", "token", 60, gatewayA),
		}})
		return err
	}
	err := write("example.com", "_acme-challenge.team-a.example.com")
	if !errors.Is(err, provider.ErrClusterNameConflict) || strings.Contains(err.Error(), "elsewhere") {
		t.Fatalf("a write in the marked zone: %v; want the conflict, in words that name no installation", err)
	}
	if recs, _ := p.Records(ctx, clash.ID, provider.RecordFilter{Owner: gatewayA}); len(recs) != 0 {
		t.Fatalf("the refused write landed: %v", recs)
	}
	if err := write("example.net", "_acme-challenge.team-a.example.net"); err != nil {
		t.Fatalf("a write in the scope's other zone: %v", err)
	}
	if (*ZoneMarks)(nil).Guard(p, scope) != p {
		t.Fatalf("a nil ZoneMarks wraps the provider")
	}
}
