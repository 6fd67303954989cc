package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
)

// NameIndex is the cache index of claims by normalised record name. Conflicts
// are found by one index lookup per claimed name instead of listing every claim
// on each admission request; the type comparison (and CNAME exclusivity) is
// then done on the few claims that share the name.
const NameIndex = "scopedns.io/record-name"

// AncestorIndex is the cache index of claims by every proper ancestor of
// their record names: a claim of www.x.example.com is found under
// x.example.com and example.com. An NS claim at x.example.com looks itself up
// here to find the claims its delegation would occlude.
const AncestorIndex = "scopedns.io/record-ancestor"

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

// IndexRecordAncestors is the IndexerFunc for AncestorIndex.
func IndexRecordAncestors(obj client.Object) []string {
	claim, ok := obj.(*v1alpha1.DNSRecordClaim)
	if !ok {
		return nil
	}
	seen := map[string]bool{}
	var names []string
	for _, k := range Keys(claim) {
		for _, a := range Ancestors(k.Name) {
			if !seen[a] {
				seen[a] = true
				names = append(names, a)
			}
		}
	}
	return names
}

// Ancestors returns the proper ancestors of a normalised name, nearest first,
// down to the last name of two labels: www.x.example.com gives x.example.com
// and example.com. A single label (a TLD) is left out: a scope's zones lie
// below a TLD, so no claim can hold an NS there, and indexing every claim
// under "com" would make one huge, useless index entry.
func Ancestors(name string) []string {
	var out []string
	for {
		i := strings.IndexByte(name, '.')
		if i < 0 {
			return out
		}
		name = name[i+1:]
		if !strings.Contains(name, ".") {
			return out
		}
		out = append(out, name)
	}
}

// Lookup is one cache index query: the claims indexed under Value in Index.
type Lookup struct {
	Index, Value string
}

// HolderLookups returns the index queries that find every claim that may
// hold a key conflicting with k (grant.Conflicts stays the judge):
//
//   - NameIndex at k's name: the same record set, a CNAME or an NS beside it;
//   - NameIndex at each ancestor of k's name: an NS delegation above it;
//   - for an NS, AncestorIndex at k's name: every claim below the delegation.
func HolderLookups(k grant.Key) []Lookup {
	out := []Lookup{{Index: NameIndex, Value: k.Name}}
	for _, a := range Ancestors(k.Name) {
		out = append(out, Lookup{Index: NameIndex, Value: a})
	}
	if k.Type == string(v1alpha1.RecordTypeNS) {
		out = append(out, Lookup{Index: AncestorIndex, Value: k.Name})
	}
	return out
}

// ListHolders runs the lookups on r and returns each claim found once.
// The claims are the cache's own (UnsafeDisableDeepCopy): the webhook and
// every claim reconcile run these lookups, and copying each holder was the
// webhook's largest allocation after its logger. Callers only read them
// (the verdict and FindConflicts); anything that would change one must
// DeepCopy it first.
func ListHolders(ctx context.Context, r client.Reader, lookups []Lookup) ([]v1alpha1.DNSRecordClaim, error) {
	done := map[Lookup]bool{}
	seen := map[client.ObjectKey]bool{}
	var out []v1alpha1.DNSRecordClaim
	for _, l := range lookups {
		if done[l] {
			continue
		}
		done[l] = true
		var list v1alpha1.DNSRecordClaimList
		if err := r.List(ctx, &list, client.MatchingFields{l.Index: l.Value}, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("looking up claims by %s=%s: %w", l.Index, l.Value, err)
		}
		for _, c := range list.Items {
			if k := client.ObjectKeyFromObject(&c); !seen[k] {
				seen[k] = true
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// ClaimConflicts finds, through the indexes on r, the keys of claim that
// collide with keys other claims ask for in their specs; only filters the
// others as in FindConflicts. It wakes the claims that contend with one
// that changed; the verdict (Decide) decides who holds what.
func ClaimConflicts(ctx context.Context, r client.Reader, claim *v1alpha1.DNSRecordClaim, only func(other *v1alpha1.DNSRecordClaim) bool) ([]Conflict, error) {
	var lookups []Lookup
	for _, k := range Keys(claim) {
		lookups = append(lookups, HolderLookups(k)...)
	}
	holders, err := ListHolders(ctx, r, lookups)
	if err != nil {
		return nil, err
	}
	return FindConflicts(claim, holders, only), nil
}

// Indexed is the verdict's Cluster on a reader with NameIndex and
// AncestorIndex registered: the manager's cache.
type Indexed struct {
	Reader client.Reader
}

var _ Cluster = Indexed{}

// Holders runs HolderLookups(k) and returns the claims found sorted by
// namespace and name, so a verdict's messages come out the same every time
// (a status that reorders would be patched on every reconcile). The claims
// are the cache's own, as ListHolders says: read only.
func (x Indexed) Holders(ctx context.Context, k grant.Key) ([]v1alpha1.DNSRecordClaim, error) {
	out, err := ListHolders(ctx, x.Reader, HolderLookups(k))
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Scope reads a scope; nil when it does not exist.
func (x Indexed) Scope(ctx context.Context, name string) (*v1alpha1.DNSScope, error) {
	var s v1alpha1.DNSScope
	if err := x.Reader.Get(ctx, client.ObjectKey{Name: name}, &s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading DNSScope %q: %w", name, err)
	}
	return &s, nil
}

// Scopes lists every scope. The verdict only reads them, so the cache
// hands out its own objects rather than a copy of every scope per verdict.
func (x Indexed) Scopes(ctx context.Context) ([]v1alpha1.DNSScope, error) {
	var list v1alpha1.DNSScopeList
	if err := x.Reader.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing DNSScopes: %w", err)
	}
	return list.Items, nil
}

// NamespaceLabels reads a namespace's labels; false when it does not exist.
func (x Indexed) NamespaceLabels(ctx context.Context, name string) (map[string]string, bool, error) {
	var ns corev1.Namespace
	if err := x.Reader.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading namespace %q: %w", name, err)
	}
	return ns.Labels, true, nil
}

// IndexScopeName is the IndexerFunc for ScopeIndex.
func IndexScopeName(obj client.Object) []string {
	claim, ok := obj.(*v1alpha1.DNSRecordClaim)
	if !ok {
		return nil
	}
	return []string{claim.Spec.ScopeName}
}
