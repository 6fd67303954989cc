package controllers

import (
	"context"
	"time"

	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/scopedns/scopedns/internal/provider"
)

// DefaultMaxBackoff caps the per-object retry delay after errors. The
// workqueue default of 1,000 s leaves a claim stale for a quarter of an hour
// after a provider blip; a few minutes is plenty to stay under rate limits.
const DefaultMaxBackoff = 2 * time.Minute

// rateLimiter is the retry pacing of every scopedns controller.
func rateLimiter(maxBackoff time.Duration) workqueue.TypedRateLimiter[reconcile.Request] {
	if maxBackoff <= 0 {
		maxBackoff = DefaultMaxBackoff
	}
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](50*time.Millisecond, maxBackoff)
}

// requeueOnRateLimit turns a provider rate-limit error into a plain requeue
// after the provider's wait: being told to slow down is not a failure, and
// growing the exponential backoff for it would only delay convergence.
func requeueOnRateLimit(ctx context.Context) func(ctrl.Result, error) (ctrl.Result, error) {
	return func(res ctrl.Result, err error) (ctrl.Result, error) {
		if wait, ok := provider.IsRateLimited(err); ok {
			if wait < time.Second {
				wait = time.Second
			}
			log.FromContext(ctx).V(1).Info("provider rate limit reached; requeueing", "after", wait, "cause", err.Error())
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		return res, err
	}
}
