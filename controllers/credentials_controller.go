package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/policy"
)

// Labels and annotations of the Secrets the operator writes. The tenant
// Secret's annotations mirror times for readers; the operator never reads
// them back (tenants can write them). Its own state is in DNSCredential
// status and, for values, in a vault Secret in the operator's namespace.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "scopedns"
	LabelScope     = "scopedns.io/scope"
	// LabelNamespace and LabelVault mark the vault Secrets in the
	// operator's namespace: the namespace their values are delivered to.
	LabelNamespace = "scopedns.io/namespace"
	LabelVault     = "scopedns.io/vault"

	// AnnTokenExpires and AnnNextRotation mirror the DNSCredential's times
	// on the tenant Secret for readers; they are output only.
	AnnTokenExpires = "scopedns.io/token-expires"
	AnnNextRotation = "scopedns.io/next-rotation"
	// AnnCreation carries the one-time nonce of the create that made the
	// tenant Secret (DNSCredential status.secretCreation), so a crash before
	// its UID is recorded does not orphan the operator's own Secret.
	AnnCreation = "scopedns.io/creation"
	// AnnVaultSecretCreation on the vault Secret records, before the tenant
	// Secret is created, its name and that nonce ("name/nonce"). The vault
	// is written in the same pass anyway for a new namespace (its TSIG key),
	// where a status write of its own would cost one more write per
	// namespace.
	AnnVaultSecretCreation = "scopedns.io/secret-creation"

	// Annotations and finalizer of the Secrets of earlier releases, read
	// once by the migration (migrate.go) and never again.
	AnnTokenID            = "scopedns.io/token-id"
	AnnTokenName          = "scopedns.io/token-name"
	AnnTokenZones         = "scopedns.io/token-zones"
	AnnPreviousTokenID    = "scopedns.io/previous-token-id"
	AnnPreviousRevokeAt   = "scopedns.io/previous-revoke-at"
	AnnMinting            = "scopedns.io/minting"
	LegacySecretFinalizer = "scopedns.io/revoke-tokens"

	KeyAPIToken = "api-token"
)

// CredentialsReconciler keeps one DNSCredential per namespace and scope and
// delivers it in a tenant Secret: it mints a provider token limited to the
// zones the namespace claimed, narrows or widens it in place when those zones
// change, rotates it on the scope's schedule with an overlap, and revokes it
// when the namespace no longer holds claims under the scope. Requests are
// keyed by namespace and scope name.
type CredentialsReconciler struct {
	// MaxBackoff caps the retry delay after errors (DefaultMaxBackoff).
	MaxBackoff time.Duration
	Client     client.Client
	// APIReader reads the DNSCredential, the vault and the tenant Secret
	// uncached: an intent is acted on (a token revoked by name) before any
	// write could catch a stale copy.
	APIReader client.Reader
	Providers ProviderSource
	Recorder  events.EventRecorder
	// Namespace is the operator's own namespace, where the vault Secrets
	// live beside the master credentials; tenants cannot write there.
	Namespace string
	// ClusterName goes into every token name, for the sweep.
	ClusterName string
	// TokenQuota is the provider's token limit for the account; mints and
	// rotations that would cross it are refused (Cloudflare: 500 per account).
	TokenQuota int
	// QuotaRetryInterval is how often a DNSCredential refused a token for
	// the quota looks again when no release wakes it sooner
	// (DefaultQuotaRetryInterval).
	QuotaRetryInterval time.Duration
	Now                func() time.Time
	// MaxConcurrentReconciles bounds parallel reconciles (default 16). A
	// reconcile mostly waits on the API server (reads of the vault and the
	// tenant Secret, a status write), so more workers than cores is what
	// lets 10,000 namespaces converge; the quota check is serialized apart
	// (quotaState.mint), so it stays exact however many run.
	MaxConcurrentReconciles int
	// Policies compiles scopes for the verdict that decides the token's
	// zones; nil compiles without a cache.
	Policies *policy.Cache
	// Nameserver is the gateway address written to Secrets for RFC 2136
	// clients (host:port).
	Nameserver string
	// HTTPGatewayServed says the manager serves the HTTP front door
	// (acme-dns, dyndns2); HTTPGatewayURL is where tenants reach it, written
	// to acmedns.json as server_url. Front-door logins are delivered only
	// with both.
	HTTPGatewayServed bool
	HTTPGatewayURL    string

	quota quotaState
	// echoes are this controller's own writes of DNSCredentials and tenant
	// Secrets, whose watch events wake nothing.
	echoes echoes
}

// Reconcile brings one namespace's credentials under one scope up to date.
func (r *CredentialsReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	res, err := r.reconcile(ctx, req)
	if errors.Is(err, errQuota) {
		// Waiting for quota is not a failure to back off from: the
		// condition and the event say so, a released token wakes the oldest
		// waiters (quotaEvents), and the interval is the fallback.
		r.quota.wait(req, r.now())
		wait := r.quotaRetryInterval()
		if res.RequeueAfter > 0 && res.RequeueAfter < wait {
			wait = res.RequeueAfter
		}
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	r.quota.done(req)
	return requeueOnRateLimit(ctx)(res, err)
}

func (r *CredentialsReconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns, scopeName := req.Namespace, req.Name
	scope, zoneIDs, err := r.desired(ctx, ns, scopeName)
	if err != nil {
		return ctrl.Result{}, err
	}
	cred, err := r.credential(ctx, scopeName, ns)
	if err != nil {
		return ctrl.Result{}, err
	}
	if cred != nil {
		ctx = withSavedStatus(ctx, cred)
	}
	created := false
	if cred == nil {
		legacy, err := r.legacySecret(ctx, ns, scope)
		if err != nil || legacy == nil && len(zoneIDs) == 0 {
			return ctrl.Result{}, err
		}
		if err := requireReady(scope); err != nil && legacy != nil {
			// Migrating reads tokens at the provider; wait for the scope.
			return ctrl.Result{RequeueAfter: 30 * time.Second}, nil //nolint:nilerr // the scope watch requeues sooner
		}
		if cred, created, err = r.createCredential(ctx, scopeName, ns); err != nil {
			return ctrl.Result{}, err
		}
		ctx = withSavedStatus(ctx, cred)
		if legacy != nil {
			created = false // migrate reads and fills the vault
			if err := r.migrate(ctx, scope, cred, legacy); err != nil {
				return ctrl.Result{}, r.finish(ctx, cred, err)
			}
		}
	}
	log.FromContext(ctx).V(1).Info("credentials", "zones", zoneIDs, "scopeReady", scope != nil && isReady(scope))
	if len(zoneIDs) == 0 {
		if scope != nil && !isReady(scope) {
			// Revoking needs the provider; wait for the scope instead of
			// acting on what may be a transient view of the claims.
			return ctrl.Result{RequeueAfter: 30 * time.Second}, nil
		}
		return ctrl.Result{}, r.finish(ctx, cred, r.retire(ctx, scope, cred))
	}
	res, err := r.ensure(ctx, scope, cred, zoneIDs, created)
	if errors.Is(err, errQuota) {
		// Everything but the token was delivered; the status says why the
		// token is not, and Reconcile schedules the next look.
		if serr := r.record(ctx, cred, err); serr != nil {
			return ctrl.Result{}, serr // the refusal is found again on the retry
		}
		return res, err
	}
	if errors.Is(err, errSecretNotOwned) || errors.Is(err, errSecretNameConflict) {
		// Nothing to retry until someone removes that Secret or the scope
		// that holds its name: the condition and the event say so, the
		// Secret and DNSCredential watches requeue when either goes, and a
		// slow requeue looks again.
		if serr := r.finish(ctx, cred, err); !errors.Is(serr, errSecretNotOwned) && !errors.Is(serr, errSecretNameConflict) {
			return ctrl.Result{}, serr
		}
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	return res, r.finish(ctx, cred, err)
}

// credential reads the DNSCredential of a namespace under a scope, or nil.
// One the cache does not hold is taken as absent without asking the API
// server (every new namespace would otherwise cost a GET that answers 404):
// if the cache only lags, the create that follows fails as a conflict and is
// retried, and the DNSCredential's own watch event reconciles again. One the
// cache holds is read from the API server, for the reason APIReader says.
func (r *CredentialsReconciler) credential(ctx context.Context, scopeName, ns string) (*v1alpha1.DNSCredential, error) {
	key := client.ObjectKey{Name: v1alpha1.DNSCredentialName(scopeName, ns)}
	var c v1alpha1.DNSCredential
	if err := r.Client.Get(ctx, key, &c); apierrors.IsNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	err := r.APIReader.Get(ctx, key, &c)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// createCredential creates the empty DNSCredential: its existence is what
// the sweep and the quota see, before any token is minted. created says
// this call made it, so nothing of it can exist yet (its vault).
func (r *CredentialsReconciler) createCredential(ctx context.Context, scopeName, ns string) (cred *v1alpha1.DNSCredential, created bool, err error) {
	c := &v1alpha1.DNSCredential{
		ObjectMeta: metav1.ObjectMeta{
			Name:   v1alpha1.DNSCredentialName(scopeName, ns),
			Labels: map[string]string{LabelManagedBy: ManagedBy, LabelScope: scopeName, LabelNamespace: ns},
		},
		Spec: v1alpha1.DNSCredentialSpec{ScopeName: scopeName, Namespace: ns},
	}
	err = r.echoes.write(echoCredential, c, func() error { return r.Client.Create(ctx, c) })
	if apierrors.IsAlreadyExists(err) {
		// The cache lagged (credential): go on with the one that exists.
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(c), c); err != nil {
			return nil, false, fmt.Errorf("reading DNSCredential %s: %w", c.Name, err)
		}
		return c, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("creating DNSCredential %s: %w", c.Name, err)
	}
	return c, true, nil
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
	// The zones come from the one verdict over the claims' specs, not from
	// their status (read by no decision): a refused record widens nothing.
	zones := map[string]bool{}
	for i := range claims.Items {
		c := &claims.Items[i]
		if !c.DeletionTimestamp.IsZero() {
			continue
		}
		verdict, err := policy.Decide(ctx, policy.Input{
			Claim: c, Scope: &scope, NamespaceLabels: namespace.Labels,
			Contest: policy.OlderWins, Cluster: policy.Indexed{Reader: r.Client}, Policies: r.Policies,
		})
		if err != nil {
			return nil, nil, err
		}
		for _, rv := range verdict.Records {
			if !rv.Allowed {
				continue
			}
			if id := zoneIDOf(&scope, rv.Match.Zone); id != "" {
				zones[id] = true
			}
		}
	}
	return &scope, sortedSet(zones), nil
}

// legacySecret finds a credentials Secret of an earlier release, which
// kept the operator's state in its annotations: one with the old finalizer,
// by name when the scope exists. What it says is checked by migrate, never
// trusted. Such a Secret carries the operator's label, so the metadata cache
// (which holds every labelled Secret's name) answers for one that is not
// there, and only one that is there is read in full.
func (r *CredentialsReconciler) legacySecret(ctx context.Context, ns string, scope *v1alpha1.DNSScope) (*corev1.Secret, error) {
	if scope == nil {
		return nil, nil
	}
	key := client.ObjectKey{Namespace: ns, Name: CredentialsSecretName(scope)}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := r.Client.Get(ctx, key, m); apierrors.IsNotFound(err) || err == nil && !isOurs(m) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var s corev1.Secret
	err := r.APIReader.Get(ctx, key, &s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !isOurs(&s) || !controllerutil.ContainsFinalizer(&s, LegacySecretFinalizer) {
		return nil, nil
	}
	return &s, nil
}

// SetupWithManager maps claims, Secrets, scopes and namespaces to
// (namespace, scope) requests.
func (r *CredentialsReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.MaxConcurrentReconciles == 0 {
		r.MaxConcurrentReconciles = 16
	}
	if r.TokenQuota == 0 {
		r.TokenQuota = 500
	}
	providerTokenQuota.WithLabelValues(r.ClusterName).Set(float64(r.TokenQuota))
	return ctrl.NewControllerManagedBy(mgr).
		Named("credentials").
		Watches(&v1alpha1.DNSRecordClaim{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			c := o.(*v1alpha1.DNSRecordClaim)
			return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: c.Namespace, Name: c.Spec.ScopeName}}}
		}), builder.WithPredicates(claimZoneUpdates)).
		// A tenant Secret that is changed or deleted is put back; a vault
		// Secret changes only by this controller's own hand. Labels only
		// route the request: nothing in them is trusted.
		// Metadata only: a tenant can put the operator's labels on any
		// number of megabyte Secrets, and their data must never reach the
		// cache. Reconciles read the Secrets they write from the API server.
		Watches(&corev1.Secret{}, r.secretEvents(), builder.OnlyMetadata).
		Watches(&v1alpha1.DNSCredential{}, credentialEvents(r.Client, &r.echoes)).
		// A DNSCredential that gives up tokens makes room for the quota's
		// waiters.
		Watches(&v1alpha1.DNSCredential{}, r.quotaEvents()).
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
		creds, err := credentialsOfScope(ctx, c, o.GetName())
		if err != nil {
			log.FromContext(ctx).Error(err, "listing DNSCredentials of a scope")
		}
		for _, dc := range creds {
			seen[dc.Spec.Namespace] = true
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
	var creds v1alpha1.DNSCredentialList
	if err := r.Client.List(ctx, &creds, client.MatchingFields{CredentialNamespaceIndex: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing DNSCredentials of a namespace")
	}
	for _, dc := range creds.Items {
		if dc.Spec.Namespace == o.GetName() {
			seen[dc.Spec.ScopeName] = true
		}
	}
	out := make([]reconcile.Request, 0, len(seen))
	for sc := range seen {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: o.GetName(), Name: sc}})
	}
	return out
}

func isOurs(o client.Object) bool { return o.GetLabels()[LabelManagedBy] == ManagedBy }

// secretRequests routes a tenant Secret by its labels, and a vault Secret
// (in the operator's namespace) by the DNSCredential it belongs to. A
// tenant Secret also wakes every other credential of its namespace: one
// waiting for that name (SecretNameConflict, SecretNotOwned) takes it over
// as soon as it is deleted.
func (r *CredentialsReconciler) secretRequests(ctx context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if !isOurs(o) || l[LabelScope] == "" {
		return nil
	}
	if o.GetNamespace() == r.Namespace && l[LabelVault] != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: l[LabelNamespace], Name: l[LabelScope]}}}
	}
	own := reconcile.Request{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: l[LabelScope]}}
	return append(credentialsInNamespace(ctx, r.Client, o.GetNamespace(), l[LabelScope]), own)
}

// secretEvents routes Secret events by secretRequests, but not this
// controller's own writes coming back (echoes): for the vault Secrets, whose
// only writer it is, every create and update; for a tenant Secret, the
// version it wrote. A reconcile for each (two or three per new namespace)
// would read everything again to find nothing to do. Deletes always route.
func (r *CredentialsReconciler) secretEvents() handler.EventHandler {
	route := func(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		for _, req := range r.secretRequests(ctx, o) {
			q.Add(req)
		}
	}
	// A vault or a tenant Secret as this controller wrote it wakes nothing.
	routeUnlessOwn := func(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if o.GetNamespace() == r.Namespace && o.GetLabels()[LabelVault] != "" ||
			r.echoes.filter(echoSecret, o, func() { route(ctx, o, q) }) {
			return
		}
		route(ctx, o, q)
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			routeUnlessOwn(ctx, e.Object, q)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			routeUnlessOwn(ctx, e.ObjectNew, q)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.echoes.forget(echoSecret, e.Object)
			route(ctx, e.Object, q)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			route(ctx, e.Object, q)
		},
	}
}

// credentialRequest routes a DNSCredential to its (namespace, scope) request.
func credentialRequest(_ context.Context, o client.Object) []reconcile.Request {
	c := o.(*v1alpha1.DNSCredential)
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: c.Spec.Namespace, Name: c.Spec.ScopeName}}}
}

// credentialEvents routes a DNSCredential to its own request and, when it
// appears or goes, to the other credentials of its namespace: the one
// waiting for its Secret name takes over within one reconcile. An update
// wakes only the credential itself, and only when more than its status
// changed (its deletion, finalizers, labels or spec): this controller is
// the status's only writer, so a status update is its own write coming
// back, and each new namespace writes its status twice.
func credentialEvents(c client.Reader, echo *echoes) handler.EventHandler {
	own := func(o client.Object) reconcile.Request { return credentialRequest(context.Background(), o)[0] }
	siblings := func(ctx context.Context, o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		dc := o.(*v1alpha1.DNSCredential)
		for _, req := range credentialsInNamespace(ctx, c, dc.Spec.Namespace, dc.Spec.ScopeName) {
			q.Add(req)
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			// The siblings always learn of a new DNSCredential; its own
			// request not when the create came from its own reconcile.
			siblings(ctx, e.Object, q)
			if !echo.filter(echoCredential, e.Object, func() { q.Add(own(e.Object)) }) {
				q.Add(own(e.Object))
			}
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if moreThanStatus(e.ObjectOld, e.ObjectNew) {
				q.Add(own(e.ObjectNew))
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			echo.forget(echoCredential, e.Object)
			q.Add(own(e.Object))
			siblings(ctx, e.Object, q)
		},
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			q.Add(own(e.Object))
		},
	}
}

// credentialsInNamespace is a request for every DNSCredential of the
// namespace but the one of scope except, from the cache.
func credentialsInNamespace(ctx context.Context, c client.Reader, ns, except string) []reconcile.Request {
	var creds v1alpha1.DNSCredentialList
	if err := c.List(ctx, &creds, client.MatchingFields{CredentialNamespaceIndex: ns}); err != nil {
		log.FromContext(ctx).Error(err, "listing DNSCredentials of a namespace")
		return nil
	}
	var out []reconcile.Request
	for _, dc := range creds.Items {
		if dc.Spec.Namespace == ns && dc.Spec.ScopeName != except {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: ns, Name: dc.Spec.ScopeName}})
		}
	}
	return out
}

// credentialsOfScope lists the DNSCredentials issued under a scope, from
// the cache.
func credentialsOfScope(ctx context.Context, c client.Reader, scope string) ([]v1alpha1.DNSCredential, error) {
	var list v1alpha1.DNSCredentialList
	if err := c.List(ctx, &list, client.MatchingLabels{LabelScope: scope}); err != nil {
		return nil, err
	}
	out := list.Items[:0]
	for _, dc := range list.Items {
		if dc.Spec.ScopeName == scope { // the label only narrows the list; the spec decides
			out = append(out, dc)
		}
	}
	return out, nil
}

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
