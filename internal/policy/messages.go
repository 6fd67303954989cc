package policy

import (
	"fmt"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"

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
// and the rule. With conceal it says "another namespace" instead of naming
// the holder's namespace and claim: a refusal then tells a tenant that a
// name is taken, not who took it (--conceal-conflict-holders). A holder in
// the claim's own namespace is named either way; the tenant can list it.
func ConflictMessage(c Conflict, conceal bool) string {
	const delegates = "an NS delegates its name and every name below it away"
	holder := fmt.Sprintf("namespace %q (DNSRecordClaim %q)", c.Holder.Namespace, c.Holder.Name)
	if conceal {
		holder = "another namespace"
	}
	switch c.Relation() {
	case BelowDelegation:
		return fmt.Sprintf("%s %s lies below NS %s already claimed by %s; %s",
			c.Key.Name, c.Key.Type, c.HolderKey.Name, holder, delegates)
	case AboveHolder:
		return fmt.Sprintf("%s NS would delegate away %s %s already claimed by %s; %s",
			c.Key.Name, c.HolderKey.Name, c.HolderKey.Type, holder, delegates)
	default:
		return fmt.Sprintf("%s %s conflicts with %s %s already claimed by %s; a name and type belong to one claim, and a CNAME excludes every other type at its name",
			c.Key.Name, c.Key.Type, c.HolderKey.Name, c.HolderKey.Type, holder)
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

// LogConcealedHolders logs, for the admins, the holders that a verdict
// decided with ConcealHolders left out of the tenant's messages: one line
// per refused record, naming the claim refused and each holder. The log is
// the operator's; tenants do not read it.
func LogConcealedHolders(log logr.Logger, claim *v1alpha1.DNSRecordClaim, v Verdict) {
	for _, rv := range v.Records {
		for _, c := range rv.Conflicts {
			if c.Holder.Namespace == claim.Namespace {
				continue
			}
			log.Info("record refused: held by a claim of another namespace, not named to the tenant",
				"claim", klog.KObj(claim), "record", rv.Key.Name, "type", rv.Key.Type,
				"holder", klog.KRef(c.Holder.Namespace, c.Holder.Name), "holderRecord", c.HolderKey.Name, "holderType", c.HolderKey.Type)
		}
	}
}
