package controllers

import (
	"context"
	"sort"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// DefaultQuotaRetryInterval is how long a DNSCredential refused a token for
// the quota waits before it looks again on its own. It is only the fallback:
// a token released by this cluster wakes the oldest waiters at once
// (quotaWaiters). The fallback is for quota freed where this cluster cannot
// see it (another cluster on the account, a token deleted by hand). A look
// costs no provider request (the count is the cache's, and a quota the
// provider enforced is remembered for the same interval) but a few API
// server reads per waiter: 9,500 waiters at 5 minutes are ~32 reconciles/s.
const DefaultQuotaRetryInterval = 5 * time.Minute

// CredentialNamespaceIndex indexes DNSCredentials by spec.namespace: the
// namespace's credentials are looked up on every credentials reconcile (the
// Secret-name holder) and on Secret and namespace events, and a label
// selector on the cache scans every DNSCredential of the cluster, which at
// 10,000 namespaces made convergence quadratic.
const CredentialNamespaceIndex = "spec.namespace"

// IndexCredentialNamespace is the index function of CredentialNamespaceIndex.
func IndexCredentialNamespace(o client.Object) []string {
	if c, ok := o.(*v1alpha1.DNSCredential); ok && c.Spec.Namespace != "" {
		return []string{c.Spec.Namespace}
	}
	return nil
}

// HeldTokensIndex indexes the DNSCredentials that stand for at least one
// provider token (current, previous or a mint in flight), so counting the
// tokens held before a mint reads at most the quota's worth of objects,
// however many tokenless DNSCredentials (TSIG, front doors) there are.
const HeldTokensIndex = "status.heldTokens"

// IndexHeldTokens is the index function of HeldTokensIndex.
func IndexHeldTokens(o client.Object) []string {
	c, ok := o.(*v1alpha1.DNSCredential)
	if !ok || heldCount(&c.Status) == 0 {
		return nil
	}
	return []string{"true"}
}

// quotaState is what the credentials controller remembers about the token
// quota between reconciles: who waits for a token, and a ceiling the
// provider enforced below --token-quota.
type quotaState struct {
	// mint serializes the quota check with the intent it admits
	// (reserveMint).
	mint sync.Mutex

	mu sync.Mutex
	// waiters are the requests refused a token for the quota, with when
	// they were first refused: the oldest are woken first.
	waiters map[reconcile.Request]time.Time
	// ceiling is the number of tokens held when the provider itself refused
	// a mint for its quota (0: none known). Until ceilingUntil, or until
	// this cluster holds fewer tokens, mints past it are refused without
	// asking the provider again.
	ceiling      int
	ceilingUntil time.Time
}

// wait records req as waiting for a token since now (kept if earlier).
func (q *quotaState) wait(req reconcile.Request, now time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.waiters == nil {
		q.waiters = map[reconcile.Request]time.Time{}
	}
	if _, ok := q.waiters[req]; !ok {
		q.waiters[req] = now
	}
}

// done forgets req: it holds its token, or needs none any more.
func (q *quotaState) done(req reconcile.Request) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.waiters, req)
}

// oldest returns up to n waiters, those waiting longest first.
func (q *quotaState) oldest(n int) []reconcile.Request {
	q.mu.Lock()
	defer q.mu.Unlock()
	if n <= 0 || len(q.waiters) == 0 {
		return nil
	}
	all := make([]reconcile.Request, 0, len(q.waiters))
	for r := range q.waiters {
		all = append(all, r)
	}
	sort.Slice(all, func(i, j int) bool {
		ti, tj := q.waiters[all[i]], q.waiters[all[j]]
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return all[i].String() < all[j].String()
	})
	if len(all) > n {
		all = all[:n]
	}
	return all
}

// limit is the quota in force: --token-quota, or the provider's own lower
// ceiling while it is remembered.
func (q *quotaState) limit(quota int, now time.Time) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ceiling > 0 && q.ceiling < quota && now.Before(q.ceilingUntil) {
		return q.ceiling
	}
	return quota
}

// providerRefused remembers that the provider refused a mint with held
// tokens held, until until.
func (q *quotaState) providerRefused(held int, until time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ceiling, q.ceilingUntil = held, until
}

// observed raises a remembered ceiling to what this cluster is seen to
// hold: the provider accepted that many, so its quota is at least that (the
// count a refusal saw may have missed a concurrent mint).
func (q *quotaState) observed(held int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ceiling > 0 && held > q.ceiling {
		q.ceiling = held
	}
}

// quotaEvents is the handler of DNSCredential events that keeps the token
// gauge current and, when a DNSCredential gives up tokens, wakes as many of
// the oldest quota waiters as there are free tokens: prompt, and bounded by
// the room made rather than by the number waiting.
func (r *CredentialsReconciler) quotaEvents() handler.TypedEventHandler[client.Object, reconcile.Request] {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q queue) {
			if heldCount(&e.Object.(*v1alpha1.DNSCredential).Status) > 0 {
				r.heldChanged(ctx, q, false)
			}
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			before := heldCount(&e.ObjectOld.(*v1alpha1.DNSCredential).Status)
			after := heldCount(&e.ObjectNew.(*v1alpha1.DNSCredential).Status)
			if before != after {
				r.heldChanged(ctx, q, after < before)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q queue) {
			if c, ok := e.Object.(*v1alpha1.DNSCredential); ok && heldCount(&c.Status) > 0 {
				r.heldChanged(ctx, q, true)
			}
		},
	}
}

// heldChanged sets the gauge from the cache (which already holds the
// event's object) and, on a release, wakes waiters for the free tokens.
func (r *CredentialsReconciler) heldChanged(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], release bool) {
	held, err := r.tokensHeld(ctx)
	if err != nil {
		log.FromContext(ctx).Error(err, "counting provider tokens held")
		return
	}
	providerTokensHeld.WithLabelValues(r.ClusterName).Set(float64(held))
	r.quota.observed(held)
	if !release {
		return
	}
	for _, req := range r.quota.oldest(r.quota.limit(r.TokenQuota, r.now()) - held) {
		q.Add(req)
	}
}

// quotaRetryInterval is QuotaRetryInterval or its default.
func (r *CredentialsReconciler) quotaRetryInterval() time.Duration {
	if r.QuotaRetryInterval > 0 {
		return r.QuotaRetryInterval
	}
	return DefaultQuotaRetryInterval
}
