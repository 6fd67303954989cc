package controllers

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// A namespace's first TSIG key is counted, and written without an event: at
// 10,000 namespaces an event each was 10,000 API writes no tenant can read.
func TestFirstTSIGKeyIsCountedNotAnnounced(t *testing.T) {
	scope := frontDoorScope(false, false)
	scope.Name = "tsig-first" // a label value of its own: other tests count under "prod"
	keys := newFrontDoorReconciler(t, frontDoorObjects(scope)...)
	rec := events.NewFakeRecorder(10)
	r := &CredentialsReconciler{Client: keys.Client, APIReader: keys.Client, Recorder: rec, Namespace: "scopedns-system"}
	ctx := context.Background()
	var cred v1alpha1.DNSCredential
	if err := keys.Client.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName("prod", "team-a")}, &cred); err != nil {
		t.Fatal(err)
	}
	var vault corev1.Secret
	if err := keys.Client.Get(ctx, client.ObjectKey{Namespace: "scopedns-system", Name: vaultName(&cred)}, &vault); err != nil {
		t.Fatal(err)
	}
	vault.Annotations = map[string]string{} // as the vault controller creates it
	cred.Status.TSIG = nil                  // a namespace new to the scope
	issued := tsigKeysIssued.WithLabelValues(scope.Name)
	for pass := range 2 { // the second pass finds the key on record
		if err := r.syncTSIG(ctx, scope, &cred, &vault, false); err != nil {
			t.Fatal(err)
		}
		if got := testutil.ToFloat64(issued); got != 1 {
			t.Fatalf("pass %d: scopedns_tsig_keys_issued_total = %v, want 1", pass, got)
		}
	}
	if cred.Status.TSIG == nil || cred.Status.TSIG.KeyName != TSIGKeyName("team-a", scope.Name) {
		t.Fatalf("status after the first key: %+v", cred.Status.TSIG)
	}
	if len(rec.Events) != 0 {
		t.Fatalf("a first key was announced: %q", <-rec.Events)
	}
}
