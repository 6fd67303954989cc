package controllers

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/gateway"
	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/memory"
)

const gcCluster = "it"

var (
	claimA   = provider.OwnerComment(gcCluster, "team-a", "web")
	claimB   = provider.OwnerComment(gcCluster, "team-b", "web")
	gatewayA = gateway.OwnerComment(gcCluster, "team-a")
	gatewayB = gateway.OwnerComment(gcCluster, "team-b")
)

func ids(rs []provider.Record) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestOrphans(t *testing.T) {
	acme := grant.Key{Name: "_acme-challenge.team-a.apps.example.com", Type: "TXT"}
	cases := map[string]struct {
		records []provider.Record
		live    LiveOwners
		want    string
	}{
		"keeps the records of a live claim": {
			records: []provider.Record{rr("1", "web.team-a.apps.example.com", "A", "192.0.2.1", 300, claimA)},
			live:    LiveOwners{Claims: map[string]bool{claimA: true}},
		},
		"removes the records of a claim that no longer exists": {
			records: []provider.Record{
				rr("1", "web.team-a.apps.example.com", "A", "192.0.2.1", 300, claimA),
				rr("2", "web.team-b.apps.example.com", "A", "192.0.2.2", 300, claimB),
			},
			live: LiveOwners{Claims: map[string]bool{claimB: true}},
			want: "1",
		},
		"keeps a gateway record at a name the namespace's key is granted, in any case and with a trailing dot": {
			records: []provider.Record{rr("1", "_ACME-challenge.team-a.apps.example.com.", "txt", "tok", 60, gatewayA)},
			live:    LiveOwners{Gateway: map[string]map[grant.Key]bool{gatewayA: {acme: true}}},
		},
		"removes a gateway record of a namespace no scope grants any more": {
			records: []provider.Record{rr("1", acme.Name, "TXT", "tok", 60, gatewayA)},
			live:    LiveOwners{Gateway: map[string]map[grant.Key]bool{gatewayB: {acme: true}}},
			want:    "1",
		},
		"removes a gateway record at a name the namespace no longer reserves": {
			records: []provider.Record{
				rr("1", acme.Name, "TXT", "tok", 60, gatewayA),
				rr("2", "_acme-challenge.old.team-a.apps.example.com", "TXT", "tok", 60, gatewayA),
			},
			live: LiveOwners{Gateway: map[string]map[grant.Key]bool{gatewayA: {acme: true}}},
			want: "2",
		},
		"removes a gateway record whose type the namespace does not reserve at that name": {
			records: []provider.Record{rr("1", acme.Name, "A", "192.0.2.1", 60, gatewayA)},
			live:    LiveOwners{Gateway: map[string]map[grant.Key]bool{gatewayA: {acme: true}}},
			want:    "1",
		},
		"does not let a live claim's marker keep the gateway's records, nor the reverse": {
			records: []provider.Record{
				rr("1", acme.Name, "TXT", "tok", 60, gatewayA),
				rr("2", acme.Name, "A", "192.0.2.1", 60, claimA),
			},
			live: LiveOwners{Claims: map[string]bool{provider.OwnerComment(gcCluster, "team-a", "other"): true}, Gateway: map[string]map[grant.Key]bool{gatewayB: {acme: true}}},
			want: "1 2",
		},
		"never touches a record without a marker, with another cluster's marker, or with a look-alike": {
			records: []provider.Record{
				rr("1", "web.example.com", "A", "192.0.2.1", 300, ""),
				rr("2", "web.example.com", "A", "192.0.2.2", 300, "managed by hand"),
				rr("3", "web.example.com", "A", "192.0.2.3", 300, provider.OwnerComment("other-cluster", "team-a", "web")),
				rr("4", "web.example.com", "A", "192.0.2.4", 300, "scopedns:it:not a marker"),
				rr("5", "web.example.com", "A", "192.0.2.5", 300, "xscopedns:it:team-a/web"),
			},
		},
		"removes a hashed marker of a gone claim with a long name, and keeps a live one": {
			records: []provider.Record{
				rr("1", "a.example.com", "A", "192.0.2.1", 300, provider.OwnerComment(gcCluster, "team-a", strings.Repeat("long", 20))),
				rr("2", "b.example.com", "A", "192.0.2.2", 300, provider.OwnerComment(gcCluster, "team-a", strings.Repeat("long", 20)+"x")),
			},
			live: LiveOwners{Claims: map[string]bool{provider.OwnerComment(gcCluster, "team-a", strings.Repeat("long", 20)+"x"): true}},
			want: "1",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := ids(orphans(gcCluster, tc.records, tc.live)); got != tc.want {
				t.Errorf("orphans = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDueForRemoval(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	grace := 10 * time.Minute
	rec := rr("1", "web.team-a.apps.example.com", "A", "192.0.2.1", 300, claimA)
	key := "z\x00" + "1\x00" + claimA
	cases := map[string]struct {
		prev        map[string]time.Time
		now         time.Time
		grace       time.Duration
		want        string
		wantWaiting int
	}{
		"holds an orphan seen for the first time": {
			now: t0, wantWaiting: 1,
		},
		"holds an orphan seen again before the grace is over": {
			prev: map[string]time.Time{key: t0}, now: t0.Add(grace - time.Second), wantWaiting: 1,
		},
		"removes an orphan seen on two passes the grace apart": {
			prev: map[string]time.Time{key: t0}, now: t0.Add(grace), want: "1",
		},
		"still needs two passes when the grace is zero": {
			now: t0, grace: -1, wantWaiting: 1,
		},
		"starts over for a record rewritten under another owner": {
			prev: map[string]time.Time{"z\x00" + "1\x00" + claimB: t0}, now: t0.Add(grace), wantWaiting: 1,
		},
		"starts over for the same record in another zone": {
			prev: map[string]time.Time{"y\x00" + "1\x00" + claimA: t0}, now: t0.Add(grace), wantWaiting: 1,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := grace
			if tc.grace != 0 {
				g = 0
			}
			next := map[string]time.Time{}
			due, waiting := dueForRemoval("z", []provider.Record{rec}, tc.prev, next, tc.now, g)
			if got := ids(due); got != tc.want || waiting != tc.wantWaiting {
				t.Errorf("due = %q, %d waiting; want %q, %d waiting", got, waiting, tc.want, tc.wantWaiting)
			}
			if waiting > 0 && next[key].IsZero() {
				t.Errorf("a held orphan is not remembered for the next pass")
			}
		})
	}
}

// liveTable is a LiveSource that returns what the test set.
type liveTable struct{ live LiveOwners }

func (l *liveTable) Live(context.Context) (LiveOwners, error) { return l.live, nil }

// storeProviders hands every scope the memory store's master provider.
type storeProviders struct{ s *memory.Store }

func (p storeProviders) For(context.Context, *v1alpha1.DNSScope) (provider.Provider, error) {
	return p.s.Master(), nil
}

func readyScope(name string, zones ...v1alpha1.ZoneStatus) *v1alpha1.DNSScope {
	return &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1alpha1.DNSScopeSpec{Provider: v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{AccountID: "acct"}}},
		Status: v1alpha1.DNSScopeStatus{Zones: zones, Conditions: []metav1.Condition{{
			Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready", LastTransitionTime: metav1.Now(),
		}}},
	}
}

func TestRecordGCCollectsAfterTheGraceAndOnlyOrphans(t *testing.T) {
	ctx := context.Background()
	store := memory.New(memory.Config{Zones: []string{"example.com"}})
	zoneID := store.ZoneID("example.com")
	seed := []provider.Record{
		rr("", "web.team-a.apps.example.com", "A", "192.0.2.1", 300, claimA),
		rr("", "web.team-b.apps.example.com", "A", "192.0.2.2", 300, claimB),
		rr("", "web.team-c.apps.example.com", "A", "192.0.2.3", 300, ""),
		rr("", "web.team-d.apps.example.com", "A", "192.0.2.4", 300, provider.OwnerComment("other", "team-a", "web")),
	}
	if _, err := store.Master().ApplyChanges(ctx, zoneID, provider.Changes{Create: seed}); err != nil {
		t.Fatal(err)
	}
	cl := fake.NewClientBuilder().WithScheme(testScheme(t)).WithStatusSubresource(&v1alpha1.DNSScope{}).
		WithObjects(readyScope("prod", v1alpha1.ZoneStatus{Name: "example.com", ID: zoneID})).Build()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gc := &RecordGC{
		Client: cl, Providers: storeProviders{store}, ClusterName: gcCluster, Grace: time.Minute,
		Live: &liveTable{LiveOwners{Claims: map[string]bool{claimB: true}}},
		Now:  func() time.Time { return now },
	}
	names := func() string {
		var out []string
		for _, r := range store.Records("example.com") {
			out = append(out, r.Name)
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	all := names()

	if n, err := gc.Collect(ctx); err != nil || n != 0 {
		t.Fatalf("first pass removed %d (%v); an orphan seen once must be held", n, err)
	}
	now = now.Add(30 * time.Second)
	if n, err := gc.Collect(ctx); err != nil || n != 0 {
		t.Fatalf("pass inside the grace removed %d (%v)", n, err)
	}
	now = now.Add(30 * time.Second)
	if n, err := gc.Collect(ctx); err != nil || n != 1 {
		t.Fatalf("pass after the grace removed %d (%v), want 1", n, err)
	}
	want := strings.Replace(all, "web.team-a.apps.example.com ", "", 1)
	if got := names(); got != want {
		t.Errorf("records left = %q, want %q", got, want)
	}
}

func TestClusterLive(t *testing.T) {
	ctx := context.Background()
	scope := readyScope("prod", v1alpha1.ZoneStatus{Name: "example.com", ID: "z"})
	scope.Spec.NamespaceSelector = metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}}
	scope.Spec.Zones = []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{{
		Names: []string{"_acme-challenge.{namespace}.apps.example.com", "web.{namespace}.apps.example.com"},
		Types: []v1alpha1.RecordType{v1alpha1.RecordTypeTXT, v1alpha1.RecordTypeA}, MaxTTL: ptr.To[int32](3600),
	}}}}
	scope.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
	ns := func(name string, selected bool) client.Object {
		l := map[string]string{}
		if selected {
			l["tenant"] = "true"
		}
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
	}
	claim := func(ns, name string, finalizer, deleting bool, records ...v1alpha1.RecordSpec) client.Object {
		c := &v1alpha1.DNSRecordClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: "prod", Records: records}}
		if finalizer {
			c.Finalizers = []string{ClaimFinalizer}
		}
		if deleting {
			c.Finalizers = append(c.Finalizers, "example.com/hold")
			c.DeletionTimestamp = &metav1.Time{Time: time.Now()}
		}
		return c
	}
	acme := func(ns string) v1alpha1.RecordSpec {
		return v1alpha1.RecordSpec{Name: "_acme-challenge." + ns + ".apps.example.com", Type: v1alpha1.RecordTypeTXT}
	}
	web := func(ns string) v1alpha1.RecordSpec {
		return v1alpha1.RecordSpec{Name: "web." + ns + ".apps.example.com", Type: v1alpha1.RecordTypeA, Values: []string{"192.0.2.1"}}
	}
	cl := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithIndex(&v1alpha1.DNSRecordClaim{}, policy.NameIndex, policy.IndexRecordNames).
		WithIndex(&v1alpha1.DNSRecordClaim{}, policy.AncestorIndex, policy.IndexRecordAncestors).
		WithIndex(&v1alpha1.DNSRecordClaim{}, policy.ScopeIndex, policy.IndexScopeName).
		WithObjects(scope,
			ns("team-a", true), ns("team-b", false), ns("team-c", true),
			claim("team-a", "web", true, false, acme("team-a"), web("team-a")),
			claim("team-a", "leaving", true, true, acme("team-a")),
			claim("team-b", "web", true, false, acme("team-b")),
			claim("team-c", "forced", false, true, acme("team-c")),
			claim("team-c", "outside", true, false, v1alpha1.RecordSpec{Name: "_acme-challenge.team-a.apps.example.com", Type: v1alpha1.RecordTypeTXT}),
		).Build()
	live, err := (&ClusterLive{Client: cl, Policies: &policy.Cache{}, ClusterName: gcCluster}).Live(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what   string
		marker string
		want   bool
	}{
		{"a claim that exists is live", claimA, true},
		{"a claim being deleted with the finalizer is live: the claim controller cleans up", provider.OwnerComment(gcCluster, "team-a", "leaving"), true},
		{"a claim being deleted without the finalizer is not", provider.OwnerComment(gcCluster, "team-c", "forced"), false},
		{"a claim that does not exist is not", provider.OwnerComment(gcCluster, "team-a", "gone"), false},
	} {
		if live.Claims[tc.marker] != tc.want {
			t.Errorf("%s: live.Claims[%s] = %v", tc.what, tc.marker, !tc.want)
		}
	}
	key := func(name, typ string) grant.Key { return grant.Key{Name: name, Type: typ} }
	for _, tc := range []struct {
		what   string
		marker string
		key    grant.Key
		want   bool
	}{
		{"a reservation inside the grant of a selected namespace is granted", gatewayA, key("_acme-challenge.team-a.apps.example.com", "TXT"), true},
		{"a record with values is the claim's, not the gateway's", gatewayA, key("web.team-a.apps.example.com", "A"), false},
		{"a namespace the scope no longer selects is granted nothing", gatewayB, key("_acme-challenge.team-b.apps.example.com", "TXT"), false},
		{"a claim being deleted grants nothing", gateway.OwnerComment(gcCluster, "team-c"), key("_acme-challenge.team-c.apps.example.com", "TXT"), false},
		{"a reservation outside the namespace's grant is not granted", gateway.OwnerComment(gcCluster, "team-c"), key("_acme-challenge.team-a.apps.example.com", "TXT"), false},
	} {
		if live.Gateway[tc.marker][tc.key] != tc.want {
			t.Errorf("%s: granted = %v", tc.what, !tc.want)
		}
	}
}

// failingFor fails to build the provider of the named scope.
type failingFor struct {
	storeProviders
	broken string
}

func (p failingFor) For(ctx context.Context, s *v1alpha1.DNSScope) (provider.Provider, error) {
	if s.Name == p.broken {
		return nil, errors.New("master Secret not found")
	}
	return p.storeProviders.For(ctx, s)
}

func TestRecordGCCollectsASharedZoneThroughAnotherScopeWhenOneCannotConnect(t *testing.T) {
	ctx := context.Background()
	store := memory.New(memory.Config{Zones: []string{"example.com"}})
	zoneID := store.ZoneID("example.com")
	if _, err := store.Master().ApplyChanges(ctx, zoneID, provider.Changes{Create: []provider.Record{
		rr("", "web.team-a.apps.example.com", "A", "192.0.2.1", 300, claimA),
	}}); err != nil {
		t.Fatal(err)
	}
	zone := v1alpha1.ZoneStatus{Name: "example.com", ID: zoneID}
	cl := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithObjects(readyScope("a-broken", zone), readyScope("b-fine", zone)).Build()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gc := &RecordGC{
		Client: cl, Providers: failingFor{storeProviders{store}, "a-broken"}, ClusterName: gcCluster, Grace: time.Minute,
		Live: &liveTable{}, Now: func() time.Time { return now },
	}
	for range 2 {
		if _, err := gc.Collect(ctx); err != nil {
			t.Fatalf("Collect: %v", err)
		}
		now = now.Add(time.Minute)
	}
	if recs := store.Records("example.com"); len(recs) != 0 {
		t.Errorf("the orphan is still there: %v", recs)
	}
}
