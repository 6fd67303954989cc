package controllers

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/memory"
)

func TestOwnsTenantSecret(t *testing.T) {
	secret := func(uid, nonce string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "prod-dns-credentials", UID: types.UID(uid),
			Labels: map[string]string{LabelManagedBy: ManagedBy, LabelScope: "prod"}}}
		if nonce != "" {
			s.Annotations = map[string]string{AnnCreation: nonce}
		}
		return s
	}
	recorded := v1alpha1.DNSCredentialStatus{SecretName: "prod-dns-credentials", SecretUID: "u1", SecretCreation: "n1"}
	for name, tc := range map[string]struct {
		status  v1alpha1.DNSCredentialStatus
		pending secretCreation
		secret  *corev1.Secret
		want    bool
	}{
		"the Secret whose UID is recorded is ours": {
			v1alpha1.DNSCredentialStatus{SecretName: "prod-dns-credentials", SecretUID: "u1"}, secretCreation{}, secret("u1", ""), true},
		"a Secret of that name with another UID is not, however labelled": {
			v1alpha1.DNSCredentialStatus{SecretName: "prod-dns-credentials", SecretUID: "u1"}, secretCreation{}, secret("u2", ""), false},
		"a Secret created before any was recorded is not": {
			v1alpha1.DNSCredentialStatus{}, secretCreation{}, secret("u2", ""), false},
		"an earlier release's create interrupted before its UID was recorded is ours by the status's nonce": {
			v1alpha1.DNSCredentialStatus{SecretName: "prod-dns-credentials", SecretCreation: "n1"}, secretCreation{}, secret("u3", "n1"), true},
		"a Secret with another nonce is not": {
			v1alpha1.DNSCredentialStatus{SecretName: "prod-dns-credentials", SecretCreation: "n1"}, secretCreation{}, secret("u3", "n2"), false},
		"a copied nonce proves nothing once a UID is recorded": {
			recorded, secretCreation{}, secret("u3", "n1"), false},
		"a Secret of another name is not": {
			v1alpha1.DNSCredentialStatus{SecretName: "other", SecretUID: "u1"}, secretCreation{}, secret("u1", ""), false},
		"the Secret of a create the vault has on record and the status not yet is ours by its nonce": {
			recorded, secretCreation{name: "prod-dns-credentials", nonce: "n2"}, secret("u3", "n2"), true},
		"the nonce of the Secret the status records proves nothing while another create is pending": {
			recorded, secretCreation{name: "prod-dns-credentials", nonce: "n2"}, secret("u3", "n1"), false},
		"the pending nonce on a Secret of another name is not": {
			recorded, secretCreation{name: "new-name", nonce: "n2"}, secret("u3", "n2"), false},
		"the recorded Secret stays ours while a create under another name is pending": {
			recorded, secretCreation{name: "new-name", nonce: "n2"}, secret("u1", "n1"), true},
	} {
		t.Run(name, func(t *testing.T) {
			if got := ownsTenantSecret(&tc.status, tc.pending, tc.secret); got != tc.want {
				t.Fatalf("ownsTenantSecret = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPendingCreation(t *testing.T) {
	vault := func(ann string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{AnnVaultSecretCreation: ann}}}
	}
	st := &v1alpha1.DNSCredentialStatus{SecretName: "a", SecretUID: "u1", SecretCreation: "n1"}
	if got := pendingCreation(st, vault("a/n1")); got != (secretCreation{}) {
		t.Errorf("the create the status records is pending: %+v", got)
	}
	if got := pendingCreation(st, vault("b/n2")); got != (secretCreation{name: "b", nonce: "n2"}) {
		t.Errorf("a later create is not pending: %+v", got)
	}
	if got := pendingCreation(st, nil); got != (secretCreation{}) {
		t.Errorf("no vault, yet pending: %+v", got)
	}
	if got := pendingCreation(st, vault("")); got != (secretCreation{}) {
		t.Errorf("an empty record is pending: %+v", got)
	}
}

func TestPutBack(t *testing.T) {
	want := func() *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{LabelManagedBy: ManagedBy, LabelScope: "prod"},
				Annotations: map[string]string{AnnNextRotation: "2030-01-01T00:00:00Z"}},
			Data: map[string][]byte{KeyAPIToken: []byte("v")},
		}
	}
	for name, tc := range map[string]struct {
		edit    func(*corev1.Secret)
		changed bool
	}{
		"should leave a Secret as rendered alone":     {func(*corev1.Secret) {}, false},
		"should put back an edited value":             {func(s *corev1.Secret) { s.Data[KeyAPIToken] = []byte("x") }, true},
		"should remove an added data key":             {func(s *corev1.Secret) { s.Data["extra"] = []byte("x") }, true},
		"should put back a removed label":             {func(s *corev1.Secret) { delete(s.Labels, LabelScope) }, true},
		"should put back an edited mirror annotation": {func(s *corev1.Secret) { s.Annotations[AnnNextRotation] = "2999-01-01T00:00:00Z" }, true},
		"should remove a forged scopedns.io annotation": {
			func(s *corev1.Secret) { s.Annotations[AnnPreviousTokenID] = "someone-else" }, true},
		"should keep annotations of other writers": {func(s *corev1.Secret) { s.Annotations["example.com/note"] = "x" }, false},
		"should drop the finalizer of the earlier release": {
			func(s *corev1.Secret) { s.Finalizers = []string{LegacySecretFinalizer} }, true},
	} {
		t.Run(name, func(t *testing.T) {
			s := want()
			tc.edit(s)
			if got := putBack(s, want()); got != tc.changed {
				t.Fatalf("putBack changed = %v, want %v", got, tc.changed)
			}
			w := want()
			if !equalData(s.Data, w.Data) || s.Labels[LabelScope] != "prod" || s.Annotations[AnnNextRotation] != w.Annotations[AnnNextRotation] ||
				s.Annotations[AnnPreviousTokenID] != "" || len(s.Finalizers) != 0 {
				t.Fatalf("after putBack: %+v", s)
			}
		})
	}
}

func TestGatewayKeySecrets(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *metav1.Time { return &metav1.Time{Time: now.Add(d)} }
	for name, tc := range map[string]struct {
		previousValidUntil *metav1.Time
		want               int
	}{
		"should accept the previous secret inside its overlap":        {at(time.Minute), 2},
		"should refuse the previous secret past its validity":         {at(-time.Minute), 1},
		"should refuse a previous secret the status knows nothing of": {nil, 1},
	} {
		t.Run(name, func(t *testing.T) {
			cred := &v1alpha1.DNSCredential{
				ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DNSCredentialName("prod", "team-a")},
				Spec:       v1alpha1.DNSCredentialSpec{ScopeName: "prod", Namespace: "team-a"},
				Status: v1alpha1.DNSCredentialStatus{TSIG: &v1alpha1.TSIGKeyStatus{
					KeyName: TSIGKeyName("team-a", "prod"), Generation: 2, PreviousValidUntil: tc.previousValidUntil}},
			}
			vault := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "scopedns-system", Name: vaultName(cred),
				Annotations: map[string]string{AnnTSIGGeneration: "2"}},
				Data: map[string][]byte{KeyTSIGSecret: []byte("current"), KeyTSIGPrevious: []byte("previous")}}
			// A tenant Secret saying otherwise is never read.
			tenant := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "prod-dns-credentials",
				Labels: map[string]string{LabelManagedBy: ManagedBy, LabelScope: "prod"}},
				Data: map[string][]byte{KeyTSIGSecret: []byte("tenant-chosen"), KeyTSIGPrevious: []byte("tenant-chosen-2")}}
			c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(cred, vault, tenant).Build()
			r := &GatewayKeysReconciler{
				Client: c, APIReader: c,
				Namespace: "scopedns-system", Now: func() time.Time { return now },
			}
			got, until, err := r.tsigSecrets(context.Background(), "team-a", "prod")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want || got[0] != "current" || len(got) == 2 && got[1] != "previous" {
				t.Fatalf("tsigSecrets = %d secrets, want %d from the vault", len(got), tc.want)
			}
			if len(got) == 2 && !until.Equal(tc.previousValidUntil.Time) || len(got) == 1 && !until.IsZero() {
				t.Fatalf("tsigSecrets: previous valid until %v with %d secrets, want the status's %v", until, len(got), tc.previousValidUntil)
			}
		})
	}
}

// A vault written without annotations comes back from the API server with
// nil maps; the TSIG step that follows a token write in the same reconcile
// must still be able to record its generation (it panicked with "assignment
// to entry in nil map" before saveVault restored the maps).
func TestVaultStaysWritableAfterASave(t *testing.T) {
	// The fake client keeps the caller's empty maps; the API server's answer
	// does not, and the interceptor does what its decoding does.
	nilEmptyMaps := func(obj client.Object) {
		if s, ok := obj.(*corev1.Secret); ok {
			if len(s.Annotations) == 0 {
				s.Annotations = nil
			}
			if len(s.Data) == 0 {
				s.Data = nil
			}
		}
	}
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			err := c.Create(ctx, obj, opts...)
			nilEmptyMaps(obj)
			return err
		},
	}).Build()
	r := &CredentialsReconciler{Client: c, APIReader: c, Namespace: "scopedns-system"}
	cred := &v1alpha1.DNSCredential{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DNSCredentialName("prod", "team-a")},
		Spec:       v1alpha1.DNSCredentialSpec{ScopeName: "prod", Namespace: "team-a"},
	}
	v, err := r.vault(context.Background(), cred, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.saveVault(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	changed, err := syncVaultTSIG(v, &v1alpha1.TSIGKeyStatus{Generation: 1})
	if err != nil || !changed {
		t.Fatalf("syncVaultTSIG after a save: changed=%v err=%v", changed, err)
	}
	if v.Annotations[AnnTSIGGeneration] != "1" || len(v.Data[KeyTSIGSecret]) == 0 {
		t.Fatalf("the vault does not hold generation 1's secret: annotations %v", v.Annotations)
	}
}

// A crash between the tenant Secret's create and the status write that
// records it must not leave the operator's own Secret looking foreign; a
// tenant that deletes that Secret and makes one of its own with the nonce
// it read off it must not get its Secret adopted. The nonce is on record in
// the vault (operator namespace), written with the vault write the pass
// makes anyway, so the create needs no status write before it.
func TestTenantSecretCreateSurvivesACrash(t *testing.T) {
	scope := frontDoorScope(true, false)
	keys := newFrontDoorReconciler(t, frontDoorObjects(scope)...)
	statusWrites, vaultWrites := 0, 0
	counting := interceptor.NewClient(keys.Client.(client.WithWatch), interceptor.Funcs{
		SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			statusWrites++
			return c.SubResource(sub).Update(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if obj.GetNamespace() == "scopedns-system" {
				vaultWrites++
			}
			return c.Update(ctx, obj, opts...)
		},
	})
	r := &CredentialsReconciler{Client: counting, APIReader: counting, Recorder: events.NewFakeRecorder(20),
		Namespace: "scopedns-system", ClusterName: frontCluster, Policies: keys.Policies,
		Nameserver: "gateway.example.net:53", HTTPGatewayServed: true, HTTPGatewayURL: gatewayURL}
	ctx := context.Background()
	name := CredentialsSecretName(scope)
	// pass reads everything afresh, as a new process would, and delivers.
	pass := func() (*v1alpha1.DNSCredential, error) {
		var cred v1alpha1.DNSCredential
		if err := counting.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName("prod", "team-a")}, &cred); err != nil {
			t.Fatal(err)
		}
		v, err := r.vault(ctx, &cred, false)
		if err != nil {
			t.Fatal(err)
		}
		tenant, fresh, err := r.readDelivery(ctx, scope, &cred, v)
		if err != nil {
			return &cred, err
		}
		return &cred, r.deliver(ctx, scope, &cred, v, tenant, fresh)
	}

	if _, err := pass(); err != nil { // and the process dies before finish
		t.Fatalf("first delivery: %v", err)
	}
	if statusWrites != 0 || vaultWrites != 1 {
		t.Fatalf("the create wrote the status %d times and the vault %d times, want 0 and 1 (the nonce)", statusWrites, vaultWrites)
	}
	var ours corev1.Secret
	if err := counting.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, &ours); err != nil {
		t.Fatal(err)
	}
	cred, err := pass()
	if err != nil {
		t.Fatalf("after the crash, the operator's own Secret was refused: %v", err)
	}
	if cred.Status.SecretUID != ours.UID || cred.Status.SecretName != name || cred.Status.SecretCreation != ours.Annotations[AnnCreation] {
		t.Fatalf("status after the adoption: %+v, want the UID %s and nonce of the Secret created", cred.Status, ours.UID)
	}

	// The tenant replaces the Secret with its own, copying the nonce.
	if err := counting.Delete(ctx, &ours); err != nil {
		t.Fatal(err)
	}
	forged := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, UID: "forged",
		Labels: ours.Labels, Annotations: ours.Annotations}, Data: map[string][]byte{"tsig-secret": []byte("tenant's")}}
	if err := counting.Create(ctx, forged); err != nil {
		t.Fatal(err)
	}
	if _, err := pass(); !errors.Is(err, errSecretNotOwned) {
		t.Fatalf("a tenant's Secret carrying the copied nonce: %v, want errSecretNotOwned", err)
	}
	var after corev1.Secret
	if err := counting.Get(ctx, client.ObjectKeyFromObject(forged), &after); err != nil || string(after.Data["tsig-secret"]) != "tenant's" {
		t.Fatalf("the tenant's Secret was written: %v %q", err, after.Data["tsig-secret"])
	}
	if err := counting.Delete(ctx, forged); err != nil {
		t.Fatal(err)
	}

	// Another scope's credential takes the name: this one gives up its
	// Secret. The tenant then writes one of its own with the nonce it read
	// off the operator's; giving the Secret up must not make that nonce's
	// create pending again, or the next pass deletes the tenant's Secret,
	// and adopts it once the name is free.
	if cred, err = pass(); err != nil {
		t.Fatalf("delivery after the tenant's Secret went: %v", err)
	}
	if err := counting.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, &ours); err != nil {
		t.Fatal(err)
	}
	holder := &v1alpha1.DNSCredential{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DNSCredentialName("other", "team-a")},
		Spec: v1alpha1.DNSCredentialSpec{ScopeName: "other", Namespace: "team-a"}}
	if err := r.yieldSecretName(ctx, scope, cred, holder); !errors.Is(err, errSecretNameConflict) {
		t.Fatalf("yielding the name: %v, want errSecretNameConflict", err)
	}
	if err := counting.Get(ctx, client.ObjectKeyFromObject(&ours), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the yielded Secret is still there: %v", err)
	}
	copied := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, UID: "copied",
		Labels: ours.Labels, Annotations: ours.Annotations}, Data: map[string][]byte{"tsig-secret": []byte("tenant's")}}
	if err := counting.Create(ctx, copied); err != nil {
		t.Fatal(err)
	}
	if err := counting.Get(ctx, client.ObjectKeyFromObject(cred), cred); err != nil {
		t.Fatal(err)
	}
	if err := r.yieldSecretName(ctx, scope, cred, holder); !errors.Is(err, errSecretNameConflict) {
		t.Fatalf("yielding the name again: %v, want errSecretNameConflict", err)
	}
	if err := counting.Get(ctx, client.ObjectKeyFromObject(copied), &after); err != nil {
		t.Fatalf("the next yield deleted the tenant's Secret carrying the copied nonce: %v", err)
	}
	if _, err := pass(); !errors.Is(err, errSecretNotOwned) { // the name is free again
		t.Fatalf("after the yield, a tenant's Secret carrying the copied nonce: %v, want errSecretNotOwned", err)
	}
	if err := counting.Delete(ctx, copied); err != nil {
		t.Fatal(err)
	}

	// A create a crash kept off the status, then the scope renames the
	// Secret: the Secret of the old name must go, not stay behind with its
	// nonce off record for good.
	if _, err := pass(); err != nil { // and the process dies before finish
		t.Fatalf("delivery before the rename: %v", err)
	}
	if err := counting.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, &ours); err != nil {
		t.Fatalf("the Secret created before the crash: %v", err)
	}
	if err := counting.Get(ctx, client.ObjectKeyFromObject(cred), cred); err != nil || cred.Status.SecretName != "" {
		t.Fatalf("the test needs the create off the status; it records %q (%v)", cred.Status.SecretName, err)
	}
	scope.Spec.Credentials.SecretName = "renamed"
	if _, err := pass(); err != nil {
		t.Fatalf("delivery after the rename: %v", err)
	}
	if err := counting.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: name}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the Secret of the old name stayed behind: %v", err)
	}
	if err := counting.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "renamed"}, &corev1.Secret{}); err != nil {
		t.Fatalf("the Secret of the new name: %v", err)
	}
}

// A tenant that replaces the operator's Secret with one of its own (it can
// read the token first) must not keep a wider token for it: the planted
// Secret holds back what would be delivered into it, not the narrowing of
// the token when the admin narrows the scope.
func TestAPlantedSecretHoldsBackDeliveryNotUpkeep(t *testing.T) {
	ctx := context.Background()
	store := memory.New(memory.Config{Zones: []string{"example.com", "example.net"}})
	p := store.Master()
	wide := []string{store.ZoneID("example.com"), store.ZoneID("example.net")}
	slices.Sort(wide)
	minted, err := p.MintToken(ctx, provider.TokenSpec{Name: provider.TokenName(frontCluster, "prod", "team-a", "1"), ZoneIDs: wide})
	if err != nil {
		t.Fatal(err)
	}
	scope := frontDoorScope(true, false)
	objs := editFrontDoor(frontDoorObjects(scope), func(c *v1alpha1.DNSCredential) {
		c.Status.Token = &v1alpha1.HeldToken{ID: minted.ID, Name: minted.Name, ZoneIDs: wide}
	}, func(v *corev1.Secret) {
		v.Data[tokenKey(minted.ID)] = []byte(minted.Value)
	})
	planted := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: CredentialsSecretName(scope)},
		Data: map[string][]byte{KeyAPIToken: []byte("tenant's")}}
	keys := newFrontDoorReconciler(t, append(objs, planted)...)
	r := &CredentialsReconciler{Client: keys.Client, APIReader: keys.Client, Recorder: events.NewFakeRecorder(20),
		Namespace: "scopedns-system", ClusterName: frontCluster, Policies: keys.Policies, Providers: fixedProvider{p},
		Nameserver: "gateway.example.net:53", HTTPGatewayServed: true, HTTPGatewayURL: gatewayURL}
	var cred v1alpha1.DNSCredential
	if err := keys.Client.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName("prod", "team-a")}, &cred); err != nil {
		t.Fatal(err)
	}

	narrow := []string{store.ZoneID("example.com")}
	if _, err := r.ensure(ctx, scope, &cred, narrow, false); !errors.Is(err, errSecretNotOwned) {
		t.Fatalf("ensure with a planted Secret: %v, want errSecretNotOwned", err)
	}
	for _, tok := range store.Tokens() {
		if tok.ID == minted.ID && !slices.Equal(tok.ZoneIDs, narrow) {
			t.Fatalf("the token still covers %d zones at the provider after the scope narrowed to 1", len(tok.ZoneIDs))
		}
	}
	if cred.Status.Token == nil || !slices.Equal(cred.Status.Token.ZoneIDs, narrow) {
		t.Fatalf("status token after the narrowing: %+v", cred.Status.Token)
	}
	var after corev1.Secret
	if err := keys.Client.Get(ctx, client.ObjectKeyFromObject(planted), &after); err != nil || string(after.Data[KeyAPIToken]) != "tenant's" || len(after.Data) != 1 {
		t.Fatalf("the planted Secret was written: %v, %d keys", err, len(after.Data))
	}
	if n := len(store.Tokens()); n != 1 {
		t.Fatalf("%d tokens at the provider, want the one held: nothing is minted that cannot be delivered", n)
	}
}
