package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
)

// fakeCluster is a Cluster over a fixed set of claims, scopes and namespaces;
// Holders returns every claim, and the verdict must still judge each one.
type fakeCluster struct {
	claims     []v1alpha1.DNSRecordClaim
	scopes     map[string]*v1alpha1.DNSScope
	namespaces map[string]map[string]string
}

func (f *fakeCluster) Holders(context.Context, grant.Key) ([]v1alpha1.DNSRecordClaim, error) {
	return f.claims, nil
}

func (f *fakeCluster) Scope(_ context.Context, name string) (*v1alpha1.DNSScope, error) {
	return f.scopes[name], nil
}

func (f *fakeCluster) Scopes(context.Context) ([]v1alpha1.DNSScope, error) {
	var out []v1alpha1.DNSScope
	for _, s := range f.scopes {
		out = append(out, *s)
	}
	return out, nil
}

func (f *fakeCluster) NamespaceLabels(_ context.Context, name string) (map[string]string, bool, error) {
	l, ok := f.namespaces[name]
	return l, ok, nil
}

func deepCopies(cs []v1alpha1.DNSRecordClaim) []v1alpha1.DNSRecordClaim {
	var out []v1alpha1.DNSRecordClaim
	for i := range cs {
		out = append(out, *cs[i].DeepCopy())
	}
	return out
}

// verdictScope grants every namespace labelled tenant=true A, TXT and CNAME
// under <namespace>.example.com and shared.example.com, NS at
// _deleg.example.com and A below it.
func verdictScope() *v1alpha1.DNSScope {
	web := []v1alpha1.RecordType{"A", "TXT", "CNAME"}
	return &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: "prod"},
		Spec: v1alpha1.DNSScopeSpec{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}},
			Zones: []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{
				{Names: []string{"*.{namespace}.example.com", "shared.example.com"}, Types: web, MaxTTL: ptr.To[int32](3600)},
				{Names: []string{"_deleg.example.com"}, Types: []v1alpha1.RecordType{"NS", "TXT"}},
				{Names: []string{"*._deleg.example.com"}, Types: []v1alpha1.RecordType{"A"}},
			}}},
		},
	}
}

func val(name string, typ v1alpha1.RecordType, values ...string) v1alpha1.RecordSpec {
	return v1alpha1.RecordSpec{Name: name, Type: typ, TTL: 300, Values: values}
}

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	older, younger := t0, t0.Add(time.Hour)
	tenants := map[string]map[string]string{"a": {"tenant": "true"}, "b": {"tenant": "true"}, "c": {"tenant": "true"}, "apps": {"tenant": "true"}, "out": {}}
	deleting := func(c v1alpha1.DNSRecordClaim) v1alpha1.DNSRecordClaim {
		c.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
		return c
	}
	withStatus := func(c v1alpha1.DNSRecordClaim, st v1alpha1.RecordState) v1alpha1.DNSRecordClaim {
		for _, r := range c.Spec.Records {
			c.Status.Records = append(c.Status.Records, v1alpha1.RecordStatus{Name: r.Name, Type: r.Type, State: st})
		}
		return c
	}
	cases := map[string]struct {
		claim   v1alpha1.DNSRecordClaim
		scope   *v1alpha1.DNSScope // default verdictScope()
		noScope bool
		contest Contest
		old     *v1alpha1.DNSRecordClaim
		others  []v1alpha1.DNSRecordClaim
		// want is the claim's reason ("" accepted), then one "reason"
		// per record ("" allowed), and substrings of the claim's message.
		want    string
		records []string
		msg     []string
	}{
		"should accept a claim inside its grant with no one else": {
			claim:   claim("a", "web", younger, val("www.a.example.com", "A", "192.0.2.1"), val("_x.a.example.com", "TXT")),
			records: []string{"", ""},
		},
		"should refuse every record when the scope does not exist": {
			claim: claim("a", "web", younger, val("www.a.example.com", "A", "192.0.2.1")), noScope: true,
			want: v1alpha1.ReasonScopeNotFound, records: []string{v1alpha1.ReasonScopeNotFound}, msg: []string{`DNSScope "prod" does not exist`},
		},
		"should refuse every record when the scope is being deleted": {
			claim: claim("a", "web", younger, val("www.a.example.com", "A", "192.0.2.1")),
			scope: func() *v1alpha1.DNSScope {
				s := verdictScope()
				s.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
				return s
			}(),
			want: v1alpha1.ReasonScopeNotFound, records: []string{v1alpha1.ReasonScopeNotFound}, msg: []string{"being deleted"},
		},
		"should refuse a namespace the selector does not select": {
			claim: claim("out", "web", younger, val("www.out.example.com", "A", "192.0.2.1")),
			want:  v1alpha1.ReasonNamespaceNotInScope, records: []string{v1alpha1.ReasonNamespaceNotInScope},
			msg: []string{`does not grant names to namespace "out": its namespaceSelector {tenant=true}`},
		},
		"should refuse the whole claim when one record is outside the grant, naming that record": {
			claim: claim("a", "web", younger, val("www.a.example.com", "A", "192.0.2.1"), val("www.b.example.com", "A", "192.0.2.2")),
			want:  v1alpha1.ReasonOutsideGrant, records: []string{ReasonWithClaim, string(grant.ReasonOutsideRules)},
			msg: []string{"spec.records[1]: ", "www.b.example.com"},
		},
		"should refuse the same name and type twice after normalisation": {
			claim: claim("a", "dup", younger, val("dup.a.example.com", "TXT", `"x"`), val("DUP.a.example.com.", "TXT", `"y"`)),
			want:  v1alpha1.ReasonInvalidRecords, records: []string{ReasonWithClaim, ReasonDuplicateRecord},
			msg: []string{"spec.records[1]: dup.a.example.com TXT is listed twice (first at spec.records[0]"},
		},
		"should refuse a CNAME beside a TXT at one name, in either order": {
			claim: claim("a", "mix", younger, val("mix.a.example.com", "TXT", `"x"`), val("Mix.a.example.com", "CNAME", "lb.example.net"),
				val("mix2.a.example.com", "CNAME", "lb.example.net"), val("mix2.a.example.com", "A", "192.0.2.1")),
			want:    v1alpha1.ReasonInvalidRecords,
			records: []string{ReasonWithClaim, ReasonCNAMEBesideType, ReasonWithClaim, ReasonCNAMEBesideType},
			msg: []string{"spec.records[1]: mix.a.example.com CNAME is at the same name as the TXT at spec.records[0]; a CNAME excludes every other type",
				"spec.records[3]: mix2.a.example.com A is at the same name as the CNAME at spec.records[2]"},
		},
		"should refuse a CNAME to its own name": {
			claim: claim("a", "self", younger, val("self.a.example.com", "CNAME", "SELF.a.example.com.")),
			want:  v1alpha1.ReasonInvalidRecords, records: []string{ReasonCNAMESelf}, msg: []string{"spec.records[0]: self.a.example.com CNAME points at its own name"},
		},
		"should accept a CNAME and a TXT at different names": {
			claim:   claim("a", "ok", younger, val("one.a.example.com", "CNAME", "two.a.example.com"), val("two.a.example.com", "TXT", `"x"`)),
			records: []string{"", ""},
		},
		"should refuse a key an older claim holds, and keep the claim's other records": {
			claim:  claim("b", "web", younger, val("shared.example.com", "TXT"), val("www.b.example.com", "A", "192.0.2.1")),
			others: []v1alpha1.DNSRecordClaim{claim("a", "first", older, val("shared.example.com", "TXT"))},
			want:   v1alpha1.ReasonConflict, records: []string{v1alpha1.ReasonConflict, ""},
			msg: []string{`spec.records[0]: shared.example.com TXT conflicts with shared.example.com TXT already claimed by namespace "a" (DNSRecordClaim "first")`},
		},
		"should let the older claim win against a younger one": {
			claim:   claim("a", "first", older, val("shared.example.com", "TXT")),
			others:  []v1alpha1.DNSRecordClaim{claim("b", "web", younger, val("shared.example.com", "TXT"))},
			records: []string{""},
		},
		"should not count an older claim being deleted": {
			claim:   claim("b", "web", younger, val("shared.example.com", "TXT")),
			others:  []v1alpha1.DNSRecordClaim{deleting(claim("a", "first", older, val("shared.example.com", "TXT")))},
			records: []string{""},
		},
		"should not count an older claim outside its own grant (it holds nothing)": {
			claim:   claim("b", "web", younger, val("x.b.example.com", "TXT")),
			others:  []v1alpha1.DNSRecordClaim{claim("a", "steal", older, val("x.b.example.com", "TXT"))},
			records: []string{""},
		},
		"should not count an older claim refused as a whole for another of its records": {
			claim:   claim("b", "web", younger, val("shared.example.com", "TXT")),
			others:  []v1alpha1.DNSRecordClaim{claim("a", "first", older, val("shared.example.com", "TXT"), val("www.c.example.com", "A", "192.0.2.9"))},
			records: []string{""},
		},
		"should not count an older claim whose namespace the scope does not select": {
			claim:   claim("b", "web", younger, val("shared.example.com", "TXT")),
			others:  []v1alpha1.DNSRecordClaim{claim("out", "first", older, val("shared.example.com", "TXT"))},
			records: []string{""},
		},
		"should not count an older claim that itself lost the key to an even older one": {
			// a holds TXT at deleg; b's NS at deleg lost to it; c's name
			// below the NS is free of b.
			claim: claim("c", "www", t0.Add(2*time.Hour), val("www._deleg.example.com", "A", "192.0.2.3")),
			others: []v1alpha1.DNSRecordClaim{
				claim("a", "txt", older, val("_deleg.example.com", "TXT", `"x"`)),
				claim("b", "deleg", younger, val("_deleg.example.com", "NS", "ns1.example.net")),
			},
			records: []string{""},
		},
		"should ignore a status that says Refused: the older claim still holds its key": {
			claim:  claim("b", "web", younger, val("shared.example.com", "TXT")),
			others: []v1alpha1.DNSRecordClaim{withStatus(claim("a", "first", older, val("shared.example.com", "TXT")), v1alpha1.RecordRefused)},
			want:   v1alpha1.ReasonConflict, records: []string{v1alpha1.ReasonConflict},
		},
		"should ignore a status that says Reserved: a claim outside its grant still holds nothing": {
			claim:   claim("b", "web", younger, val("x.b.example.com", "TXT")),
			others:  []v1alpha1.DNSRecordClaim{withStatus(claim("a", "steal", older, val("x.b.example.com", "TXT")), v1alpha1.RecordReserved)},
			records: []string{""},
		},
		"should name an NS above a name another claim holds": {
			claim:  claim("b", "deleg", younger, val("_deleg.example.com", "NS", "ns1.example.net")),
			others: []v1alpha1.DNSRecordClaim{claim("a", "www", older, val("www._deleg.example.com", "A", "192.0.2.1"))},
			want:   v1alpha1.ReasonConflict, records: []string{v1alpha1.ReasonConflict},
			msg: []string{`_deleg.example.com NS would delegate away www._deleg.example.com A already claimed by namespace "a" (DNSRecordClaim "www"); an NS delegates`},
		},
		"should refuse a name another namespace's expansion also covers, naming the rule and not the namespace": {
			claim: claim("apps", "web", younger, val("foo.apps.example.com", "A", "192.0.2.1")),
			scope: func() *v1alpha1.DNSScope {
				s := verdictScope()
				s.Spec.Zones[0].Rules = []v1alpha1.GrantRule{
					{Names: []string{"{namespace}.apps.example.com"}, Types: []v1alpha1.RecordType{"A"}},
					{Names: []string{"*.{namespace}.example.com"}, Types: []v1alpha1.RecordType{"A"}},
				}
				return s
			}(),
			want: v1alpha1.ReasonOutsideGrant, records: []string{string(grant.ReasonOtherExpansion)},
			msg: []string{`spec.records[0]: `, `rules[0].names[0] "{namespace}.apps.example.com" for another namespace`},
		},
		"at admission, should refuse a key another namespace holds whatever its age": {
			claim: claim("a", "first", older, val("shared.example.com", "TXT")), contest: OtherNamespaces,
			others: []v1alpha1.DNSRecordClaim{claim("b", "web", younger, val("shared.example.com", "TXT"))},
			want:   v1alpha1.ReasonConflict, records: []string{v1alpha1.ReasonConflict},
		},
		"at admission, should leave a claim of the same namespace to the controller": {
			claim: claim("a", "second", younger, val("shared.example.com", "TXT")), contest: OtherNamespaces,
			others:  []v1alpha1.DNSRecordClaim{claim("a", "first", older, val("shared.example.com", "TXT"))},
			records: []string{""},
		},
		"at admission, should not contest the keys an update keeps": {
			claim:   claim("b", "web", younger, val("shared.example.com", "TXT"), val("www.b.example.com", "A", "192.0.2.1")),
			old:     ptr.To(claim("b", "web", younger, val("shared.example.com", "TXT"))),
			contest: OtherNamespaces,
			others:  []v1alpha1.DNSRecordClaim{claim("a", "first", older, val("shared.example.com", "TXT"))},
			records: []string{"", ""},
		},
		"at admission, should not let the claim judged disqualify the holder through its own earlier version": {
			claim:   claim("a", "first", older, val("www.a.example.com", "A", "192.0.2.1"), val("shared.example.com", "TXT")),
			old:     ptr.To(claim("a", "first", older, val("www.a.example.com", "A", "192.0.2.1"), val("shared.example.com", "CNAME", "x.example.net"))),
			contest: OtherNamespaces,
			others: []v1alpha1.DNSRecordClaim{
				claim("a", "first", older, val("www.a.example.com", "A", "192.0.2.1"), val("shared.example.com", "CNAME", "x.example.net")),
				claim("b", "web", younger, val("shared.example.com", "TXT")),
			},
			want: v1alpha1.ReasonConflict, records: []string{"", v1alpha1.ReasonConflict},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			scope := tc.scope
			if scope == nil {
				scope = verdictScope()
			}
			cluster := &fakeCluster{claims: tc.others, scopes: map[string]*v1alpha1.DNSScope{"prod": scope}, namespaces: tenants}
			in := Input{Claim: &tc.claim, Scope: scope, NamespaceLabels: tenants[tc.claim.Namespace], Contest: tc.contest, Old: tc.old, Cluster: cluster}
			if tc.noScope {
				in.Scope = nil
			}
			// The holders are the cache's own objects (ListHolders lists
			// without copies): the verdict must leave them as they were.
			othersBefore, scopeBefore := deepCopies(tc.others), scope.DeepCopy()
			v, err := Decide(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if !equality.Semantic.DeepEqual(tc.others, othersBefore) || !equality.Semantic.DeepEqual(scope, scopeBefore) {
				t.Errorf("Decide changed the claims or the scope it was given, which are shared with the cache")
			}
			if v.Reason != tc.want || v.Accepted != (tc.want == "") {
				t.Fatalf("claim: accepted=%v reason %q (%s), want %q", v.Accepted, v.Reason, v.Message, tc.want)
			}
			var got []string
			for _, rv := range v.Records {
				if rv.Allowed != (rv.Reason == "") {
					t.Errorf("record %d: allowed=%v with reason %q", rv.Index, rv.Allowed, rv.Reason)
				}
				got = append(got, rv.Reason)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.records) {
				t.Errorf("record reasons = %q, want %q", got, tc.records)
			}
			for _, m := range tc.msg {
				if !strings.Contains(v.Message, m) {
					t.Errorf("message %q does not contain %q", v.Message, m)
				}
			}
		})
	}
}

// TestDecideReadsNoStatus flips every record state of every claim and
// checks that no verdict changes: status is operator-written but may be
// written by a tenant too, and it lags.
func TestDecideReadsNoStatus(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tenants := map[string]map[string]string{"a": {"tenant": "true"}, "b": {"tenant": "true"}}
	mine := claim("b", "web", t0.Add(time.Hour), val("shared.example.com", "TXT"), val("x.a.example.com", "TXT"))
	others := []v1alpha1.DNSRecordClaim{claim("a", "first", t0, val("shared.example.com", "TXT"))}
	decide := func() string {
		cluster := &fakeCluster{claims: others, scopes: map[string]*v1alpha1.DNSScope{"prod": verdictScope()}, namespaces: tenants}
		v, err := Decide(context.Background(), Input{Claim: &mine, Scope: verdictScope(), NamespaceLabels: tenants["b"], Cluster: cluster})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%+v", v)
	}
	want := decide()
	for _, st := range []v1alpha1.RecordState{v1alpha1.RecordReserved, v1alpha1.RecordWritten, v1alpha1.RecordRefused, v1alpha1.RecordConflict} {
		for _, c := range []*v1alpha1.DNSRecordClaim{&mine, &others[0]} {
			c.Status.Records = nil
			for _, r := range c.Spec.Records {
				c.Status.Records = append(c.Status.Records, v1alpha1.RecordStatus{Name: r.Name, Type: r.Type, State: st})
			}
			c.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionAccepted, Status: metav1.ConditionTrue}}
		}
		if got := decide(); got != want {
			t.Errorf("with every status %s the verdict changed:\n got %s\nwant %s", st, got, want)
		}
	}
}

// TestDecideConcealsHolders: with ConcealHolders a refusal tells the tenant
// a name is taken, not by whom; the verdict's Conflicts still name the
// holder for the operator's logs and can-i.
func TestDecideConcealsHolders(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	older, younger := t0, t0.Add(time.Hour)
	tenants := map[string]map[string]string{"holder-ns": {"tenant": "true"}, "b": {"tenant": "true"}}
	cases := map[string]struct {
		claim   v1alpha1.DNSRecordClaim
		holder  v1alpha1.DNSRecordClaim
		conceal bool
		// named says whether the message names the holder's namespace.
		named bool
		msg   string
	}{
		"with the option off, a conflict names the holder's namespace and claim": {
			claim:  claim("b", "web", younger, val("shared.example.com", "TXT")),
			holder: claim("holder-ns", "first", older, val("shared.example.com", "TXT")),
			named:  true, msg: `already claimed by namespace "holder-ns" (DNSRecordClaim "first")`,
		},
		"with the option on, a conflict at one name says another namespace": {
			claim:   claim("b", "web", younger, val("shared.example.com", "TXT")),
			holder:  claim("holder-ns", "first", older, val("shared.example.com", "TXT")),
			conceal: true, msg: "shared.example.com TXT conflicts with shared.example.com TXT already claimed by another namespace; a name and type belong to one claim",
		},
		"with the option on, a name below another namespace's NS says another namespace": {
			claim:   claim("b", "www", younger, val("www._deleg.example.com", "A", "192.0.2.1")),
			holder:  claim("holder-ns", "deleg", older, val("_deleg.example.com", "NS", "ns1.example.net")),
			conceal: true, msg: "www._deleg.example.com A lies below NS _deleg.example.com already claimed by another namespace; an NS delegates",
		},
		"with the option on, an NS above another namespace's name says another namespace": {
			claim:   claim("b", "deleg", younger, val("_deleg.example.com", "NS", "ns1.example.net")),
			holder:  claim("holder-ns", "www", older, val("www._deleg.example.com", "A", "192.0.2.1")),
			conceal: true, msg: "_deleg.example.com NS would delegate away www._deleg.example.com A already claimed by another namespace",
		},
		"with the option on, a holder in the claim's own namespace is still named": {
			claim:   claim("b", "second", younger, val("shared.example.com", "TXT")),
			holder:  claim("b", "first", older, val("shared.example.com", "TXT")),
			conceal: true, named: true, msg: `already claimed by namespace "b" (DNSRecordClaim "first")`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cluster := &fakeCluster{claims: []v1alpha1.DNSRecordClaim{tc.holder}, scopes: map[string]*v1alpha1.DNSScope{"prod": verdictScope()}, namespaces: tenants}
			v, err := Decide(context.Background(), Input{Claim: &tc.claim, Scope: verdictScope(), NamespaceLabels: tenants["b"], Cluster: cluster, ConcealHolders: tc.conceal})
			if err != nil {
				t.Fatal(err)
			}
			if v.Reason != v1alpha1.ReasonConflict {
				t.Fatalf("reason %q (%s), want Conflict", v.Reason, v.Message)
			}
			rv := v.Records[0]
			for _, m := range []string{v.Message, rv.Message} {
				if !strings.Contains(m, tc.msg) {
					t.Errorf("message %q does not contain %q", m, tc.msg)
				}
				if named := strings.Contains(m, `"`+tc.holder.Namespace+`"`) || strings.Contains(m, `"`+tc.holder.Name+`"`); named != tc.named {
					t.Errorf("message %q names the holder: %v, want %v", m, named, tc.named)
				}
			}
			if len(rv.Conflicts) != 1 || rv.Conflicts[0].Holder.Namespace != tc.holder.Namespace || rv.Conflicts[0].Holder.Name != tc.holder.Name {
				t.Errorf("Conflicts = %+v, want the holder %s/%s", rv.Conflicts, tc.holder.Namespace, tc.holder.Name)
			}
		})
	}
}

// TestDecideAcrossScopes: a name another scope's templates give to another
// namespace is no one's either, whichever scope the claim is under.
func TestDecideAcrossScopes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tenants := map[string]map[string]string{"apps": {"tenant": "true"}, "foo": {"tenant": "true"}}
	scope := func(name string, rules ...v1alpha1.GrantRule) *v1alpha1.DNSScope {
		return &v1alpha1.DNSScope{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.DNSScopeSpec{
				NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}},
				Zones:             []v1alpha1.ZoneGrant{{Name: "example.com", Rules: rules}},
			},
		}
	}
	a := []v1alpha1.RecordType{"A"}
	base := scope("base", v1alpha1.GrantRule{Names: []string{"{namespace}.apps.example.com"}, Types: a})
	cases := map[string]struct {
		other *v1alpha1.DNSScope
		// under is the claim's scope: base unless it names other.
		under string
		ns    string
		name  string
		// want is a substring of the refusal; "" when accepted.
		want string
	}{
		"a namespace named apps is refused another tenant's base name that its own scope grants it": {
			other: scope("wide", v1alpha1.GrantRule{Names: []string{"*.{namespace}.example.com"}, Types: a}),
			under: "wide", ns: "apps", name: "foo.apps.example.com",
			want: `spec.zones[0].rules[0].names[0] "{namespace}.apps.example.com" of DNSScope "base" for another namespace`,
		},
		"the tenant whose base name it is is refused it too": {
			other: scope("wide", v1alpha1.GrantRule{Names: []string{"*.{namespace}.example.com"}, Types: a}),
			ns:    "foo", name: "foo.apps.example.com",
			want: `of DNSScope "wide" for another namespace`,
		},
		"another scope's shared wildcard beside the tenant's template makes the name no one's": {
			other: scope("wide", v1alpha1.GrantRule{Names: []string{"*.apps.example.com"}, Types: a}),
			ns:    "foo", name: "foo.apps.example.com",
			want: `"*.apps.example.com" of DNSScope "wide"`,
		},
		"another scope's templates that never meet this one's leave the name granted": {
			other: scope("dev", v1alpha1.GrantRule{Names: []string{"{namespace}.dev.example.com"}, Types: a}),
			ns:    "foo", name: "foo.apps.example.com",
		},
		"another scope being deleted grants nothing and is left out": {
			other: func() *v1alpha1.DNSScope {
				s := scope("wide", v1alpha1.GrantRule{Names: []string{"*.{namespace}.example.com"}, Types: a})
				s.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
				return s
			}(),
			ns: "foo", name: "foo.apps.example.com",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			mine := claim(tc.ns, "web", t0, val(tc.name, "A", "192.0.2.1"))
			cluster := &fakeCluster{scopes: map[string]*v1alpha1.DNSScope{"base": base, tc.other.Name: tc.other}, namespaces: tenants}
			own := base
			if tc.under == tc.other.Name {
				own = tc.other
			}
			mine.Spec.ScopeName = own.Name
			v, err := Decide(context.Background(), Input{Claim: &mine, Scope: own, NamespaceLabels: tenants[tc.ns], Cluster: cluster})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if !v.Accepted {
					t.Fatalf("refused: %s", v.Message)
				}
				return
			}
			if v.Accepted || v.Reason != v1alpha1.ReasonOutsideGrant || v.Records[0].Reason != string(grant.ReasonOtherExpansion) {
				t.Fatalf("accepted=%v reason %q record reason %q (%s)", v.Accepted, v.Reason, v.Records[0].Reason, v.Message)
			}
			if !strings.Contains(v.Message, tc.want) {
				t.Errorf("message %q does not contain %q", v.Message, tc.want)
			}
		})
	}
}
