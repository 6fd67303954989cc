package controllers

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/gateway"
	"github.com/scopedns/scopedns/internal/policy"
)

// GatewayKeysReconciler feeds the RFC 2136 gateway's key store from the
// credentials Secrets and the claims: each namespace's key may write exactly
// the (name, type) pairs it reserved, within the rule's TTL. It only reads
// the cluster, so it runs on every replica (each serves the gateway), not
// just the leader. Requests are keyed by namespace and scope, like the
// credentials controller's.
type GatewayKeysReconciler struct {
	Client   client.Client
	Keys     *gateway.KeyStore
	Policies *policy.Cache
	// Namespace is the operator's own namespace, where the vault Secrets
	// with the TSIG secrets live (see tsigSecrets).
	Namespace string
	Now       func() time.Time
}

// Reconcile puts the namespace's key for the scope into the store, or takes it out.
func (r *GatewayKeysReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns, scopeName := req.Namespace, req.Name
	keyName := TSIGKeyName(ns, scopeName)
	key, ok, err := r.key(ctx, ns, scopeName)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !ok {
		r.Keys.Delete(keyName)
		return ctrl.Result{}, nil
	}
	r.Keys.Put(key)
	return ctrl.Result{}, nil
}

func (r *GatewayKeysReconciler) key(ctx context.Context, ns, scopeName string) (gateway.Key, bool, error) {
	var scope v1alpha1.DNSScope
	if err := r.Client.Get(ctx, client.ObjectKey{Name: scopeName}, &scope); err != nil {
		return gateway.Key{}, false, client.IgnoreNotFound(err)
	}
	if !scope.Spec.Credentials.RFC2136Enabled() {
		return gateway.Key{}, false, nil
	}
	secrets, err := r.tsigSecrets(ctx, ns, scopeName)
	if err != nil || len(secrets) == 0 {
		return gateway.Key{}, false, err
	}
	var claims v1alpha1.DNSRecordClaimList
	if err := r.Client.List(ctx, &claims, client.InNamespace(ns), client.MatchingFields{policy.ScopeIndex: scopeName}); err != nil {
		return gateway.Key{}, false, err
	}
	key := gateway.Key{
		Name:      TSIGKeyName(ns, scopeName),
		Algorithm: TSIGAlgorithm,
		Secrets:   secrets,
		Namespace: ns,
		Scope:     scopeName,
	}
	grants, zones, err := r.grants(ctx, &scope, ns, claims.Items)
	if err != nil {
		return gateway.Key{}, false, err
	}
	key.Grants, key.Zones = grants, zones
	return key, true, nil
}

// grants are what the namespace's key may write: the records without values
// (reserved for the key) that the one verdict allows, over the claims'
// specs. Claim status is never read: a tenant with status rights could
// write Reserved into it, and it lags a narrowed scope.
func (r *GatewayKeysReconciler) grants(ctx context.Context, scope *v1alpha1.DNSScope, ns string, claims []v1alpha1.DNSRecordClaim) (map[gateway.Grant]int32, map[string]string, error) {
	grants, zones := map[gateway.Grant]int32{}, map[string]string{}
	var namespace corev1.Namespace
	if err := r.Client.Get(ctx, client.ObjectKey{Name: ns}, &namespace); err != nil {
		return grants, zones, client.IgnoreNotFound(err)
	}
	for i := range claims {
		c := &claims[i]
		if !c.DeletionTimestamp.IsZero() {
			continue
		}
		reserved, err := keyReservations(ctx, policy.Indexed{Reader: r.Client}, r.Policies, scope, namespace.Labels, c)
		if err != nil {
			return nil, nil, err
		}
		for _, rv := range reserved {
			id := zoneIDOf(scope, rv.Match.Zone)
			if id == "" {
				continue
			}
			zones[rv.Match.Zone] = id
			grants[gateway.Grant{Name: rv.Key.Name, Type: strings.ToUpper(rv.Key.Type)}] = rv.Match.MaxTTL
		}
	}
	return grants, zones, nil
}

// keyReservations are the records of a claim that its namespace's gateway
// key may write: those the one verdict allows that have no values (records
// with values are the operator's to write). The gateway keys and the record
// GC both ask this, so a record the GC keeps is exactly one a key may write.
func keyReservations(ctx context.Context, cluster policy.Cluster, policies *policy.Cache, scope *v1alpha1.DNSScope, nsLabels map[string]string, c *v1alpha1.DNSRecordClaim) ([]policy.RecordVerdict, error) {
	verdict, err := policy.Decide(ctx, policy.Input{
		Claim: c, Scope: scope, NamespaceLabels: nsLabels,
		Contest: policy.OlderWins, Cluster: cluster, Policies: policies,
	})
	if err != nil {
		return nil, err
	}
	var out []policy.RecordVerdict
	for j, rv := range verdict.Records {
		if rv.Allowed && len(c.Spec.Records[j].Values) == 0 {
			out = append(out, rv)
		}
	}
	return out, nil
}

// tsigSecrets are the key's secrets: from the vault in the operator's
// namespace, never from the tenant's Secret (tenants write Secrets), and the
// previous one only while the DNSCredential's status says it is valid.
func (r *GatewayKeysReconciler) tsigSecrets(ctx context.Context, ns, scopeName string) ([]string, error) {
	var cred v1alpha1.DNSCredential
	if err := r.Client.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName(scopeName, ns)}, &cred); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	ts := cred.Status.TSIG
	if ts == nil || !cred.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	var v corev1.Secret
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: vaultName(&cred)}, &v); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	if len(v.Data[KeyTSIGSecret]) == 0 {
		return nil, nil
	}
	out := []string{string(v.Data[KeyTSIGSecret])}
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	if prev := v.Data[KeyTSIGPrevious]; len(prev) > 0 && ts.PreviousValidUntil != nil && ts.PreviousValidUntil.After(now) {
		out = append(out, string(prev))
	}
	return out, nil
}

// SetupWithManager watches what a key depends on; it needs no leader.
func (r *GatewayKeysReconciler) SetupWithManager(mgr ctrl.Manager) error {
	byClaim := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		c := o.(*v1alpha1.DNSRecordClaim)
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: c.Namespace, Name: c.Spec.ScopeName}}}
	})
	byVault := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		l := o.GetLabels()
		if o.GetNamespace() != r.Namespace || l[LabelVault] == "" || l[LabelScope] == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: l[LabelNamespace], Name: l[LabelScope]}}}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("gatewaykeys").
		Watches(&v1alpha1.DNSRecordClaim{}, byClaim, builder.WithPredicates(claimZoneUpdates)).
		Watches(&corev1.Secret{}, byVault).
		Watches(&v1alpha1.DNSCredential{}, handler.EnqueueRequestsFromMapFunc(credentialRequest)).
		Watches(&v1alpha1.DNSScope{}, handler.EnqueueRequestsFromMapFunc(namespacesOfScope(r.Client)), builder.WithPredicates(scopeUpdates)).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false), RateLimiter: rateLimiter(0)}).
		Complete(r)
}
