package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

func managedSecret(ns string, ann map[string]string) client.Object {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: "prod-dns-credentials", Annotations: ann,
		Labels: map[string]string{LabelManagedBy: ManagedBy, LabelScope: "prod"},
	}}
}

func TestCheckQuota(t *testing.T) {
	cases := map[string]struct {
		current, previous int // namespaces holding a current token / also a previous one
		quota             int
		wantErr           bool
		wantEvent         string
	}{
		"allows a mint well under the quota":                  {current: 3, quota: 10},
		"warns from 80 percent":                               {current: 7, quota: 10, wantEvent: "QuotaNearlyExhausted"},
		"counts tokens still in their rotation overlap":       {current: 5, previous: 5, quota: 10, wantErr: true, wantEvent: "QuotaExceeded"},
		"refuses the mint that would cross the quota":         {current: 10, quota: 10, wantErr: true, wantEvent: "QuotaExceeded"},
		"allows the last token that fits, with a warning too": {current: 9, quota: 10, wantEvent: "QuotaNearlyExhausted"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var objs []client.Object
			for i := 0; i < tc.current; i++ {
				ann := map[string]string{AnnTokenID: fmt.Sprintf("t%d", i)}
				if i < tc.previous {
					ann[AnnPreviousTokenID] = fmt.Sprintf("p%d", i)
				}
				objs = append(objs, managedSecret(fmt.Sprintf("ns-%d", i), ann))
			}
			objs = append(objs, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "unrelated",
				Annotations: map[string]string{AnnTokenID: "not-ours"}}})
			rec := events.NewFakeRecorder(10)
			r := &CredentialsReconciler{
				Client:     fake.NewClientBuilder().WithObjects(objs...).Build(),
				Recorder:   rec,
				TokenQuota: tc.quota,
			}
			scope := &v1alpha1.DNSScope{ObjectMeta: metav1.ObjectMeta{Name: "prod"}}
			secret := managedSecret("new", nil).(*corev1.Secret)
			err := r.checkQuota(context.Background(), scope, secret, "MintToken")
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
