package webhook

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

func TestSecretNameWarnings(t *testing.T) {
	scope := func(name, secret string, sel metav1.LabelSelector) v1alpha1.DNSScope {
		s := v1alpha1.DNSScope{ObjectMeta: metav1.ObjectMeta{Name: name}}
		s.Spec.NamespaceSelector = sel
		s.Spec.Credentials.SecretName = secret
		return s
	}
	labels := func(kv ...string) metav1.LabelSelector {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return metav1.LabelSelector{MatchLabels: m}
	}
	tenant := labels("tenant", "true")
	off := &v1alpha1.CredentialToggle{Enabled: false}
	cases := map[string]struct {
		scope  v1alpha1.DNSScope
		others []v1alpha1.DNSScope
		want   []string
	}{
		"warns about another scope with the same secretName and the same selector": {
			scope: scope("b", "dns", tenant), others: []v1alpha1.DNSScope{scope("a", "dns", tenant)},
			want: []string{`DNSScope a also writes its credentials to Secret "dns"`},
		},
		"warns when a default name spells another scope's secretName": {
			scope: scope("b", "", tenant), others: []v1alpha1.DNSScope{scope("a", "b-dns-credentials", metav1.LabelSelector{})},
			want: []string{`DNSScope a also writes its credentials to Secret "b-dns-credentials"`},
		},
		"is silent when the names differ": {
			scope: scope("b", "dns-b", tenant), others: []v1alpha1.DNSScope{scope("a", "dns-a", tenant)},
		},
		"is silent when the selectors require different values of one label": {
			scope: scope("b", "dns", labels("team", "b")), others: []v1alpha1.DNSScope{scope("a", "dns", labels("team", "a"))},
		},
		"is silent when one selector excludes what the other requires": {
			scope: scope("b", "dns", labels("team", "b")),
			others: []v1alpha1.DNSScope{scope("a", "dns", metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "team", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"b"}},
			}})},
		},
		"is silent about itself on update": {
			scope: scope("a", "dns", tenant), others: []v1alpha1.DNSScope{scope("a", "dns", tenant)},
		},
		"is silent when the other scope delivers no credentials": {
			scope: scope("b", "dns", tenant),
			others: []v1alpha1.DNSScope{func() v1alpha1.DNSScope {
				s := scope("a", "dns", tenant)
				s.Spec.Credentials.ProviderToken = off
				return s
			}()},
		},
		"is silent about a scope being deleted": {
			scope: scope("b", "dns", tenant),
			others: []v1alpha1.DNSScope{func() v1alpha1.DNSScope {
				s := scope("a", "dns", tenant)
				s.DeletionTimestamp = &metav1.Time{Time: time.Now()}
				return s
			}()},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := secretNameWarnings(&c.scope, c.others)
			if len(got) != len(c.want) {
				t.Fatalf("warnings %q, want %d", got, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("warning %q does not say %q", got[i], w)
				}
			}
		})
	}
}
