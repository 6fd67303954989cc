package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

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
				Client:     fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).Build(),
				Recorder:   rec,
				TokenQuota: tc.quota,
			}
			scope := &v1alpha1.DNSScope{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}
			err := r.checkQuota(context.Background(), scope, heldCredential("new", "", "", ""), "MintToken")
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
