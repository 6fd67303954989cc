package controllers

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
)

func TestSharedZoneTokens(t *testing.T) {
	compiled, err := grant.Compile(grant.Policy{Zones: []grant.Zone{
		{Name: "example.com", Rules: []grant.Rule{{Names: []string{"{namespace}.apps.example.com"}, Types: []string{"A"}}}},
		{Name: "example.org", Rules: []grant.Rule{{Names: []string{"www.example.org"}, Types: []string{"A"}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	claim := func(ns, name string) v1alpha1.DNSRecordClaim {
		return v1alpha1.DNSRecordClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "c"},
			Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: "prod", Records: []v1alpha1.RecordSpec{{Name: name, Type: "A", TTL: 300}}}}
	}
	tests := map[string]struct {
		tokens   bool
		selected []string
		claims   []v1alpha1.DNSRecordClaim
		shared   bool
		mention  []string
		omit     []string
	}{
		"should name the namespaces whose tokens share a zone": {
			tokens: true, selected: []string{"team-a", "team-b", "team-c"},
			claims: []v1alpha1.DNSRecordClaim{claim("team-a", "team-a.apps.example.com"), claim("team-b", "team-b.apps.example.com")},
			shared: true, mention: []string{"zone example.com: held by 2 namespaces (team-a, team-b) of 3 selected", "rfc2136"}, omit: []string{"example.org"},
		},
		"should say a zone may be shared when several namespaces are selected and none claims yet": {
			tokens: true, selected: []string{"team-a", "team-b"},
			shared: true, mention: []string{"held by 0 namespaces (none yet) of 2 selected"},
		},
		"should not count a claim the grant refuses": {
			tokens: true, selected: []string{"team-a"},
			claims: []v1alpha1.DNSRecordClaim{claim("team-a", "team-a.apps.example.com"), claim("team-a", "team-b.apps.example.com")},
		},
		"should not count a namespace the scope does not select": {
			tokens: true, selected: []string{"team-a"},
			claims: []v1alpha1.DNSRecordClaim{claim("team-a", "team-a.apps.example.com"), claim("evil", "evil.apps.example.com")},
		},
		"should be false when provider tokens are off": {
			selected: []string{"team-a", "team-b"},
			claims:   []v1alpha1.DNSRecordClaim{claim("team-a", "team-a.apps.example.com"), claim("team-b", "team-b.apps.example.com")},
			mention:  []string{"providerToken is disabled"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ok, reason, msg := sharedZoneTokens(compiled, tc.tokens, tc.selected, tc.claims)
			want := v1alpha1.ReasonNoSharedZones
			if tc.shared {
				want = v1alpha1.ReasonZoneWideTokens
			}
			if ok != tc.shared || reason != want {
				t.Fatalf("sharedZoneTokens = %v, %s (%s), want %v, %s", ok, reason, msg, tc.shared, want)
			}
			for _, s := range tc.mention {
				if !strings.Contains(msg, s) {
					t.Errorf("message %q does not mention %q", msg, s)
				}
			}
			for _, s := range tc.omit {
				if strings.Contains(msg, s) {
					t.Errorf("message %q mentions %q", msg, s)
				}
			}
		})
	}
}

func TestSharedZoneTokensCapsTheList(t *testing.T) {
	compiled, err := grant.Compile(grant.Policy{Zones: []grant.Zone{{Name: "example.com", Rules: []grant.Rule{{Names: []string{"{namespace}.example.com"}, Types: []string{"A"}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	var selected []string
	var claims []v1alpha1.DNSRecordClaim
	for i := range 25 {
		ns := "team-" + string(rune('a'+i))
		selected = append(selected, ns)
		claims = append(claims, v1alpha1.DNSRecordClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "c"},
			Spec: v1alpha1.DNSRecordClaimSpec{Records: []v1alpha1.RecordSpec{{Name: ns + ".example.com", Type: "A", TTL: 300}}}})
	}
	_, _, msg := sharedZoneTokens(compiled, true, selected, claims)
	if !strings.Contains(msg, "held by 25 namespaces") || !strings.Contains(msg, "and 15 more") || strings.Contains(msg, "team-y") {
		t.Fatalf("message %q does not cap the list at 10 names", msg)
	}
}
