package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
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
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/batch"
	"github.com/scopedns/scopedns/internal/policy"
)

// ClaimFinalizer holds a claim until the records it owns are removed.
const ClaimFinalizer = "scopedns.io/records"

// ClaimReconciler writes a claim's records through the provider: it checks
// the grant again (a claim that slipped past a disabled webhook is still
// refused), settles conflicts (the older claim wins), plans against a
// snapshot of the zone and applies the changes in one batch per zone.
type ClaimReconciler struct {
	// MaxBackoff caps the retry delay after errors (DefaultMaxBackoff).
	MaxBackoff time.Duration
	Client     client.Client
	Providers  ProviderSource
	Recorder   events.EventRecorder
	Policies   *policy.Cache
	// ClusterName goes into the owner marker of every record written.
	ClusterName string
	// ConcealHolders words a conflict with another namespace's claim in the
	// claim's status without naming it (--conceal-conflict-holders); the
	// holder goes to the operator's log, through Holders (sampled by
	// namespace; the webhook's, so one budget serves both).
	ConcealHolders bool
	Holders        *policy.HolderLog
	// DriftInterval is how old a zone snapshot may get before it is listed
	// again, and how often a Ready claim is re-checked against it.
	DriftInterval time.Duration
	// FreshFor is how old a snapshot may be when a claim creates records: an
	// older one is listed again first, so a record written outside scopedns
	// since then is seen and left alone (default 1m). Bulk convergence
	// writes against fresh snapshots and pays nothing extra.
	FreshFor time.Duration
	Now      func() time.Time
	// MaxConcurrentReconciles bounds parallel reconciles (default 100).
	MaxConcurrentReconciles int
	// Marks says which zones are this installation's: in a zone another
	// installation of the cluster name marked, records with this cluster's
	// owner markers may be that installation's, so nothing is written,
	// adopted or removed there.
	Marks *ZoneMarks

	// BatchWindow is how long the first claim with changes for a zone waits
	// for others to join its batch (default 250ms: a quarter second of
	// latency turns a burst of a thousand claims into a handful of requests).
	BatchWindow time.Duration
	// BatchLimit is the most record changes per batch (default 200, the
	// Cloudflare free plan's limit).
	BatchLimit int

	zones   zoneRecords
	batches *batch.Batcher
	// wake brings claims back when the record GC frees a name they want.
	wake chan event.GenericEvent
}

// Reconcile brings one claim's records and status up to date.
func (r *ClaimReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var claim v1alpha1.DNSRecordClaim
	if err := r.Client.Get(ctx, req.NamespacedName, &claim); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !claim.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, &claim)
	}
	if controllerutil.AddFinalizer(&claim, ClaimFinalizer) {
		// The update's own event brings the claim back with the finalizer
		// in the cache. Going on here instead made that next reconcile read
		// a cached claim without this one's status and patch the same
		// status a second time (1.8 status patches per new claim at a
		// thousand namespaces).
		err := r.Client.Update(ctx, &claim)
		if apierrors.IsConflict(err) {
			// The cache is behind (another controller's write woke this
			// reconcile first): the newer version's watch event is on its
			// way and brings the claim back. Not an error to back off on.
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	before := claim.DeepCopy()
	result, err := requeueOnRateLimit(ctx)(r.reconcile(ctx, &claim))
	// A drift check that finds nothing to do must not write to the API
	// server: with thousands of claims that is thousands of writes per interval.
	if !equality.Semantic.DeepEqual(before.Status, claim.Status) {
		if perr := r.Client.Status().Patch(ctx, &claim, client.MergeFrom(before)); perr != nil && !apierrors.IsNotFound(perr) {
			err = errors.Join(err, fmt.Errorf("patching status: %w", perr))
		}
	}
	return result, err
}

// reconcileDelete removes every record the claim owns, then lets it go.
func (r *ClaimReconciler) reconcileDelete(ctx context.Context, claim *v1alpha1.DNSRecordClaim) error {
	if !controllerutil.ContainsFinalizer(claim, ClaimFinalizer) {
		return nil
	}
	var scope v1alpha1.DNSScope
	err := r.Client.Get(ctx, client.ObjectKey{Name: claim.Spec.ScopeName}, &scope)
	switch {
	case apierrors.IsNotFound(err):
		// No scope, no provider to clean up through; the records stay
		// marked as this claim's, for an admin to remove.
		log.FromContext(ctx).Info("scope is gone; leaving the claim's records in place", "scope", claim.Spec.ScopeName)
	case err != nil:
		return err
	default:
		if err := r.removeOwnedRecords(ctx, &scope, claim); err != nil {
			return err
		}
	}
	controllerutil.RemoveFinalizer(claim, ClaimFinalizer)
	return client.IgnoreNotFound(r.Client.Update(ctx, claim))
}

// SetupWithManager watches claims, and scopes and namespaces for changes that
// move a claim in or out of its grant.
func (r *ClaimReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.DriftInterval == 0 {
		r.DriftInterval = 10 * time.Minute
	}
	if r.FreshFor == 0 {
		r.FreshFor = time.Minute
	}
	if r.MaxConcurrentReconciles == 0 {
		// Reconciles mostly wait on a shared batch; enough of them must be
		// in flight for a batch to fill: a batch holds 200 changes, so 100
		// claims of two records each. With 32 the 1,000-namespace bench
		// sent batches of 63 changes on average.
		r.MaxConcurrentReconciles = 100
	}
	if r.BatchWindow == 0 {
		r.BatchWindow = 250 * time.Millisecond
	}
	if r.BatchLimit == 0 {
		r.BatchLimit = 200
	}
	if r.ConcealHolders && r.Holders == nil {
		// A nil HolderLog writes every line, as many as a tenant's claims
		// cause; the manager passes the webhook's, this is the fallback.
		r.Holders = policy.NewHolderLog(mgr.GetLogger().WithName("claims"), r.Now)
		if err := mgr.Add(r.Holders); err != nil {
			return err
		}
	}
	r.batches = batch.New(r.BatchWindow, r.BatchLimit, batch.Hooks{Split: batchSplits.Inc, Refused: recordChangesRefused.Inc})
	r.wake = make(chan event.GenericEvent, 64)
	return ctrl.NewControllerManagedBy(mgr).
		// Status-only updates are this controller's own patches; acting on
		// them would reconcile every claim once more for nothing.
		For(&v1alpha1.DNSRecordClaim{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{}, finalizersOrDeletionChanged))).
		Watches(&v1alpha1.DNSRecordClaim{}, handler.EnqueueRequestsFromMapFunc(r.contenders), builder.WithPredicates(keysLetGo)).
		Watches(&v1alpha1.DNSScope{}, handler.EnqueueRequestsFromMapFunc(r.claimsOfScope), builder.WithPredicates(scopeUpdates)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.claimsInNamespace)).
		WatchesRawSource(source.Channel(r.wake, &handler.EnqueueRequestForObject{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles, RateLimiter: rateLimiter(r.MaxBackoff)}).
		Named("dnsrecordclaim").
		Complete(r)
}

func (r *ClaimReconciler) claimsOfScope(ctx context.Context, o client.Object) []reconcile.Request {
	var claims v1alpha1.DNSRecordClaimList
	if err := r.Client.List(ctx, &claims, client.MatchingFields{policy.ScopeIndex: o.GetName()}); err != nil {
		log.FromContext(ctx).Error(err, "listing claims of a scope")
		return nil
	}
	return requestsFor(claims.Items)
}

// contenders are the other claims whose keys conflict with o's. When o lets
// a key go (it is deleted, or its spec changed), the claim that lost that key
// to it may now write it: this brings it back at once instead of at its next
// drift check.
func (r *ClaimReconciler) contenders(ctx context.Context, o client.Object) []reconcile.Request {
	claim, ok := o.(*v1alpha1.DNSRecordClaim)
	if !ok {
		return nil
	}
	conflicts, err := policy.ClaimConflicts(ctx, r.Client, claim, nil)
	if err != nil {
		log.FromContext(ctx).Error(err, "listing the claims that contend with a claim")
		return nil
	}
	seen := map[client.ObjectKey]bool{}
	var out []reconcile.Request
	for _, c := range conflicts {
		if !seen[c.Holder] {
			seen[c.Holder] = true
			out = append(out, reconcile.Request{NamespacedName: c.Holder})
		}
	}
	return out
}

func (r *ClaimReconciler) claimsInNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	var claims v1alpha1.DNSRecordClaimList
	if err := r.Client.List(ctx, &claims, client.InNamespace(o.GetName())); err != nil {
		log.FromContext(ctx).Error(err, "listing claims of a namespace")
		return nil
	}
	return requestsFor(claims.Items)
}

func requestsFor(claims []v1alpha1.DNSRecordClaim) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(claims))
	for _, c := range claims {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&c)})
	}
	return out
}

func (r *ClaimReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
