package controllers

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/webhook"
)

// ScopeFinalizer holds a deleted scope until the claims under it removed
// their records and every namespace's credentials were revoked: without the
// scope there would be no credential left to clean up with.
const ScopeFinalizer = "scopedns.io/cleanup"

// ScopeReconciler verifies a scope's master credential, resolves its zones at
// the provider and reports how many namespaces and claims it serves. Claims
// and credentials read the resolved zone IDs from its status, so the provider
// is asked for zones once per scope change, not once per claim.
type ScopeReconciler struct {
	// MaxBackoff caps the retry delay after errors (DefaultMaxBackoff).
	MaxBackoff time.Duration
	Client     client.Client
	Providers  ProviderSource
	Recorder   events.EventRecorder
	// Namespace is the operator's namespace, where master credentials live.
	Namespace string
	// VerifyInterval is how often a healthy scope re-verifies its credential.
	VerifyInterval time.Duration
	Now            func() time.Time
	// Marks checks, on each verification, that every zone is this
	// installation's, and the scope reports the zones that are not
	// (ClusterNameConflict).
	Marks *ZoneMarks

	// verified remembers, per scope, what was last verified and when, so
	// the claim-count updates a busy scope gets do not each cost provider calls.
	verified sync.Map // types.UID -> verification
}

type verification struct {
	fingerprint string
	at          time.Time
}

// Reconcile brings one DNSScope's status up to date.
func (r *ScopeReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var scope v1alpha1.DNSScope
	if err := r.Client.Get(ctx, req.NamespacedName, &scope); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !scope.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, &scope)
	}
	if controllerutil.AddFinalizer(&scope, ScopeFinalizer) {
		if err := r.Client.Update(ctx, &scope); err != nil {
			return ctrl.Result{}, err
		}
	}
	before := scope.DeepCopy()
	result, err := requeueOnRateLimit(ctx)(r.reconcile(ctx, &scope))
	// A drift check that finds nothing to do must not write to the API
	// server: with thousands of claims that is thousands of writes per interval.
	if !equality.Semantic.DeepEqual(before.Status, scope.Status) {
		if perr := r.Client.Status().Patch(ctx, &scope, client.MergeFrom(before)); perr != nil && !apierrors.IsNotFound(perr) {
			err = errors.Join(err, fmt.Errorf("patching status: %w", perr))
		}
	}
	return result, err
}

func (r *ScopeReconciler) reconcile(ctx context.Context, scope *v1alpha1.DNSScope) (ctrl.Result, error) {
	gen := scope.Generation
	claims, err := r.countUsage(ctx, scope)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.setSharedZoneTokens(ctx, scope, claims); err != nil {
		return ctrl.Result{}, err
	}
	if errs, _ := webhook.ValidateScopeSpec(scope, r.now()); len(errs) > 0 {
		msg := errs.ToAggregate().Error()
		setCondition(&scope.Status.Conditions, gen, v1alpha1.ConditionProviderReady, false, v1alpha1.ReasonOutsideGrant, "the scope is invalid: "+msg)
		setCondition(&scope.Status.Conditions, gen, v1alpha1.ConditionReady, false, v1alpha1.ReasonOutsideGrant, "the scope is invalid and grants nothing: "+msg)
		return ctrl.Result{}, nil // a spec change requeues
	}

	fp := r.fingerprint(ctx, scope)
	if v, ok := r.verified.Load(scope.UID); ok && isReady(scope) {
		if v := v.(verification); v.fingerprint == fp && r.now().Sub(v.at) < r.VerifyInterval {
			return ctrl.Result{RequeueAfter: r.VerifyInterval - r.now().Sub(v.at)}, nil
		}
	}
	r.verified.Delete(scope.UID)
	p, err := r.Providers.For(ctx, scope)
	if err != nil {
		var ce *credentialError
		if errors.As(err, &ce) {
			r.notReady(scope, ce.reason, ce.msg)
			return ctrl.Result{RequeueAfter: time.Minute}, nil // the Secret watch requeues sooner
		}
		return ctrl.Result{}, err
	}
	if err := p.Verify(ctx); err != nil {
		if !provider.IsForbidden(err) {
			// A provider blip says nothing about the credential; flipping
			// a Ready scope to not Ready would stall every claim under it,
			// so only ProviderReady says so. A scope that was never Ready
			// says it in Ready too: an unreachable server is the likeliest
			// mistake in a new scope.
			if provider.IsRetryable(err) {
				msg := "the provider did not answer: " + err.Error()
				if !isReady(scope) {
					r.notReady(scope, v1alpha1.ReasonProviderUnreachable, msg)
				} else {
					setCondition(&scope.Status.Conditions, gen, v1alpha1.ConditionProviderReady, false, v1alpha1.ReasonProviderUnreachable, msg)
				}
			}
			return ctrl.Result{}, fmt.Errorf("verifying the master credential: %w", err)
		}
		r.notReady(scope, v1alpha1.ReasonCredentialInvalid, "the master credential did not verify: "+err.Error())
		r.Recorder.Eventf(scope, nil, corev1.EventTypeWarning, v1alpha1.ReasonCredentialInvalid, "Verify", "master credential did not verify: %v", err)
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}

	names := make([]string, 0, len(scope.Spec.Zones))
	for _, z := range scope.Spec.Zones {
		names = append(names, strings.TrimSuffix(strings.ToLower(z.Name), "."))
	}
	zones, err := p.Zones(ctx, names)
	if err != nil {
		if provider.IsForbidden(err) {
			r.notReady(scope, v1alpha1.ReasonCredentialInvalid, "looking up zones: "+err.Error())
		}
		return ctrl.Result{}, fmt.Errorf("looking up zones: %w", err)
	}
	found := map[string]string{}
	for _, z := range zones {
		found[z.Name] = z.ID
	}
	scope.Status.Zones = scope.Status.Zones[:0]
	var missing []string
	for _, n := range names {
		scope.Status.Zones = append(scope.Status.Zones, v1alpha1.ZoneStatus{Name: n, ID: found[n]})
		if found[n] == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		r.notReady(scope, v1alpha1.ReasonZoneNotFound, fmt.Sprintf("zones not found at the provider, or not visible to the master credential: %s", strings.Join(missing, ", ")))
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	if msg, err := checkZones(ctx, p, zones); err != nil {
		return ctrl.Result{}, err
	} else if msg != "" {
		r.notReady(scope, v1alpha1.ReasonZoneNotWritable, msg)
		r.Recorder.Eventf(scope, nil, corev1.EventTypeWarning, v1alpha1.ReasonZoneNotWritable, "Verify", "%s", msg)
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	setCondition(&scope.Status.Conditions, gen, v1alpha1.ConditionProviderReady, true, v1alpha1.ReasonReconciled, fmt.Sprintf("credential verified; %d zones resolved", len(zones)))
	setCondition(&scope.Status.Conditions, gen, v1alpha1.ConditionReady, true, v1alpha1.ReasonReconciled, "")
	scope.Status.ObservedGeneration = gen
	// A zone in conflict fails alone (the claim controller and the
	// collectors skip it): the scope stays Ready for its other zones.
	if conflict, err := r.reportMarks(ctx, scope, p, zones); err != nil || conflict {
		return ctrl.Result{RequeueAfter: conflictRecheck}, err
	}
	r.verified.Store(scope.UID, verification{fingerprint: fp, at: r.now()})
	return ctrl.Result{RequeueAfter: r.VerifyInterval}, nil
}

// reportMarks sets ClusterNameConflict from ZoneMarks over the scope's
// zones, with a Warning event while a zone is in conflict, and says whether
// one is.
func (r *ScopeReconciler) reportMarks(ctx context.Context, scope *v1alpha1.DNSScope, p provider.Provider, zones []provider.Zone) (bool, error) {
	if r.Marks == nil {
		return false, nil
	}
	var conflicts []string
	for _, z := range zones {
		err := r.Marks.Check(ctx, p, providerAccount(scope), z)
		var c *provider.ClusterNameConflictError
		switch {
		case errors.As(err, &c):
			conflicts = append(conflicts, c.Error())
		case err != nil:
			return false, fmt.Errorf("checking the cluster marker of zone %s: %w", z.Name, err)
		}
	}
	gen := scope.Generation
	if len(conflicts) == 0 {
		setCondition(&scope.Status.Conditions, gen, v1alpha1.ConditionClusterNameConflict, false, v1alpha1.ReasonClusterMarked,
			fmt.Sprintf("every zone holds this installation's marker and no other installation's of cluster name %q", r.Marks.ClusterName))
		return false, nil
	}
	msg := strings.Join(conflicts, "; ")
	setCondition(&scope.Status.Conditions, gen, v1alpha1.ConditionClusterNameConflict, true, v1alpha1.ReasonClusterNameConflict, msg)
	r.Recorder.Eventf(scope, nil, corev1.EventTypeWarning, v1alpha1.ReasonClusterNameConflict, "Verify", "%s", msg)
	return true, nil
}

// zoneChecker is a provider that can tell, without changing anything,
// whether its credential may write and read a zone: an RFC 2136 server's
// update-policy and allow-transfer are per zone, and a key that verifies may
// still be refused there. Cloudflare answers that with Zones already.
type zoneChecker interface {
	CheckZone(ctx context.Context, zoneID string) error
}

// checkZones asks a zoneChecker about every zone. It returns the message for
// the scope's conditions when a zone is refused, an error when the provider
// could not say.
func checkZones(ctx context.Context, p provider.Provider, zones []provider.Zone) (string, error) {
	zc, ok := p.(zoneChecker)
	if !ok {
		return "", nil
	}
	var refused []string
	for _, z := range zones {
		if err := zc.CheckZone(ctx, z.ID); err != nil {
			if !provider.IsForbidden(err) {
				return "", fmt.Errorf("checking zone %s: %w", z.Name, err)
			}
			refused = append(refused, err.Error())
		}
	}
	if len(refused) == 0 {
		return "", nil
	}
	return "the master credential may not write every zone: " + strings.Join(refused, "; "), nil
}

// reconcileDelete lets a deleted scope go once nothing it granted is left:
// the claim controller removes records of claims under a deleting scope and
// the credentials controller revokes their tokens, both through this scope.
func (r *ScopeReconciler) reconcileDelete(ctx context.Context, scope *v1alpha1.DNSScope) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(scope, ScopeFinalizer) {
		return ctrl.Result{}, nil
	}
	var claims v1alpha1.DNSRecordClaimList
	if err := r.Client.List(ctx, &claims, client.MatchingFields{policy.ScopeIndex: scope.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	withRecords := 0
	for _, c := range claims.Items {
		if len(c.Status.Zones) > 0 {
			withRecords++
		}
	}
	// Credentials are counted from the operator's own DNSCredentials, not
	// from Secrets: a tenant's labelled Secret must not hold a scope.
	creds, err := credentialsOfScope(ctx, r.Client, scope.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if withRecords > 0 || len(creds) > 0 {
		log.FromContext(ctx).Info("scope is being deleted; waiting for its records and credentials to be removed",
			"claimsWithRecords", withRecords, "credentials", len(creds))
		return ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	r.verified.Delete(scope.UID)
	controllerutil.RemoveFinalizer(scope, ScopeFinalizer)
	return ctrl.Result{}, client.IgnoreNotFound(r.Client.Update(ctx, scope))
}

// fingerprint changes whenever what a verification depends on changes: the
// scope's spec or its master credential Secret.
func (r *ScopeReconciler) fingerprint(ctx context.Context, scope *v1alpha1.DNSScope) string {
	fp := fmt.Sprint(scope.Generation)
	if ref, _, ok := masterSecret(scope); ok {
		var s corev1.Secret
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: ref.Name}, &s); err == nil {
			fp += "/" + s.ResourceVersion
		}
	}
	return fp
}

func (r *ScopeReconciler) notReady(scope *v1alpha1.DNSScope, reason, msg string) {
	setCondition(&scope.Status.Conditions, scope.Generation, v1alpha1.ConditionProviderReady, false, reason, msg)
	setCondition(&scope.Status.Conditions, scope.Generation, v1alpha1.ConditionReady, false, reason, msg)
}

// countUsage fills status.claims and status.namespaces from the cache
// index, and returns the claims.
func (r *ScopeReconciler) countUsage(ctx context.Context, scope *v1alpha1.DNSScope) ([]v1alpha1.DNSRecordClaim, error) {
	// Every claim event of the scope brings this reconcile back, and at
	// 10,000 claims a deep copy of each on every pass was most of its cost:
	// the claims are only read, here and by setSharedZoneTokens.
	var claims v1alpha1.DNSRecordClaimList
	if err := r.Client.List(ctx, &claims, client.MatchingFields{policy.ScopeIndex: scope.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing claims of scope %q: %w", scope.Name, err)
	}
	namespaces := map[string]bool{}
	states := map[string]float64{}
	for _, c := range claims.Items {
		namespaces[c.Namespace] = true
		states[claimState(&c)]++
	}
	scope.Status.Claims = int32(len(claims.Items))
	scope.Status.Namespaces = int32(len(namespaces))
	claimsByState.DeletePartialMatch(map[string]string{"scope": scope.Name})
	keys := make([]string, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		claimsByState.WithLabelValues(scope.Name, k).Set(states[k])
	}
	return claims.Items, nil
}

func claimState(c *v1alpha1.DNSRecordClaim) string {
	for _, cond := range c.Status.Conditions {
		if cond.Type == v1alpha1.ConditionReady {
			if cond.Status == "True" {
				return "Ready"
			}
			return cond.Reason
		}
	}
	return "Pending"
}

func (r *ScopeReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// SetupWithManager watches scopes, the master credential Secrets in the
// operator's namespace, claims (for the counts) and namespaces (for who
// shares a zone).
func (r *ScopeReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.VerifyInterval == 0 {
		r.VerifyInterval = 10 * time.Minute
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.DNSScope{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.scopesForSecret),
			builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetNamespace() == r.Namespace })),
			builder.OnlyMetadata). // the mapper needs the name; see the credentials controller
		Watches(&v1alpha1.DNSRecordClaim{}, claimsCountedAfter(countDelay)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.allScopes), builder.WithPredicates(namespaceSelectionChanges)).
		WithOptions(controller.Options{RateLimiter: rateLimiter(r.MaxBackoff)}).
		Named("dnsscope").
		Complete(r)
}

// countDelay is how long claim events wait to be counted into their
// scope's status: a scope reconcile lists every claim of the scope, and
// 10,000 claims converging send tens of thousands of events; coalescing
// those of a couple of seconds into one pass keeps the counts current
// without the scope controller taking a core from the API server.
const countDelay = 2 * time.Second

// claimsCountedAfter enqueues a claim's scope delay after the event; the
// workqueue keeps one entry per scope, so every event of the window ends in
// one reconcile.
func claimsCountedAfter(delay time.Duration) handler.EventHandler {
	add := func(q workqueue.TypedRateLimitingInterface[reconcile.Request], objs ...client.Object) {
		for _, o := range objs {
			if c, ok := o.(*v1alpha1.DNSRecordClaim); ok {
				q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKey{Name: c.Spec.ScopeName}}, delay)
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(q, e.Object)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(q, e.ObjectOld, e.ObjectNew) // a claim that moved scope is counted out of the old one too
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(q, e.Object)
		},
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(q, e.Object)
		},
	}
}

// namespaceSelectionChanges lets through what can change which scopes
// select a namespace: its arrival, its labels, its deletion.
var namespaceSelectionChanges = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return !equality.Semantic.DeepEqual(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
			e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
	},
}

func (r *ScopeReconciler) allScopes(ctx context.Context, _ client.Object) []reconcile.Request {
	var scopes v1alpha1.DNSScopeList
	if err := r.Client.List(ctx, &scopes); err != nil {
		log.FromContext(ctx).Error(err, "listing scopes for a namespace change")
		return nil
	}
	out := make([]reconcile.Request, 0, len(scopes.Items))
	for _, s := range scopes.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: s.Name}})
	}
	return out
}

func (r *ScopeReconciler) scopesForSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var scopes v1alpha1.DNSScopeList
	if err := r.Client.List(ctx, &scopes); err != nil {
		log.FromContext(ctx).Error(err, "listing scopes for a Secret change")
		return nil
	}
	var out []reconcile.Request
	for _, s := range scopes.Items {
		if ref, _, ok := masterSecret(&s); ok && ref.Name == o.GetName() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: s.Name}})
		}
	}
	return out
}
