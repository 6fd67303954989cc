package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/app"
)

// tracker watches claims and credentials Secrets through its own informers
// (not the manager's) and remembers when each became ready.
type tracker struct {
	mu sync.Mutex
	// claimChanges counts claim updates that changed the object (a new
	// resourceVersion): a status patch that changes nothing makes none.
	claimChanges atomic.Int64
	claims       map[string]claimState // namespace/name
	secrets      map[string]secretState
}

type claimState struct {
	ready     bool
	firstSeen time.Time
	readyAt   time.Time
}

type secretState struct {
	tokenID    string
	token      string
	previousID string
	minting    bool
	changedAt  time.Time // when tokenID last changed
	// credReadyAt is when the DNSCredential was first seen Ready;
	// allTokenlessAt when the Secret first held the tokenless credentials
	// of a DNS-01 namespace (TSIG key, acme-dns account, Cloudflare-API
	// token; dyndns2 has a login only for reserved A/AAAA names).
	credReadyAt, allTokenlessAt time.Time
}

func hasAll(data map[string][]byte, keys ...string) bool {
	for _, k := range keys {
		if len(data[k]) == 0 {
			return false
		}
	}
	return true
}

func startTracker(ctx context.Context, b *bench) (*tracker, error) {
	t := &tracker{claims: map[string]claimState{}, secrets: map[string]secretState{}}
	managed := labels.SelectorFromSet(labels.Set{controllers.LabelManagedBy: controllers.ManagedBy})
	c, err := cache.New(b.cfg, cache.Options{
		Scheme:           app.Scheme(),
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject:         map[client.Object]cache.ByObject{&corev1.Secret{}: {Label: managed}},
	})
	if err != nil {
		return nil, err
	}
	ci, err := c.GetInformer(ctx, &v1alpha1.DNSRecordClaim{})
	if err != nil {
		return nil, err
	}
	if _, err := ci.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) { t.claim(o) },
		UpdateFunc: func(old, o any) {
			if a, ok := old.(client.Object); ok {
				if b, ok := o.(client.Object); ok && a.GetResourceVersion() != b.GetResourceVersion() {
					t.claimChanges.Add(1)
				}
			}
			t.claim(o)
		},
	}); err != nil {
		return nil, err
	}
	si, err := c.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return nil, err
	}
	if _, err := si.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { t.secret(o) },
		UpdateFunc: func(_, o any) { t.secret(o) },
	}); err != nil {
		return nil, err
	}
	di, err := c.GetInformer(ctx, &v1alpha1.DNSCredential{})
	if err != nil {
		return nil, err
	}
	if _, err := di.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { t.credential(o) },
		UpdateFunc: func(_, o any) { t.credential(o) },
	}); err != nil {
		return nil, err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("tracker cache did not sync")
	}
	return t, nil
}

func (t *tracker) claim(o any) {
	c, ok := o.(*v1alpha1.DNSRecordClaim)
	if !ok {
		return
	}
	now := time.Now()
	cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionReady)
	ready := cond != nil && cond.Status == metav1.ConditionTrue && c.Status.ObservedGeneration == c.Generation
	key := c.Namespace + "/" + c.Name
	t.mu.Lock()
	defer t.mu.Unlock()
	st, seen := t.claims[key]
	if !seen {
		st.firstSeen = now
	}
	if ready && !st.ready && st.readyAt.IsZero() {
		st.readyAt = now
	}
	st.ready = ready
	t.claims[key] = st
}

func (t *tracker) secret(o any) {
	s, ok := o.(*corev1.Secret)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.secrets[s.Namespace]
	st.token = string(s.Data[controllers.KeyAPIToken])
	if st.allTokenlessAt.IsZero() && hasAll(s.Data, controllers.KeyTSIGSecret, controllers.KeyACMEDNS, controllers.KeyCloudflareAPIToken) {
		st.allTokenlessAt = time.Now()
	}
	t.secrets[s.Namespace] = st
}

// credential takes the token IDs from the DNSCredential, the operator's own
// record (the Secret carries only the value).
func (t *tracker) credential(o any) {
	c, ok := o.(*v1alpha1.DNSCredential)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ns := c.Spec.Namespace
	st := t.secrets[ns]
	old := st.tokenID
	st.tokenID, st.previousID, st.minting = "", "", c.Status.Minting != ""
	if c.Status.Token != nil {
		st.tokenID = c.Status.Token.ID
	}
	if c.Status.PreviousToken != nil {
		st.previousID = c.Status.PreviousToken.ID
	}
	if st.tokenID != old {
		st.changedAt = time.Now()
	}
	if st.credReadyAt.IsZero() && meta.IsStatusConditionTrue(c.Status.Conditions, v1alpha1.ConditionReady) {
		st.credReadyAt = time.Now()
	}
	t.secrets[ns] = st
}

// claimsReady counts ready claims in namespaces with the prefix and returns
// the time the last of them became ready.
func (t *tracker) claimsReady(prefix string) (ready, total int, last time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, st := range t.claims {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		total++
		if st.ready {
			ready++
			if st.readyAt.After(last) {
				last = st.readyAt
			}
		}
	}
	return ready, total, last
}

// withToken counts namespaces with the prefix whose Secret holds a token that
// is not in oldIDs (nil: any token), and returns when the last one got it.
func (t *tracker) withToken(prefix string, oldIDs map[string]string) (n int, last time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for ns, st := range t.secrets {
		if !strings.HasPrefix(ns, prefix) || st.tokenID == "" || st.token == "" || st.minting {
			continue
		}
		if oldIDs != nil && oldIDs[ns] == st.tokenID {
			continue
		}
		n++
		if st.changedAt.After(last) {
			last = st.changedAt
		}
	}
	return n, last
}

// credsReady counts namespaces with the prefix whose DNSCredential has been
// Ready and whose Secret holds every tokenless credential, and returns when
// the last of them got there.
func (t *tracker) credsReady(prefix string) (n int, last time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for ns, st := range t.secrets {
		if strings.HasPrefix(ns, prefix) && !st.credReadyAt.IsZero() && !st.allTokenlessAt.IsZero() {
			n++
			last = maxTime(last, maxTime(st.credReadyAt, st.allTokenlessAt))
		}
	}
	return n, last
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// withoutPrevious counts namespaces with the prefix whose previous token is revoked.
func (t *tracker) withoutPrevious(prefix string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for ns, st := range t.secrets {
		if strings.HasPrefix(ns, prefix) && st.tokenID != "" && st.previousID == "" {
			n++
		}
	}
	return n
}

func (t *tracker) tokenIDs(prefix string) map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]string{}
	for ns, st := range t.secrets {
		if strings.HasPrefix(ns, prefix) {
			out[ns] = st.tokenID
		}
	}
	return out
}

func (t *tracker) token(ns string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.secrets[ns].token
}

// waitFor polls cond until it holds or the timeout passes, printing progress.
func waitFor(ctx context.Context, what string, timeout time.Duration, cond func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	lastPrint := time.Now()
	for {
		ok, progress := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not done after %s (%s)", what, timeout, progress)
		}
		if time.Since(lastPrint) > 15*time.Second {
			logf("  waiting for %s: %s", what, progress)
			lastPrint = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
