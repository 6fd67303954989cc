package webhook

import (
	"context"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// withSecretNameWarnings adds secretNameWarnings to what validate returned.
func (v *ScopeValidator) withSecretNameWarnings(ctx context.Context, scope *v1alpha1.DNSScope) func(admission.Warnings, error) (admission.Warnings, error) {
	return func(w admission.Warnings, err error) (admission.Warnings, error) {
		if err != nil || v.Reader == nil {
			return w, err
		}
		var scopes v1alpha1.DNSScopeList
		if lerr := v.Reader.List(ctx, &scopes); lerr != nil {
			// A warning is never worth refusing the scope for.
			log.FromContext(ctx).Error(lerr, "listing DNSScopes for the credentials Secret name check")
			return w, nil
		}
		return append(w, secretNameWarnings(scope, scopes.Items)...), nil
	}
}

// secretNameWarnings says which other scopes name the same credentials
// Secret and may select the same namespaces: there the credentials
// controller serves only the older DNSCredential's scope and refuses the
// other with SecretNameConflict. A warning, not a refusal: selectors that
// can meet may never meet, and the controller keeps the two apart anyway.
func secretNameWarnings(scope *v1alpha1.DNSScope, others []v1alpha1.DNSScope) admission.Warnings {
	if !deliversCredentials(scope) {
		return nil
	}
	name := scope.CredentialsSecretName()
	var out admission.Warnings
	for i := range others {
		o := &others[i]
		if o.Name == scope.Name || !o.DeletionTimestamp.IsZero() || !deliversCredentials(o) || o.CredentialsSecretName() != name {
			continue
		}
		if !selectorsMayMeet(&scope.Spec.NamespaceSelector, &o.Spec.NamespaceSelector) {
			continue
		}
		out = append(out, fmt.Sprintf("spec.credentials.secretName: DNSScope %s also writes its credentials to Secret %q and its namespaceSelector may select the same namespaces; "+
			"in a namespace both select, only the scope whose credentials came first gets the Secret and the other's DNSCredential reports SecretNameConflict. Set another spec.credentials.secretName", o.Name, name))
	}
	return out
}

func deliversCredentials(s *v1alpha1.DNSScope) bool {
	c := &s.Spec.Credentials
	return c.ProviderTokenEnabled() || c.RFC2136Enabled()
}

// selectorsMayMeet is false only when no label set can match both: a key
// that one requires with a value the other requires another value for, or
// excludes (NotIn, DoesNotExist). Anything else may meet.
func selectorsMayMeet(a, b *metav1.LabelSelector) bool {
	return !excludes(a, b) && !excludes(b, a)
}

// excludes reports whether a's matchLabels contradict something b requires.
func excludes(a, b *metav1.LabelSelector) bool {
	for k, v := range a.MatchLabels {
		if w, ok := b.MatchLabels[k]; ok && w != v {
			return true
		}
		for _, e := range b.MatchExpressions {
			if e.Key != k {
				continue
			}
			switch e.Operator {
			case metav1.LabelSelectorOpIn:
				if !slices.Contains(e.Values, v) {
					return true
				}
			case metav1.LabelSelectorOpNotIn:
				if slices.Contains(e.Values, v) {
					return true
				}
			case metav1.LabelSelectorOpDoesNotExist:
				return true
			}
		}
	}
	return false
}
