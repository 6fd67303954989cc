package policy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
)

func claim(ns, name string, created time.Time, records ...v1alpha1.RecordSpec) v1alpha1.DNSRecordClaim {
	return v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: metav1.NewTime(created)},
		Spec:       v1alpha1.DNSRecordClaimSpec{ScopeName: "prod", Records: records},
	}
}

func r(name string, typ v1alpha1.RecordType) v1alpha1.RecordSpec {
	return v1alpha1.RecordSpec{Name: name, Type: typ, TTL: 300}
}

func TestFindConflicts(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mine := claim("a", "web", t0.Add(time.Hour), r("WWW.example.com.", v1alpha1.RecordTypeA), r("txt.example.com", v1alpha1.RecordTypeTXT))
	cases := map[string]struct {
		others []v1alpha1.DNSRecordClaim
		only   func(*v1alpha1.DNSRecordClaim) bool
		want   []string
	}{
		"finds the same name and type after normalisation": {
			others: []v1alpha1.DNSRecordClaim{claim("b", "x", t0, r("www.example.com", v1alpha1.RecordTypeA))},
			want:   []string{"www.example.com/A<-b/x"},
		},
		"finds a CNAME beside another type at the same name": {
			others: []v1alpha1.DNSRecordClaim{claim("b", "x", t0, r("www.example.com", v1alpha1.RecordTypeCNAME))},
			want:   []string{"www.example.com/A<-b/x"},
		},
		"ignores a different type at the same name": {
			others: []v1alpha1.DNSRecordClaim{claim("b", "x", t0, r("www.example.com", v1alpha1.RecordTypeAAAA))},
		},
		"ignores the claim itself": {
			others: []v1alpha1.DNSRecordClaim{mine},
		},
		"ignores a claim being deleted": {
			others: func() []v1alpha1.DNSRecordClaim {
				c := claim("b", "x", t0, r("www.example.com", v1alpha1.RecordTypeA))
				c.DeletionTimestamp = ptr.To(metav1.NewTime(t0))
				return []v1alpha1.DNSRecordClaim{c}
			}(),
		},
		"finds a key whatever its holder's status says (status is no input)": {
			others: func() []v1alpha1.DNSRecordClaim {
				c := claim("b", "x", t0, r("www.example.com", v1alpha1.RecordTypeA))
				c.Status.Records = []v1alpha1.RecordStatus{{Name: "www.example.com", Type: v1alpha1.RecordTypeA, State: v1alpha1.RecordRefused}}
				return []v1alpha1.DNSRecordClaim{c}
			}(),
			want: []string{"www.example.com/A<-b/x"},
		},
		"applies the caller's filter": {
			others: []v1alpha1.DNSRecordClaim{claim("a", "other", t0, r("www.example.com", v1alpha1.RecordTypeA))},
			only:   func(o *v1alpha1.DNSRecordClaim) bool { return o.Namespace != "a" },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, c := range FindConflicts(&mine, tc.others, tc.only) {
				got = append(got, c.Key.Name+"/"+c.Key.Type+"<-"+c.Holder.String())
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("conflicts = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestOlder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		a, b v1alpha1.DNSRecordClaim
		want bool
	}{
		"the earlier claim wins":                         {a: claim("z", "z", t0), b: claim("a", "a", t0.Add(time.Second)), want: true},
		"the later claim loses":                          {a: claim("a", "a", t0.Add(time.Second)), b: claim("z", "z", t0), want: false},
		"equal times are broken by namespace/name":       {a: claim("a", "b", t0), b: claim("b", "a", t0), want: true},
		"equal times are broken the same way both sides": {a: claim("b", "a", t0), b: claim("a", "b", t0), want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Older(&tc.a, &tc.b); got != tc.want {
				t.Fatalf("Older = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckClaimReportsEveryRefusedRecord(t *testing.T) {
	scope := &v1alpha1.DNSScope{Spec: v1alpha1.DNSScopeSpec{Zones: []v1alpha1.ZoneGrant{{
		Name:  "example.com",
		Rules: []v1alpha1.GrantRule{{Names: []string{"*.{namespace}.apps.example.com"}, Types: []v1alpha1.RecordType{"A"}, MaxTTL: ptr.To[int32](600)}},
	}}}}
	compiled, err := (&Cache{}).Compile(scope)
	if err != nil {
		t.Fatal(err)
	}
	c := claim("team-a", "web", time.Now(),
		r("web.team-a.apps.example.com", v1alpha1.RecordTypeA),
		r("web.team-b.apps.example.com", v1alpha1.RecordTypeA),
		r("web.team-a.apps.example.com", v1alpha1.RecordTypeTXT))
	var refused []int
	for _, d := range CheckClaim(compiled, "team-a", &c) {
		if d.Err != nil {
			refused = append(refused, d.Index)
		}
	}
	if fmt.Sprint(refused) != "[1 2]" {
		t.Fatalf("refused records %v, want [1 2]", refused)
	}
}

func TestCacheRecompilesOnlyOnANewGeneration(t *testing.T) {
	scope := &v1alpha1.DNSScope{ObjectMeta: metav1.ObjectMeta{UID: "u1", Generation: 1}, Spec: v1alpha1.DNSScopeSpec{Zones: []v1alpha1.ZoneGrant{{
		Name: "example.com", Rules: []v1alpha1.GrantRule{{Names: []string{"a.example.com"}, Types: []v1alpha1.RecordType{"A"}}},
	}}}}
	var cache Cache
	first, _ := cache.Compile(scope)
	again, _ := cache.Compile(scope)
	if first != again {
		t.Fatal("same generation compiled twice")
	}
	scope.Generation = 2
	scope.Spec.Zones[0].Rules[0].Names = []string{"b.example.com"}
	next, _ := cache.Compile(scope)
	if next == first {
		t.Fatal("new generation served from the cache")
	}
	if _, err := next.Check("ns", grantRecord("b.example.com")); err != nil {
		t.Fatalf("new rule not in force: %v", err)
	}
}

func grantRecord(name string) grant.Record { return grant.Record{Name: name, Type: "A", TTL: 300} }
