package policy

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
)

// The words of every refusal, written once: admission answers with them and
// the claim's status carries them, so a claim refused by the controller
// with the webhook off reads the same as the webhook's answer.

// ScopeNotFoundMessage is the refusal of a claim whose scope does not exist.
func ScopeNotFoundMessage(scope string) string {
	return fmt.Sprintf("DNSScope %q does not exist", scope)
}

// NotSelectedMessage is the refusal of a claim whose namespace the scope
// does not select.
func NotSelectedMessage(scope *v1alpha1.DNSScope, namespace string) string {
	return fmt.Sprintf("DNSScope %q does not grant names to namespace %q: its namespaceSelector %s does not select the namespace",
		scope.Name, namespace, selectorString(scope))
}

func selectorString(scope *v1alpha1.DNSScope) string {
	s := metav1.FormatLabelSelector(&scope.Spec.NamespaceSelector)
	if s == "" || s == "<none>" {
		return "{}"
	}
	return "{" + s + "}"
}

// ConflictMessage says which key of which claim a record conflicts with,
// and the rule.
func ConflictMessage(c Conflict) string {
	const delegates = "an NS delegates its name and every name below it away"
	switch c.Relation() {
	case BelowDelegation:
		return fmt.Sprintf("%s %s lies below NS %s already claimed by namespace %q (DNSRecordClaim %q); %s",
			c.Key.Name, c.Key.Type, c.HolderKey.Name, c.Holder.Namespace, c.Holder.Name, delegates)
	case AboveHolder:
		return fmt.Sprintf("%s NS would delegate away %s %s already claimed by namespace %q (DNSRecordClaim %q); %s",
			c.Key.Name, c.HolderKey.Name, c.HolderKey.Type, c.Holder.Namespace, c.Holder.Name, delegates)
	default:
		return fmt.Sprintf("%s %s conflicts with %s %s already claimed by namespace %q (DNSRecordClaim %q); a name and type belong to one claim, and a CNAME excludes every other type at its name",
			c.Key.Name, c.Key.Type, c.HolderKey.Name, c.HolderKey.Type, c.Holder.Namespace, c.Holder.Name)
	}
}

// DuplicateMessage refuses a record whose name and type an earlier record
// of the same claim already lists.
func DuplicateMessage(k grant.Key, first int) string {
	return fmt.Sprintf("%s %s is listed twice (first at spec.records[%d]; names are compared after normalisation: lower case, no trailing dot, IDNA A-labels); list a name and type once, with all its values",
		k.Name, k.Type, first)
}

// CNAMEBesideMessage refuses a record at the same name as a record of the
// other kind (a CNAME beside any other type) in the same claim.
func CNAMEBesideMessage(k grant.Key, otherType string, other int) string {
	return fmt.Sprintf("%s %s is at the same name as the %s at spec.records[%d]; a CNAME excludes every other type at its name",
		k.Name, k.Type, otherType, other)
}

// CNAMESelfMessage refuses a CNAME whose value is its own name.
func CNAMESelfMessage(k grant.Key) string {
	return fmt.Sprintf("%s CNAME points at its own name; a CNAME must name another host", k.Name)
}
