package grant_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/kubectlplugin"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/webhook"
)

// The admission webhook and `kubectl scopedns can-i` both answer from
// policy.Decide; these tests hold them to the same answer on every hostile
// input of the grant engine, so a plugin that decided anything on its own
// (or asked the verdict differently) fails here.

const tenantLabel = "scopedns.io/tenant"

// scopeOf is the DNSScope of a grant policy: the inverse of policy.FromScope.
func scopeOf(name string, p grant.Policy) *v1alpha1.DNSScope {
	s := &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID("uid-" + name), Generation: 1},
		Spec: v1alpha1.DNSScopeSpec{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{tenantLabel: "true"}},
		},
	}
	for _, z := range p.Zones {
		zg := v1alpha1.ZoneGrant{Name: z.Name}
		for _, r := range z.Rules {
			gr := v1alpha1.GrantRule{Names: r.Names}
			for _, t := range r.Types {
				gr.Types = append(gr.Types, v1alpha1.RecordType(t))
			}
			if r.MaxTTL != 0 {
				gr.MaxTTL = ptr.To(r.MaxTTL)
			}
			zg.Rules = append(zg.Rules, gr)
		}
		s.Spec.Zones = append(s.Spec.Zones, zg)
	}
	return s
}

// cluster is a fake API server holding objs, with the manager's indexes
// (the webhook reads through them; the plugin lists).
func cluster(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithIndex(&v1alpha1.DNSRecordClaim{}, policy.NameIndex, policy.IndexRecordNames).
		WithIndex(&v1alpha1.DNSRecordClaim{}, policy.AncestorIndex, policy.IndexRecordAncestors).
		Build()
}

func tenant(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{tenantLabel: "true"}}}
}

func claimOf(ns, scope string, r grant.Record) *v1alpha1.DNSRecordClaim {
	return &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns},
		Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: scope, Records: []v1alpha1.RecordSpec{
			{Name: r.Name, Type: v1alpha1.RecordType(r.Type), TTL: r.TTL, Values: r.Values},
		}},
	}
}

// answers asks both callers about one record and returns whether each allows it.
func answers(t *testing.T, c client.Client, ns, scope string, r grant.Record) (webhookAllows, canIAllows bool, canI kubectlplugin.Answer) {
	t.Helper()
	ctx := context.Background()
	v := &webhook.ClaimValidator{Reader: c, APIReader: c}
	_, werr := v.ValidateCreate(ctx, claimOf(ns, scope, r))
	a, err := kubectlplugin.CanI(ctx, kubectlplugin.NewCluster(c, ns), kubectlplugin.Question{
		Namespace: ns, Name: r.Name, Type: r.Type, TTL: r.TTL, Values: r.Values,
	})
	if err != nil {
		t.Logf("can-i failed (counted as a refusal): %v", err)
	}
	return werr == nil, err == nil && a.Allowed, a
}

func TestWebhookAndCanIAgreeOnHostileRecords(t *testing.T) {
	namespaces := map[string]bool{}
	for _, tc := range grant.HostileRecords() {
		namespaces[tc.Namespace] = true
	}
	objs := []client.Object{scopeOf("prod", grant.TestPolicy)}
	for ns := range namespaces {
		if ns != "" {
			objs = append(objs, tenant(ns))
		}
	}
	c := cluster(t, objs...)
	granted := 0
	for name, tc := range grant.HostileRecords() {
		t.Run(name, func(t *testing.T) {
			hook, canI, a := answers(t, c, tc.Namespace, "prod", tc.Record)
			if hook != canI {
				t.Fatalf("webhook allows: %v, can-i allows: %v (%+v)", hook, canI, a)
			}
			if !tc.Known {
				return
			}
			if want := tc.Reason == ""; canI != want {
				t.Fatalf("both allow: %v, the grant engine's table says %v (reason %q): %+v", canI, want, tc.Reason, a)
			}
			if canI {
				granted++
				if s := a.Scopes[0]; s.Zone == "" || s.Rule == "" || s.Pattern == "" {
					t.Fatalf("can-i allows without naming the zone, rule and pattern: %+v", s)
				}
				return
			}
			want := string(tc.Reason)
			if tc.Namespace == "" {
				want = "NamespaceNotFound" // no namespace has no name; can-i says so first
			}
			if len(a.Scopes) == 1 && a.Scopes[0].Reason != want {
				t.Fatalf("can-i refuses with reason %q, want %q: %+v", a.Scopes[0].Reason, want, a.Scopes[0])
			}
		})
	}
	if granted == 0 {
		t.Fatal("no hostile record was granted by both: the comparison proves nothing")
	}
}

func TestWebhookAndCanIAgreeOnHostilePolicies(t *testing.T) {
	for name, p := range grant.HostilePolicies() {
		t.Run(name, func(t *testing.T) {
			c := cluster(t, scopeOf("bad", p), tenant("team-a"))
			hook, canI, a := answers(t, c, "team-a", "bad", grant.Record{Name: "a.example.com", Type: "A"})
			if hook || canI {
				t.Fatalf("a scope of an invalid policy granted a name: webhook %v, can-i %v (%+v)", hook, canI, a)
			}
		})
	}
}

// Conflicts with other namespaces' claims are decided by the verdict for
// both; the older claim holds the name.
func TestWebhookAndCanIAgreeOnConflicts(t *testing.T) {
	holder := claimOf("team-b", "prod", grant.Record{Name: "shared.example.org", Type: "TXT"})
	holder.Name = "holder"
	cname := claimOf("team-b", "prod", grant.Record{Name: "www.team-a.apps.example.com", Type: "CNAME"})
	cname.Name = "squatter" // outside team-b's grant: it holds nothing
	c := cluster(t, scopeOf("prod", grant.TestPolicy), tenant("team-a"), tenant("team-b"), holder, cname)
	cases := map[string]struct {
		rec   grant.Record
		allow bool
	}{
		"refuses a name another namespace's valid claim holds": {rec: grant.Record{Name: "shared.example.org", Type: "TXT"}},
		"allows a name only an invalid claim asks for":         {rec: grant.Record{Name: "www.team-a.apps.example.com", Type: "A"}, allow: true},
		"allows a free name":                                   {rec: grant.Record{Name: "free.example.org", Type: "TXT"}, allow: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			hook, canI, a := answers(t, c, "team-a", "prod", tc.rec)
			if hook != canI || canI != tc.allow {
				t.Fatalf("webhook allows: %v, can-i allows: %v, want %v: %+v", hook, canI, tc.allow, a)
			}
			if !tc.allow && (len(a.Scopes) != 1 || len(a.Scopes[0].Conflicts) != 1 || a.Scopes[0].Conflicts[0].Claim != "holder") {
				t.Fatalf("can-i does not name the holder: %+v", a)
			}
		})
	}
}
