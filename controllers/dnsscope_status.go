package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/policy"
)

// maxSharedListed caps the zones, and the namespaces per zone, that the
// SharedZoneTokens message names: the condition is for reading, and a scope
// may select thousands of namespaces.
const maxSharedListed = 10

// setSharedZoneTokens sets the SharedZoneTokens condition from the scope,
// the namespaces it selects and the claims under it. It reads claim specs
// through the grant engine, never claim status, which a tenant may write.
func (r *ScopeReconciler) setSharedZoneTokens(ctx context.Context, scope *v1alpha1.DNSScope, claims []v1alpha1.DNSRecordClaim) error {
	if !scope.Spec.Credentials.ProviderTokenEnabled() {
		// Nothing to look at: every claim event of a tokenless scope with
		// 10,000 namespaces would otherwise walk them all for this answer.
		ok, reason, msg := sharedZoneTokens(nil, false, nil, nil)
		setCondition(&scope.Status.Conditions, scope.Generation, v1alpha1.ConditionSharedZoneTokens, ok, reason, msg)
		return nil
	}
	compiled, err := grant.Compile(policy.FromScope(scope))
	if err != nil {
		return nil // the invalid scope is reported by Ready
	}
	sel, err := policy.Selector(scope)
	if err != nil {
		return nil // reported by Ready too
	}
	var namespaces corev1.NamespaceList
	if err := r.Client.List(ctx, &namespaces, client.UnsafeDisableDeepCopy); err != nil { // read only
		return fmt.Errorf("listing namespaces: %w", err)
	}
	var selected []string
	for _, ns := range namespaces.Items {
		if sel.Matches(labels.Set(ns.Labels)) && ns.DeletionTimestamp.IsZero() {
			selected = append(selected, ns.Name)
		}
	}
	ok, reason, msg := sharedZoneTokens(compiled, scope.Spec.Credentials.ProviderTokenEnabled(), selected, claims)
	setCondition(&scope.Status.Conditions, scope.Generation, v1alpha1.ConditionSharedZoneTokens, ok, reason, msg)
	return nil
}

// sharedZoneTokens decides the condition: true when provider tokens are on
// and a zone that can have several holders has, or may get, more than one
// among the selected namespaces. Holders are the selected namespaces with a
// claim that the grant allows a name in the zone.
func sharedZoneTokens(compiled *grant.Compiled, providerTokens bool, selected []string, claims []v1alpha1.DNSRecordClaim) (bool, string, string) {
	if !providerTokens {
		return false, v1alpha1.ReasonNoSharedZones, "spec.credentials.providerToken is disabled: no namespace holds a zone-wide provider token"
	}
	isSelected := make(map[string]bool, len(selected))
	for _, ns := range selected {
		isSelected[ns] = true
	}
	zones := compiled.Zones()
	holders := make([]map[string]bool, len(zones))
	for i := range claims {
		c := &claims[i]
		if !isSelected[c.Namespace] || !c.DeletionTimestamp.IsZero() {
			continue
		}
		for _, d := range policy.CheckClaim(compiled, c.Namespace, c) {
			if d.Err != nil {
				continue
			}
			if holders[d.Match.ZoneIndex] == nil {
				holders[d.Match.ZoneIndex] = map[string]bool{}
			}
			holders[d.Match.ZoneIndex][c.Namespace] = true
		}
	}
	var parts []string
	shared := 0
	for zi, shareable := range compiled.Shareable() {
		if !shareable || len(holders[zi]) < 2 && len(selected) < 2 {
			continue
		}
		if shared++; shared > maxSharedListed {
			continue
		}
		names := make([]string, 0, len(holders[zi]))
		for ns := range holders[zi] {
			names = append(names, ns)
		}
		sort.Strings(names)
		parts = append(parts, fmt.Sprintf("zone %s: held by %d namespaces (%s) of %d selected", zones[zi], len(names), capList(names, maxSharedListed), len(selected)))
	}
	if shared == 0 {
		return false, v1alpha1.ReasonNoSharedZones, "no zone with provider tokens can be claimed in by more than one selected namespace"
	}
	if shared > maxSharedListed {
		parts = append(parts, fmt.Sprintf("and %d more zones", shared-maxSharedListed))
	}
	return true, v1alpha1.ReasonZoneWideTokens, "Cloudflare tokens are zone-wide: each namespace's provider token can write every name of its zones, the other namespaces' records included; " +
		strings.Join(parts, "; ") + ". Use rfc2136 credentials for shared zones (docs/security-model.md)"
}

func capList(items []string, n int) string {
	if len(items) == 0 {
		return "none yet"
	}
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}
