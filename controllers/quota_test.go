package controllers

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

func heldCredential(ns string, current, previous, minting string) *v1alpha1.DNSCredential {
	c := &v1alpha1.DNSCredential{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DNSCredentialName("prod", ns)},
		Spec:       v1alpha1.DNSCredentialSpec{ScopeName: "prod", Namespace: ns},
	}
	if current != "" {
		c.Status.Token = &v1alpha1.HeldToken{ID: current, Name: current}
	}
	if previous != "" {
		c.Status.PreviousToken = &v1alpha1.HeldToken{ID: previous, Name: previous}
	}
	c.Status.Minting = minting
	return c
}

func testScheme(t *testing.T) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheckQuota(t *testing.T) {
	cases := map[string]struct {
		current, previous int // namespaces holding a current token / also a previous one
		minting           int // namespaces with a mint in flight
		fakeSecrets       int // tenant Secrets labelled as the operator's, with invented token IDs
		quota             int
		wantErr           bool
		wantEvent         string
	}{
		"allows a mint well under the quota":                  {current: 3, quota: 10},
		"warns from 80 percent":                               {current: 7, quota: 10, wantEvent: "QuotaNearlyExhausted"},
		"counts tokens still in their rotation overlap":       {current: 5, previous: 5, quota: 10, wantErr: true, wantEvent: "QuotaExceeded"},
		"refuses the mint that would cross the quota":         {current: 10, quota: 10, wantErr: true, wantEvent: "QuotaExceeded"},
		"allows the last token that fits, with a warning too": {current: 9, quota: 10, wantEvent: "QuotaNearlyExhausted"},
		"counts mints in flight":                              {current: 8, minting: 2, quota: 10, wantErr: true, wantEvent: "QuotaExceeded"},
		"never counts tenant Secrets, however labelled":       {current: 3, fakeSecrets: 250, quota: 10},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var objs []client.Object
			for i := 0; i < tc.current; i++ {
				prev, mint := "", ""
				if i < tc.previous {
					prev = fmt.Sprintf("p%d", i)
				}
				if i < tc.minting {
					mint = fmt.Sprintf("m%d", i)
				}
				objs = append(objs, heldCredential(fmt.Sprintf("ns-%d", i), fmt.Sprintf("t%d", i), prev, mint))
			}
			for i := 0; i < tc.fakeSecrets; i++ {
				objs = append(objs, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
					Namespace: "attacker", Name: fmt.Sprintf("fake-%d", i),
					Labels:      map[string]string{LabelManagedBy: ManagedBy, LabelScope: "prod"},
					Annotations: map[string]string{AnnTokenID: fmt.Sprintf("invented-%d", i), AnnPreviousTokenID: fmt.Sprintf("invented-p%d", i)},
				}})
			}
			rec := events.NewFakeRecorder(10)
			r := &CredentialsReconciler{
				Client:     heldIndexed(t, objs...),
				Recorder:   rec,
				TokenQuota: tc.quota,
			}
			scope := &v1alpha1.DNSScope{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}
			_, err := r.checkQuota(context.Background(), scope, heldCredential("new", "", "", ""), "MintToken")
			if (err != nil) != tc.wantErr {
				t.Fatalf("checkQuota error = %v, want error %v", err, tc.wantErr)
			}
			var got string
			select {
			case got = <-rec.Events:
			default:
			}
			if tc.wantEvent == "" && got != "" || !strings.Contains(got, tc.wantEvent) {
				t.Fatalf("event %q, want one with %q", got, tc.wantEvent)
			}
		})
	}
}

// heldIndexed is a fake client with the index tokensHeld lists through.
func heldIndexed(t *testing.T, objs ...client.Object) client.Client {
	return fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).
		WithIndex(&v1alpha1.DNSCredential{}, HeldTokensIndex, IndexHeldTokens).Build()
}

func TestQuotaLimit(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	cases := map[string]struct {
		refusedAt int           // tokens held when the provider refused, 0 for never
		for_      time.Duration // how long that is remembered
		seen      int           // tokens seen held since
		want      int
	}{
		"is the flag when the provider never refused":             {want: 500},
		"is the provider's count while its refusal is remembered": {refusedAt: 450, for_: time.Minute, want: 450},
		"is the flag again once the refusal is forgotten":         {refusedAt: 450, for_: -time.Second, want: 500},
		"rises to what the cluster was seen to hold since":        {refusedAt: 450, for_: time.Minute, seen: 453, want: 453},
		"never rises above the flag":                              {refusedAt: 450, for_: time.Minute, seen: 600, want: 500},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var q quotaState
			if tc.refusedAt > 0 {
				q.providerRefused(tc.refusedAt, now.Add(tc.for_))
			}
			q.observed(tc.seen)
			if got := q.limit(500, now); got != tc.want {
				t.Fatalf("limit = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestQuotaEventsWakeWaiters: a DNSCredential that gives up tokens wakes
// the oldest waiters, as many as there are free tokens, and nothing else
// does.
func TestQuotaEventsWakeWaiters(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	cases := map[string]struct {
		held     int  // DNSCredentials holding a token after the event
		before   int  // tokens the changed DNSCredential held before
		after    int  // and after
		deleted  bool // the event is the DNSCredential's deletion
		waiters  int
		ceiling  int // the provider refused a mint at this count (0: never)
		wantWake []string
	}{
		"a revoked token wakes the oldest waiter":                 {held: 9, before: 1, waiters: 3, wantWake: []string{"w0"}},
		"a deleted DNSCredential wakes as many as are free":       {held: 7, before: 1, deleted: true, waiters: 5, wantWake: []string{"w0", "w1", "w2"}},
		"never more waiters than there are":                       {held: 2, before: 1, waiters: 2, wantWake: []string{"w0", "w1"}},
		"a mint wakes nobody":                                     {held: 10, after: 1, waiters: 3},
		"a release with the quota still full wakes nobody":        {held: 10, before: 2, after: 1, waiters: 3},
		"the provider's ceiling bounds the waiters woken":         {held: 6, before: 1, waiters: 5, ceiling: 7, wantWake: []string{"w0"}},
		"a rotation that ends wakes one, for the overlap's token": {held: 9, before: 2, after: 1, waiters: 2, wantWake: []string{"w0"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var objs []client.Object
			for i := 0; i < tc.held; i++ {
				objs = append(objs, heldCredential(fmt.Sprintf("ns-%d", i), fmt.Sprintf("t%d", i), "", ""))
			}
			r := &CredentialsReconciler{Client: heldIndexed(t, objs...), TokenQuota: 10, ClusterName: "c", Now: func() time.Time { return now }}
			if tc.ceiling > 0 {
				r.quota.providerRefused(tc.ceiling, now.Add(time.Hour))
			}
			for i := 0; i < tc.waiters; i++ {
				r.quota.wait(reconcile.Request{NamespacedName: client.ObjectKey{Namespace: fmt.Sprintf("w%d", i), Name: "prod"}}, now.Add(time.Duration(i)*time.Second))
			}
			withHeld := func(n int) *v1alpha1.DNSCredential {
				c := heldCredential("changed", "", "", "")
				if n > 0 {
					c.Status.Token = &v1alpha1.HeldToken{ID: "x"}
				}
				if n > 1 {
					c.Status.PreviousToken = &v1alpha1.HeldToken{ID: "y"}
				}
				return c
			}
			q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
			defer q.ShutDown()
			h := r.quotaEvents()
			if tc.deleted {
				h.Delete(context.Background(), event.DeleteEvent{Object: withHeld(tc.before)}, q)
			} else {
				h.Update(context.Background(), event.UpdateEvent{ObjectOld: withHeld(tc.before), ObjectNew: withHeld(tc.after)}, q)
			}
			var got []string
			for q.Len() > 0 {
				req, _ := q.Get()
				got = append(got, req.Namespace)
				q.Done(req)
			}
			sort.Strings(got)
			if !slices.Equal(got, tc.wantWake) {
				t.Fatalf("woken %v, want %v", got, tc.wantWake)
			}
		})
	}
}
