package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
)

func TestAncestors(t *testing.T) {
	cases := map[string]struct {
		name string
		want []string
	}{
		"gives every ancestor, nearest first": {name: "www.x.example.com", want: []string{"x.example.com", "example.com"}},
		"includes a two-label zone apex":      {name: "x.example.com", want: []string{"example.com"}},
		"stops before the TLD":                {name: "example.com"},
		"has nothing above a single label":    {name: "com"},
		"treats a wildcard label as a label":  {name: "*.x.example.com", want: []string{"x.example.com", "example.com"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Ancestors(tc.name); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("Ancestors(%q) = %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

func TestIndexRecordAncestors(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		claim v1alpha1.DNSRecordClaim
		want  []string
	}{
		"indexes a claim under each ancestor of its names once": {
			claim: claim("a", "web", t0, r("WWW.x.example.com.", v1alpha1.RecordTypeA), r("www.x.example.com", v1alpha1.RecordTypeTXT),
				r("api.y.example.com", v1alpha1.RecordTypeA)),
			want: []string{"x.example.com", "example.com", "y.example.com"},
		},
		"does not index a name under itself": {
			claim: claim("a", "deleg", t0, r("x.example.com", v1alpha1.RecordTypeNS)),
			want:  []string{"example.com"},
		},
		"skips names that do not normalise": {
			claim: claim("a", "bad", t0, r("bad..example.com", v1alpha1.RecordTypeA)),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := IndexRecordAncestors(&tc.claim); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("IndexRecordAncestors = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHolderLookups(t *testing.T) {
	cases := map[string]struct {
		key  grant.Key
		want []Lookup
	}{
		"looks a record up at its name and at each ancestor, for an NS above it": {
			key:  grant.Key{Name: "www.x.example.com", Type: "A"},
			want: []Lookup{{NameIndex, "www.x.example.com"}, {NameIndex, "x.example.com"}, {NameIndex, "example.com"}},
		},
		"looks an NS up also below its name, for the names it would occlude": {
			key:  grant.Key{Name: "x.example.com", Type: "NS"},
			want: []Lookup{{NameIndex, "x.example.com"}, {NameIndex, "example.com"}, {AncestorIndex, "x.example.com"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := HolderLookups(tc.key); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("HolderLookups(%v) = %v, want %v", tc.key, got, tc.want)
			}
		})
	}
}

// TestHolderLookupsFindDelegations runs the lookups against a client with
// both indexes, and FindConflicts on what they return, as the webhook and
// the claim controller do.
func TestHolderLookupsFindDelegations(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	deleg := claim("a", "deleg", t0, r("x.example.com", v1alpha1.RecordTypeNS))
	www := claim("b", "www", t0, r("www.x.example.com", v1alpha1.RecordTypeA))
	deep := claim("c", "deep", t0, r("api.v1.x.example.com", v1alpha1.RecordTypeA))
	sibling := claim("d", "sib", t0, r("www.y.example.com", v1alpha1.RecordTypeA), r("x.example.com", v1alpha1.RecordTypeTXT))
	cases := map[string]struct {
		mine v1alpha1.DNSRecordClaim
		want []string
	}{
		"a name below another namespace's NS finds the NS": {
			mine: claim("e", "new", t0, r("www.x.example.com", v1alpha1.RecordTypeAAAA)),
			want: []string{"www.x.example.com/AAAA<-a/deleg"},
		},
		"an NS finds every claim below it, and other types at its name": {
			mine: claim("e", "new", t0, r("x.example.com", v1alpha1.RecordTypeNS)),
			want: []string{"x.example.com/NS<-a/deleg", "x.example.com/NS<-b/www", "x.example.com/NS<-c/deep", "x.example.com/NS<-d/sib"},
		},
		"a name beside the delegation finds nothing": {
			mine: claim("e", "new", t0, r("www.y.example.com", v1alpha1.RecordTypeAAAA)),
		},
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithIndex(&v1alpha1.DNSRecordClaim{}, NameIndex, IndexRecordNames).
		WithIndex(&v1alpha1.DNSRecordClaim{}, AncestorIndex, IndexRecordAncestors).
		WithObjects(&deleg, &www, &deep, &sibling).Build()
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var lookups []Lookup
			for _, k := range Keys(&tc.mine) {
				lookups = append(lookups, HolderLookups(k)...)
			}
			holders, err := ListHolders(context.Background(), c, lookups)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, cf := range FindConflicts(&tc.mine, holders, nil) {
				got = append(got, cf.Key.Name+"/"+cf.Key.Type+"<-"+cf.Holder.String())
			}
			sort.Strings(got)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("conflicts = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestListHoldersReturnsEachClaimOnce(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	both := claim("a", "both", t0, r("x.example.com", v1alpha1.RecordTypeTXT), r("www.x.example.com", v1alpha1.RecordTypeA))
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithIndex(&v1alpha1.DNSRecordClaim{}, NameIndex, IndexRecordNames).
		WithIndex(&v1alpha1.DNSRecordClaim{}, AncestorIndex, IndexRecordAncestors).
		WithObjects(&both).Build()
	got, err := ListHolders(context.Background(), c, HolderLookups(grant.Key{Name: "x.example.com", Type: "NS"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || client.ObjectKeyFromObject(&got[0]) != client.ObjectKeyFromObject(&both) {
		t.Fatalf("holders = %v, want only a/both", got)
	}
}

func TestConflictRelation(t *testing.T) {
	cases := map[string]struct {
		key, holder grant.Key
		want        Relation
	}{
		"same name":                     {grant.Key{Name: "x.example.com", Type: "A"}, grant.Key{Name: "x.example.com", Type: "NS"}, SameName},
		"below the holder's NS":         {grant.Key{Name: "www.x.example.com", Type: "A"}, grant.Key{Name: "x.example.com", Type: "NS"}, BelowDelegation},
		"an NS above the holder's name": {grant.Key{Name: "x.example.com", Type: "NS"}, grant.Key{Name: "www.x.example.com", Type: "A"}, AboveHolder},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := (Conflict{Key: tc.key, HolderKey: tc.holder}).Relation(); got != tc.want {
				t.Fatalf("Relation = %v, want %v", got, tc.want)
			}
		})
	}
}
