package webhook

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/policy"
)

// benchValidator is a validator over a cache of n namespaces, each with one
// claim of a name and its ACME challenge under <namespace>.apps.example.com,
// and one claim of shared.example.com in namespace team-0.
func benchValidator(b *testing.B, n int) *ClaimValidator {
	b.Helper()
	scope := &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: "prod", UID: "u1", Generation: 1},
		Spec: v1alpha1.DNSScopeSpec{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}},
			Zones: []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{{
				Names: []string{"*.{namespace}.apps.example.com", "_acme-challenge.*.{namespace}.apps.example.com", "shared.example.com"},
				Types: []v1alpha1.RecordType{"A", "TXT", "CNAME"},
			}}}},
		},
	}
	objs := []client.Object{scope}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		ns := fmt.Sprintf("team-%d", i)
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"tenant": "true"}}},
			&v1alpha1.DNSRecordClaim{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web", CreationTimestamp: metav1.NewTime(t0)},
				Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: "prod", Records: []v1alpha1.RecordSpec{
					{Name: "web." + ns + ".apps.example.com", Type: "A", TTL: 300, Values: []string{"192.0.2.1"}},
					{Name: "_acme-challenge.web." + ns + ".apps.example.com", Type: "TXT", TTL: 300},
				}},
			})
	}
	objs = append(objs, &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-0", Name: "shared", CreationTimestamp: metav1.NewTime(t0)},
		Spec:       v1alpha1.DNSRecordClaimSpec{ScopeName: "prod", Records: []v1alpha1.RecordSpec{{Name: "shared.example.com", Type: "TXT", TTL: 300}}},
	})
	return &ClaimValidator{Reader: newIndexedReader(objs), Policies: &policy.Cache{}}
}

// indexedReader answers like the manager's cache: Get by key, List by one
// exact field of NameIndex or AncestorIndex, deep copies out. The fake
// client would list and copy every object on each lookup, and measure that.
type indexedReader struct {
	objs  map[client.ObjectKey]client.Object
	index map[string]map[string][]*v1alpha1.DNSRecordClaim
}

func newIndexedReader(objs []client.Object) *indexedReader {
	r := &indexedReader{objs: map[client.ObjectKey]client.Object{}, index: map[string]map[string][]*v1alpha1.DNSRecordClaim{}}
	for _, o := range objs {
		r.objs[client.ObjectKeyFromObject(o)] = o
		c, ok := o.(*v1alpha1.DNSRecordClaim)
		if !ok {
			continue
		}
		for name, f := range map[string]func(client.Object) []string{policy.NameIndex: policy.IndexRecordNames, policy.AncestorIndex: policy.IndexRecordAncestors} {
			if r.index[name] == nil {
				r.index[name] = map[string][]*v1alpha1.DNSRecordClaim{}
			}
			for _, v := range f(c) {
				r.index[name][v] = append(r.index[name][v], c)
			}
		}
	}
	return r
}

func (r *indexedReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	o, ok := r.objs[key]
	if !ok {
		return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
	}
	switch out := obj.(type) {
	case *v1alpha1.DNSScope:
		o.(*v1alpha1.DNSScope).DeepCopyInto(out)
	case *corev1.Namespace:
		o.(*corev1.Namespace).DeepCopyInto(out)
	case *v1alpha1.DNSRecordClaim:
		o.(*v1alpha1.DNSRecordClaim).DeepCopyInto(out)
	default:
		return fmt.Errorf("unexpected %T", obj)
	}
	return nil
}

func (r *indexedReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	var lo client.ListOptions
	lo.ApplyOptions(opts)
	if scopes, ok := list.(*v1alpha1.DNSScopeList); ok {
		for _, o := range r.objs {
			if s, ok := o.(*v1alpha1.DNSScope); ok {
				scopes.Items = append(scopes.Items, *s.DeepCopy())
			}
		}
		return nil
	}
	out, ok := list.(*v1alpha1.DNSRecordClaimList)
	if !ok || lo.FieldSelector == nil {
		return fmt.Errorf("unexpected list %T %v", list, lo.FieldSelector)
	}
	for name, idx := range r.index {
		if v, ok := lo.FieldSelector.RequiresExactMatch(name); ok {
			for _, c := range idx[v] {
				out.Items = append(out.Items, *c.DeepCopy())
			}
			return nil
		}
	}
	return fmt.Errorf("no index for %v", lo.FieldSelector)
}

// BenchmarkValidateCreate is the admission handler on a cache of 1,000
// namespaces: a claim that is admitted (the hot path), and one refused for a
// name another namespace holds (the verdict then judges the holder too).
func BenchmarkValidateCreate(b *testing.B) {
	v := benchValidator(b, 1000)
	ns := "team-7"
	admitted := &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
		Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: "prod", Records: []v1alpha1.RecordSpec{
			{Name: "api." + ns + ".apps.example.com", Type: "A", TTL: 300, Values: []string{"192.0.2.2"}},
			{Name: "_acme-challenge.api." + ns + ".apps.example.com", Type: "TXT", TTL: 300},
		}},
	}
	conflicting := admitted.DeepCopy()
	conflicting.Spec.Records = append(conflicting.Spec.Records, v1alpha1.RecordSpec{Name: "shared.example.com", Type: "TXT", TTL: 300})
	for name, c := range map[string]*v1alpha1.DNSRecordClaim{"admitted": admitted, "conflict": conflicting} {
		wantErr := name == "conflict"
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := v.ValidateCreate(ctx, c); (err != nil) != wantErr {
					b.Fatalf("err = %v", err)
				}
			}
		})
	}
}
