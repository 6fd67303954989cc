package controllers

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/gateway"
	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/provider"
)

// ClusterLive is the record GC's LiveSource read from the cluster: claims
// from the cache, gateway grants judged again from claim specs and scopes
// (never from claim status, which is not evidence of anything).
type ClusterLive struct {
	Client      client.Reader
	Policies    *policy.Cache
	ClusterName string
	// GatewayGrants judges which (name, type) pairs each namespace's gateway
	// key may write; DefaultGatewayGrants when nil. It is a field so that
	// the one policy verdict can replace it without touching the GC.
	GatewayGrants GatewayGrantsFunc
}

// GatewayGrantsFunc returns, by namespace, the (name, type) pairs the
// namespace's gateway key may write under the scope (normalised names,
// upper-case types). claims are the scope's claims that are not being
// deleted; namespaces the cluster's namespaces by name.
type GatewayGrantsFunc func(ctx context.Context, scope *v1alpha1.DNSScope, claims []*v1alpha1.DNSRecordClaim, namespaces map[string]*corev1.Namespace) (map[string]map[grant.Key]bool, error)

// Live implements LiveSource.
func (l *ClusterLive) Live(ctx context.Context) (LiveOwners, error) {
	var claims v1alpha1.DNSRecordClaimList
	if err := l.Client.List(ctx, &claims); err != nil {
		return LiveOwners{}, err
	}
	var scopes v1alpha1.DNSScopeList
	if err := l.Client.List(ctx, &scopes); err != nil {
		return LiveOwners{}, err
	}
	var nsList corev1.NamespaceList
	if err := l.Client.List(ctx, &nsList); err != nil {
		return LiveOwners{}, err
	}
	namespaces := map[string]*corev1.Namespace{}
	for i := range nsList.Items {
		namespaces[nsList.Items[i].Name] = &nsList.Items[i]
	}

	live := LiveOwners{Claims: map[string]bool{}, Gateway: map[string]map[grant.Key]bool{}}
	byScope := map[string][]*v1alpha1.DNSRecordClaim{}
	for i := range claims.Items {
		c := &claims.Items[i]
		// A claim being deleted with the finalizer is the claim
		// controller's to clean up; without it, nobody will.
		if c.DeletionTimestamp.IsZero() || controllerutil.ContainsFinalizer(c, ClaimFinalizer) {
			live.Claims[provider.OwnerComment(l.ClusterName, c.Namespace, c.Name)] = true
		}
		if c.DeletionTimestamp.IsZero() {
			byScope[c.Spec.ScopeName] = append(byScope[c.Spec.ScopeName], c)
		}
	}
	grants := l.GatewayGrants
	if grants == nil {
		grants = l.keyGrants
	}
	for i := range scopes.Items {
		s := &scopes.Items[i]
		if !s.Spec.Credentials.RFC2136Enabled() || !s.DeletionTimestamp.IsZero() {
			continue
		}
		byNamespace, err := grants(ctx, s, byScope[s.Name], namespaces)
		if err != nil {
			return LiveOwners{}, err
		}
		for ns, keys := range byNamespace {
			marker := gateway.OwnerComment(l.ClusterName, ns)
			if live.Gateway[marker] == nil {
				live.Gateway[marker] = map[grant.Key]bool{}
			}
			for k := range keys {
				live.Gateway[marker][k] = true
			}
		}
	}
	return live, nil
}

// keyGrants grants a namespace's gateway key what GatewayKeysReconciler
// grants it (keyReservations, the one verdict over claim specs), in every
// namespace the scope selects.
func (l *ClusterLive) keyGrants(ctx context.Context, scope *v1alpha1.DNSScope, claims []*v1alpha1.DNSRecordClaim, namespaces map[string]*corev1.Namespace) (map[string]map[grant.Key]bool, error) {
	out := map[string]map[grant.Key]bool{}
	for _, c := range claims {
		ns, ok := namespaces[c.Namespace]
		if !ok || !ns.DeletionTimestamp.IsZero() {
			continue
		}
		reserved, err := keyReservations(ctx, policy.Indexed{Reader: l.Client}, l.Policies, scope, ns.Labels, c)
		if err != nil {
			return nil, err
		}
		for _, rv := range reserved {
			if out[c.Namespace] == nil {
				out[c.Namespace] = map[grant.Key]bool{}
			}
			out[c.Namespace][grant.Key{Name: provider.NormalizeName(rv.Key.Name), Type: strings.ToUpper(rv.Key.Type)}] = true
		}
	}
	return out, nil
}
