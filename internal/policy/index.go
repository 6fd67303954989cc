package policy

import (
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// NameIndex is the cache index of claims by normalised record name. Conflicts
// are found by one index lookup per claimed name instead of listing every claim
// on each admission request; the type comparison (and CNAME exclusivity) is
// then done on the few claims that share the name.
const NameIndex = "scopedns.io/record-name"

// ScopeIndex is the cache index of claims by scope name.
const ScopeIndex = "scopedns.io/scope-name"

// IndexRecordNames is the IndexerFunc for NameIndex.
func IndexRecordNames(obj client.Object) []string {
	claim, ok := obj.(*v1alpha1.DNSRecordClaim)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var names []string
	for _, k := range Keys(claim) {
		if !seen[k.Name] {
			seen[k.Name] = true
			names = append(names, k.Name)
		}
	}
	return names
}

// IndexScopeName is the IndexerFunc for ScopeIndex.
func IndexScopeName(obj client.Object) []string {
	claim, ok := obj.(*v1alpha1.DNSRecordClaim)
	if !ok {
		return nil
	}
	return []string{claim.Spec.ScopeName}
}
