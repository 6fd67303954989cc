package integration

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	. "github.com/onsi/gomega"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/testports"
)

// fakeClock is the operator's and the simulator's clock, so specs can move
// time past a rotation instead of waiting for it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// warningRecorder keeps the admission warnings the API server passed back.
type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

var seq atomic.Int64

// uniq returns a name unique within this test run, so specs never share state.
func uniq(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

// tenantNamespace creates a namespace with the given labels.
func tenantNamespace(name string, lbls map[string]string) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
	ExpectWithOffset(1, k8s.Create(ctx, ns)).To(Succeed())
	return ns
}

type scopeOpt func(*v1alpha1.DNSScope)

func withRules(zone string, rules ...v1alpha1.GrantRule) scopeOpt {
	return func(s *v1alpha1.DNSScope) {
		s.Spec.Zones = append(s.Spec.Zones, v1alpha1.ZoneGrant{Name: zone, Rules: rules})
	}
}

func selecting(lbls map[string]string) scopeOpt {
	return func(s *v1alpha1.DNSScope) { s.Spec.NamespaceSelector = metav1.LabelSelector{MatchLabels: lbls} }
}

func rule(types []v1alpha1.RecordType, maxTTL int32, names ...string) v1alpha1.GrantRule {
	r := v1alpha1.GrantRule{Names: names, Types: types}
	if maxTTL > 0 {
		r.MaxTTL = ptr.To(maxTTL)
	}
	return r
}

// newScope builds a DNSScope on the Cloudflare provider.
func newScope(name string, opts ...scopeOpt) *v1alpha1.DNSScope {
	s := &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.DNSScopeSpec{
			Provider: v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{
				AccountID:         account,
				APITokenSecretRef: v1alpha1.SecretKeySelector{Name: "cloudflare-master", Key: "api-token"},
				BaseURL:           cfURL,
			}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func newClaim(namespace, name, scope string, records ...v1alpha1.RecordSpec) *v1alpha1.DNSRecordClaim {
	return &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       v1alpha1.DNSRecordClaimSpec{ScopeName: scope, Records: records},
	}
}

func rec(name string, typ v1alpha1.RecordType, values ...string) v1alpha1.RecordSpec {
	return v1alpha1.RecordSpec{Name: name, Type: typ, TTL: 300, Values: values}
}

func clientKey(o client.Object) client.ObjectKey { return client.ObjectKeyFromObject(o) }

func conditionTrue(conds []metav1.Condition, typ string) bool {
	c := meta.FindStatusCondition(conds, typ)
	return c != nil && c.Status == metav1.ConditionTrue
}

// freeAddr returns a loopback address whose port is free for both UDP and TCP.
func freeAddr() string {
	addr, err := testports.TCPAndUDP()
	if err != nil {
		panic(err)
	}
	return addr
}
