package webhook

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

func testScope(sel metav1.LabelSelector, providerToken bool, names ...string) *v1alpha1.DNSScope {
	s := &v1alpha1.DNSScope{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}
	s.Spec.Provider.Cloudflare = &v1alpha1.CloudflareProvider{AccountID: strings.Repeat("0", 32), APITokenSecretRef: v1alpha1.SecretKeySelector{Name: "m", Key: "k"}}
	s.Spec.NamespaceSelector = sel
	s.Spec.Zones = []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{{Names: names, Types: []v1alpha1.RecordType{v1alpha1.RecordTypeA, v1alpha1.RecordTypeTXT}}}}}
	s.Spec.Credentials.ProviderToken = &v1alpha1.CredentialToggle{Enabled: providerToken}
	s.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: !providerToken}
	return s
}

var tenants = metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}}

func TestScopeWarnsAboutZoneWideTokens(t *testing.T) {
	tests := map[string]struct {
		scope *v1alpha1.DNSScope
		warn  bool
	}{
		"warns when provider tokens are minted for a templated zone under a label selector": {
			scope: testScope(tenants, true, "{namespace}.apps.example.com"), warn: true,
		},
		"warns when a wildcard lets several namespaces claim names in the zone": {
			scope: testScope(tenants, true, "*.apps.example.com"), warn: true,
		},
		"does not warn when the gateway's keys are the credentials": {
			scope: testScope(tenants, false, "{namespace}.apps.example.com"),
		},
		"does not warn when the selector pins one namespace by name": {
			scope: testScope(metav1.LabelSelector{MatchLabels: map[string]string{MetadataNameLabel: "team-a"}}, true, "{namespace}.apps.example.com"),
		},
		"does not warn when the zone grants one literal name and type": {
			scope: func() *v1alpha1.DNSScope {
				s := testScope(tenants, true, "www.example.com")
				s.Spec.Zones[0].Rules[0].Types = []v1alpha1.RecordType{v1alpha1.RecordTypeA}
				return s
			}(),
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs, warnings := ValidateScopeSpec(tc.scope, time.Now())
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			var got string
			for _, w := range warnings {
				if strings.Contains(w, "zone-wide") {
					got = w
				}
			}
			if (got != "") != tc.warn {
				t.Fatalf("zone-wide warning = %q, want one: %v (all: %q)", got, tc.warn, warnings)
			}
			if tc.warn && (!strings.Contains(got, `"example.com"`) || !strings.Contains(got, "rfc2136")) {
				t.Errorf("the warning does not name the zone and the way out: %q", got)
			}
		})
	}
}

func TestScopeOverlappingTemplates(t *testing.T) {
	overlapping := func(strict bool) *v1alpha1.DNSScope {
		s := testScope(tenants, false, "{namespace}.apps.example.com", "*.{namespace}.example.com")
		s.Spec.StrictTemplates = strict
		return s
	}
	t.Run("warns about rule names that meet for two namespaces", func(t *testing.T) {
		errs, warnings := ValidateScopeSpec(overlapping(false), time.Now())
		if len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
		if !containsAll(strings.Join(warnings, "\n"), "spec.zones[0].rules[0].names[0]", "spec.zones[0].rules[0].names[1]", `"x.apps.example.com"`, `namespace "apps"`) {
			t.Fatalf("no overlap warning in %q", warnings)
		}
	})
	t.Run("refuses them with strictTemplates, naming the field", func(t *testing.T) {
		errs, _ := ValidateScopeSpec(overlapping(true), time.Now())
		if len(errs) != 1 || errs[0].Field != "spec.zones[0].rules[0].names[0]" || !containsAll(errs[0].Error(), `namespace "apps"`, "strictTemplates") {
			t.Fatalf("errors = %v, want one naming spec.zones[0].rules[0].names[0]", errs)
		}
	})
	t.Run("accepts the design's grant with strictTemplates", func(t *testing.T) {
		s := testScope(tenants, false, "{namespace}.apps.example.com", "*.{namespace}.apps.example.com", "_acme-challenge.{namespace}.apps.example.com", "_acme-challenge.*.{namespace}.apps.example.com")
		s.Spec.StrictTemplates = true
		if errs, warnings := ValidateScopeSpec(s, time.Now()); len(errs) > 0 || len(warnings) > 0 {
			t.Fatalf("errors %v, warnings %q", errs, warnings)
		}
	})
	t.Run("lets a scope that selects one namespace overlap with itself", func(t *testing.T) {
		s := overlapping(true)
		s.Spec.NamespaceSelector = metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: MetadataNameLabel, Operator: metav1.LabelSelectorOpIn, Values: []string{"apps"}}}}
		if errs, _ := ValidateScopeSpec(s, time.Now()); len(errs) > 0 {
			t.Fatalf("errors: %v", errs)
		}
	})
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

func TestScopeFrontDoorsNeedRFC2136(t *testing.T) {
	on := &v1alpha1.CredentialToggle{Enabled: true}
	for name, tc := range map[string]struct {
		rfc2136, acmeDNS, dynDNS bool
		wantField                string
	}{
		"refuses acmeDNS without rfc2136, whose key its passwords come from": {acmeDNS: true, wantField: "spec.credentials.acmeDNS.enabled"},
		"refuses dynDNS without rfc2136":                                     {dynDNS: true, wantField: "spec.credentials.dynDNS.enabled"},
		"accepts acmeDNS and dynDNS beside rfc2136":                          {rfc2136: true, acmeDNS: true, dynDNS: true},
		"accepts rfc2136 alone":                                              {rfc2136: true},
	} {
		t.Run(name, func(t *testing.T) {
			s := testScope(tenants, !tc.rfc2136, "_acme-challenge.{namespace}.example.com")
			if tc.acmeDNS {
				s.Spec.Credentials.ACMEDNS = on
			}
			if tc.dynDNS {
				s.Spec.Credentials.DynDNS = on
			}
			errs, _ := ValidateScopeSpec(s, time.Now())
			switch {
			case tc.wantField == "" && len(errs) > 0:
				t.Fatalf("errors: %v", errs)
			case tc.wantField != "" && (len(errs) != 1 || errs[0].Field != tc.wantField || !strings.Contains(errs[0].Detail, "rfc2136")):
				t.Fatalf("errors = %v, want one on %s naming rfc2136", errs, tc.wantField)
			}
		})
	}
}
