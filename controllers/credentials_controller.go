package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/policy"
)

// Labels, annotations and the finalizer of the credentials Secret. The
// annotations carry token IDs and times, never a secret value.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "scopedns"
	LabelScope     = "scopedns.io/scope"

	AnnTokenID          = "scopedns.io/token-id"
	AnnTokenName        = "scopedns.io/token-name"
	AnnTokenExpires     = "scopedns.io/token-expires"
	AnnTokenZones       = "scopedns.io/token-zones"
	AnnNextRotation     = "scopedns.io/next-rotation"
	AnnPreviousTokenID  = "scopedns.io/previous-token-id"
	AnnPreviousRevokeAt = "scopedns.io/previous-revoke-at"
	// AnnMinting names a token being minted. It is written before the mint
	// call, so a crash between minting and writing the value leaves a name
	// to revoke instead of an unknown token.
	AnnMinting = "scopedns.io/minting"

	// SecretFinalizer holds the Secret until its tokens are revoked: a
	// namespace deletion takes the Secret with it, and the tokens must not
	// outlive it.
	SecretFinalizer = "scopedns.io/revoke-tokens"

	KeyAPIToken = "api-token"
)

// CredentialsReconciler keeps one credentials Secret per namespace and scope:
// it mints a provider token limited to the zones the namespace claimed,
// narrows or widens it in place when those zones change, rotates it on the
// scope's schedule with an overlap, and revokes it when the namespace no
// longer holds claims under the scope. Requests are keyed by namespace and
// scope name.
type CredentialsReconciler struct {
	// MaxBackoff caps the retry delay after errors (DefaultMaxBackoff).
	MaxBackoff time.Duration
	Client     client.Client
	APIReader  client.Reader // uncached: Secrets the operator did not label are invisible to the cache
	Providers  ProviderSource
	Recorder   events.EventRecorder
	// ClusterName goes into every token name, for the sweep.
	ClusterName string
	// TokenQuota is the provider's token limit for the account; rotations
	// that would cross it are refused (Cloudflare: 500 per account).
	TokenQuota int
	Now        func() time.Time
	// MaxConcurrentReconciles bounds parallel reconciles (default 4).
	MaxConcurrentReconciles int
	// Nameserver is the gateway address written to Secrets for RFC 2136
	// clients (host:port).
	Nameserver string
}

// Reconcile brings one namespace's credentials under one scope up to date.
func (r *CredentialsReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return requeueOnRateLimit(ctx)(r.reconcile(ctx, req))
}

func (r *CredentialsReconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns, scopeName := req.Namespace, req.Name
	scope, zoneIDs, err := r.desired(ctx, ns, scopeName)
	if err != nil {
		return ctrl.Result{}, err
	}
	secret, err := r.currentSecret(ctx, ns, scopeName, scope)
	if err != nil || secret == nil && len(zoneIDs) == 0 {
		return ctrl.Result{}, err
	}
	if secret != nil && !isOurs(secret) {
		r.Recorder.Eventf(secret, nil, corev1.EventTypeWarning, "SecretNotOwned", "WriteCredentials",
			"Secret %s/%s exists and was not created by scopedns; it is left alone and no credentials are written for DNSScope %s", ns, secret.Name, scopeName)
		return ctrl.Result{}, nil
	}
	log.FromContext(ctx).V(1).Info("credentials", "zones", zoneIDs, "secret", secret != nil, "scopeReady", scope != nil && isReady(scope))
	if secret != nil && !secret.DeletionTimestamp.IsZero() || len(zoneIDs) == 0 {
		if scope != nil && !isReady(scope) {
			// Revoking needs the provider; wait for the scope instead of
			// acting on what may be a transient view of the claims.
			return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
		}
		return ctrl.Result{}, r.retire(ctx, scope, secret)
	}
	return r.ensure(ctx, scope, ns, zoneIDs, secret)
}

// desired returns the scope and the zone IDs the namespace's accepted claims
// under it lie in. No zones means the namespace should hold no credentials.
func (r *CredentialsReconciler) desired(ctx context.Context, ns, scopeName string) (*v1alpha1.DNSScope, []string, error) {
	var scope v1alpha1.DNSScope
	if err := r.Client.Get(ctx, client.ObjectKey{Name: scopeName}, &scope); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	creds := &scope.Spec.Credentials
	if !scope.DeletionTimestamp.IsZero() || !creds.ProviderTokenEnabled() && !creds.RFC2136Enabled() {
		return &scope, nil, nil
	}
	var namespace corev1.Namespace
	if err := r.Client.Get(ctx, client.ObjectKey{Name: ns}, &namespace); err != nil {
		if apierrors.IsNotFound(err) {
			return &scope, nil, nil
		}
		return nil, nil, err
	}
	if sel, err := policy.Selects(&scope, namespace.Labels); err != nil || !sel || !namespace.DeletionTimestamp.IsZero() {
		return &scope, nil, nil
	}
	var claims v1alpha1.DNSRecordClaimList
	if err := r.Client.List(ctx, &claims, client.InNamespace(ns), client.MatchingFields{policy.ScopeIndex: scopeName}); err != nil {
		return nil, nil, err
	}
	zones := map[string]bool{}
	for _, c := range claims.Items {
		// Status.Zones lists only zones where the claim has written or
		// reserved records, so refused claims widen nothing.
		if !c.DeletionTimestamp.IsZero() {
			continue
		}
		for _, z := range c.Status.Zones {
			if id := zoneIDOf(&scope, z); id != "" {
				zones[id] = true
			}
		}
	}
	return &scope, sortedSet(zones), nil
}

// currentSecret finds the namespace's credentials Secret for the scope: by
// name when the scope exists, by label when it is gone.
func (r *CredentialsReconciler) currentSecret(ctx context.Context, ns, scopeName string, scope *v1alpha1.DNSScope) (*corev1.Secret, error) {
	if scope != nil {
		// Read from the API server, not the cache: the intent annotation is
		// acted on (tokens revoked by name) before any write could catch a
		// stale copy, so a cached Secret that still shows a finished mint's
		// intent would revoke the token the fresh Secret holds.
		var s corev1.Secret
		err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: CredentialsSecretName(scope)}, &s)
		if err == nil {
			return &s, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	var list corev1.SecretList
	if err := r.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{LabelManagedBy: ManagedBy, LabelScope: scopeName}); err != nil {
		return nil, err
	}
	if len(list.Items) == 0 {
		return nil, nil
	}
	return &list.Items[0], nil
}

// SetupWithManager maps claims, Secrets, scopes and namespaces to
// (namespace, scope) requests.
func (r *CredentialsReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.MaxConcurrentReconciles == 0 {
		r.MaxConcurrentReconciles = 4
	}
	if r.TokenQuota == 0 {
		r.TokenQuota = 500
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("credentials").
		Watches(&v1alpha1.DNSRecordClaim{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			c := o.(*v1alpha1.DNSRecordClaim)
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: c.Namespace, Name: c.Spec.ScopeName}}}
		}), builder.WithPredicates(claimZoneUpdates)).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if !isOurs(o) || o.GetLabels()[LabelScope] == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.GetLabels()[LabelScope]}}}
		})).
		Watches(&v1alpha1.DNSScope{}, handler.EnqueueRequestsFromMapFunc(namespacesOfScope(r.Client)), builder.WithPredicates(scopeUpdates)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.scopesInNamespace)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles, RateLimiter: rateLimiter(r.MaxBackoff)}).
		Complete(r)
}

// namespacesOfScope maps a scope to a (namespace, scope) request for every
// namespace that claims under it or holds its credentials Secret.
func namespacesOfScope(c client.Reader) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		seen := map[string]bool{}
		var claims v1alpha1.DNSRecordClaimList
		if err := c.List(ctx, &claims, client.MatchingFields{policy.ScopeIndex: o.GetName()}); err != nil {
			log.FromContext(ctx).Error(err, "listing claims of a scope")
		}
		for _, claim := range claims.Items {
			seen[claim.Namespace] = true
		}
		var secrets corev1.SecretList
		if err := c.List(ctx, &secrets, client.MatchingLabels{LabelManagedBy: ManagedBy, LabelScope: o.GetName()}); err != nil {
			log.FromContext(ctx).Error(err, "listing credentials Secrets of a scope")
		}
		for _, s := range secrets.Items {
			seen[s.Namespace] = true
		}
		out := make([]reconcile.Request, 0, len(seen))
		for ns := range seen {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: o.GetName()}})
		}
		return out
	}
}

func (r *CredentialsReconciler) scopesInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	seen := map[string]bool{}
	var claims v1alpha1.DNSRecordClaimList
	if err := r.Client.List(ctx, &claims, client.InNamespace(o.GetName())); err != nil {
		log.FromContext(ctx).Error(err, "listing claims of a namespace")
	}
	for _, c := range claims.Items {
		seen[c.Spec.ScopeName] = true
	}
	var secrets corev1.SecretList
	if err := r.Client.List(ctx, &secrets, client.InNamespace(o.GetName()), client.MatchingLabels{LabelManagedBy: ManagedBy}); err != nil {
		log.FromContext(ctx).Error(err, "listing credentials Secrets of a namespace")
	}
	for _, s := range secrets.Items {
		if sc := s.Labels[LabelScope]; sc != "" {
			seen[sc] = true
		}
	}
	out := make([]reconcile.Request, 0, len(seen))
	for sc := range seen {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: o.GetName(), Name: sc}})
	}
	return out
}

func isOurs(o client.Object) bool { return o.GetLabels()[LabelManagedBy] == ManagedBy }

func (r *CredentialsReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

var errNotReady = errors.New("scope is not ready")

func requireReady(scope *v1alpha1.DNSScope) error {
	if scope == nil || !isReady(scope) {
		return fmt.Errorf("%w: credentials wait for the DNSScope to be Ready", errNotReady)
	}
	return nil
}
