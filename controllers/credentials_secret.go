package controllers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// The vault is one Secret per DNSCredential in the operator's own namespace:
// the values the operator must remember (token values, to put the tenant
// Secret back; the TSIG secrets, current and previous, for the gateway).
// Tenants cannot write there, so nothing in it is tenant input.

// vaultName is the vault Secret's name: the DNSCredential's, prefixed, and
// shortened with a hash past the 253 characters of an object name.
func vaultName(cred *v1alpha1.DNSCredential) string {
	n := "dnscredential." + cred.Name
	if len(n) <= 253 {
		return n
	}
	h := sha256.Sum256([]byte(cred.Name))
	return n[:253-17] + "." + hex.EncodeToString(h[:])[:16]
}

// tokenKey is the vault key of a token's value: keyed by ID, so a value is
// only ever delivered for the token the status names.
func tokenKey(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return "token." + string(b)
}

// vault reads the DNSCredential's vault Secret, or returns a new, unsaved
// one. A DNSCredential created in this reconcile (created) has none to read:
// the new one is returned without asking, and should one exist after all (a
// vault a deleted DNSCredential of the same name left), its create fails
// and the retry reads it.
func (r *CredentialsReconciler) vault(ctx context.Context, cred *v1alpha1.DNSCredential, created bool) (*corev1.Secret, error) {
	v := r.newVault(cred)
	if !created {
		var err error
		if v, err = r.readVault(ctx, cred); err != nil {
			return nil, err
		}
	}
	if v.Data == nil {
		v.Data = map[string][]byte{}
	}
	if v.Annotations == nil {
		v.Annotations = map[string]string{}
	}
	return v, nil
}

// newVault is the DNSCredential's vault Secret before its first save.
func (r *CredentialsReconciler) newVault(cred *v1alpha1.DNSCredential) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: r.Namespace, Name: vaultName(cred),
			Labels: map[string]string{LabelManagedBy: ManagedBy, LabelVault: "credential",
				LabelScope: cred.Spec.ScopeName, LabelNamespace: cred.Spec.Namespace},
		},
		Type: corev1.SecretTypeOpaque,
	}
}

// readVault reads the vault Secret from the API server, or newVault when
// there is none.
func (r *CredentialsReconciler) readVault(ctx context.Context, cred *v1alpha1.DNSCredential) (*corev1.Secret, error) {
	var v corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: vaultName(cred)}, &v)
	if apierrors.IsNotFound(err) {
		return r.newVault(cred), nil
	}
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func (r *CredentialsReconciler) saveVault(ctx context.Context, v *corev1.Secret) error {
	var err error
	if v.ResourceVersion == "" {
		err = r.Client.Create(ctx, v)
	} else {
		err = r.Client.Update(ctx, v)
	}
	if err != nil {
		return fmt.Errorf("writing vault Secret %s/%s: %w", v.Namespace, v.Name, err)
	}
	// The write decodes the API server's answer into v, and empty maps come
	// back nil; the callers go on filling v after saving it.
	if v.Data == nil {
		v.Data = map[string][]byte{}
	}
	if v.Annotations == nil {
		v.Annotations = map[string]string{}
	}
	return nil
}

// pruneVault drops values of tokens the status no longer holds (rotated
// out, revoked, or minted by a process that died before recording them).
func (r *CredentialsReconciler) pruneVault(ctx context.Context, cred *v1alpha1.DNSCredential, v *corev1.Secret) error {
	keep := ""
	if t := cred.Status.Token; t != nil {
		keep = tokenKey(t.ID)
	}
	changed := false
	for k := range v.Data {
		if strings.HasPrefix(k, "token.") && k != keep {
			delete(v.Data, k)
			changed = true
		}
	}
	if !changed || v.ResourceVersion == "" && len(v.Data) == 0 {
		return nil
	}
	return r.saveVault(ctx, v)
}

// readTenantSecret reads the Secret of that name in the tenant namespace
// from the API server (tenant Secrets are cached only when labelled), or nil.
func (r *CredentialsReconciler) readTenantSecret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	var s corev1.Secret
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// secretCreation is a create of the tenant Secret the vault has on record:
// the Secret's name and the one-time nonce put on it (AnnCreation).
type secretCreation struct{ name, nonce string }

// vaultCreation reads the create the vault has on record, or zero.
func vaultCreation(v *corev1.Secret) secretCreation {
	if v == nil {
		return secretCreation{}
	}
	name, nonce, _ := strings.Cut(v.Annotations[AnnVaultSecretCreation], "/")
	return secretCreation{name: name, nonce: nonce}
}

// pendingCreation is the create the vault has on record when the status
// does not record it yet (a crash came between the create and the status
// write that follows it), or zero.
func pendingCreation(st *v1alpha1.DNSCredentialStatus, v *corev1.Secret) secretCreation {
	c := vaultCreation(v)
	if c.nonce == "" || c.nonce == st.SecretCreation {
		return secretCreation{}
	}
	return c
}

// ownsTenantSecret is the one test of whether a tenant Secret is the one
// the operator created: the one whose UID the status records, or the one
// made by the create the vault has on record and the status does not
// (pending), known by the one-time nonce that create put on it. Labels,
// annotations and finalizers prove nothing: a tenant can write them. It can
// also read the nonce of every Secret the operator gave it, so a nonce
// counts only while its create is not on record, and every create draws a
// new one.
func ownsTenantSecret(st *v1alpha1.DNSCredentialStatus, pending secretCreation, s *corev1.Secret) bool {
	if pending.nonce != "" && s.Name == pending.name && s.Annotations[AnnCreation] == pending.nonce {
		return true
	}
	if st.SecretName != s.Name {
		return false
	}
	if st.SecretUID != "" {
		return s.UID == st.SecretUID
	}
	// Earlier releases wrote the nonce to the status before the create.
	return st.SecretCreation != "" && s.Annotations[AnnCreation] == st.SecretCreation
}

// checkTenantSecret refuses, with a Warning event, a Secret of the
// credentials' name that the operator did not create; s is that Secret as
// read, or nil when there is none, and pending the vault's create the
// status does not record yet (pendingCreation).
func (r *CredentialsReconciler) checkTenantSecret(scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, pending secretCreation, s *corev1.Secret) error {
	ns, name := cred.Spec.Namespace, CredentialsSecretName(scope)
	if s == nil || ownsTenantSecret(&cred.Status, pending, s) {
		return nil
	}
	r.Recorder.Eventf(cred, nil, corev1.EventTypeWarning, v1alpha1.ReasonSecretNotOwned, "WriteCredentials",
		"Secret %s/%s exists and was not created by scopedns; it is left alone and no credentials are written for DNSScope %s", ns, name, scope.Name)
	return fmt.Errorf("%w: Secret %s/%s exists and was not created by scopedns; delete it or set spec.credentials.secretName of DNSScope %s",
		errSecretNotOwned, ns, name, scope.Name)
}

// render is the tenant Secret as it must be: output only, from the status
// and the vault.
// frontDoor holds the front-door keys (frontDoorKeys), added as they are.
func (r *CredentialsReconciler) render(scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, v *corev1.Secret, frontDoor map[string][]byte) *corev1.Secret {
	st := &cred.Status
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   cred.Spec.Namespace,
			Name:        CredentialsSecretName(scope),
			Labels:      map[string]string{LabelManagedBy: ManagedBy, LabelScope: scope.Name},
			Annotations: map[string]string{},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{},
	}
	if t := st.Token; t != nil && len(v.Data[tokenKey(t.ID)]) > 0 {
		s.Data[KeyAPIToken] = v.Data[tokenKey(t.ID)]
		if t.ExpiresAt != nil {
			s.Annotations[AnnTokenExpires] = formatTime(t.ExpiresAt.Time)
		}
	}
	if st.TSIG != nil && len(v.Data[KeyTSIGSecret]) > 0 {
		s.Data[KeyTSIGName] = []byte(st.TSIG.KeyName)
		s.Data[KeyTSIGAlgorithm] = []byte(TSIGAlgorithm)
		s.Data[KeyTSIGSecret] = v.Data[KeyTSIGSecret]
		s.Data[KeyNameserver] = []byte(r.Nameserver)
	}
	maps.Copy(s.Data, frontDoor)
	if st.NextRotation != nil {
		s.Annotations[AnnNextRotation] = formatTime(st.NextRotation.Time)
	}
	if st.SecretCreation != "" {
		s.Annotations[AnnCreation] = st.SecretCreation
	}
	return s
}

// putBack makes s what want says: exactly its data, its labels and its
// scopedns.io annotations (others are left to their writers), no legacy
// finalizer. It reports whether it changed s.
func putBack(s, want *corev1.Secret) bool {
	changed := false
	if !equalData(s.Data, want.Data) {
		s.Data = want.Data
		changed = true
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	for k, v := range want.Labels {
		if s.Labels[k] != v {
			s.Labels[k] = v
			changed = true
		}
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	for k := range s.Annotations {
		if _, ok := want.Annotations[k]; strings.HasPrefix(k, "scopedns.io/") && !ok {
			delete(s.Annotations, k)
			changed = true
		}
	}
	for k, v := range want.Annotations {
		if s.Annotations[k] != v {
			s.Annotations[k] = v
			changed = true
		}
	}
	if controllerutil.RemoveFinalizer(s, LegacySecretFinalizer) {
		changed = true
	}
	return changed
}

func equalData(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, func(x, y []byte) bool { return bytes.Equal(x, y) })
}

// deliver writes the tenant Secret: creates it when missing (recording its
// UID), puts it back when someone changed it, and never touches a Secret
// of that name it did not create. s is the Secret of that name as readDelivery
// read it, or nil; every write is conditional on that read. fresh is the
// create readDelivery prepared for a missing Secret.
func (r *CredentialsReconciler) deliver(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, v *corev1.Secret, s *corev1.Secret, fresh *preparedCreation) error {
	st := &cred.Status
	frontDoor, err := r.frontDoorKeys(ctx, scope, cred, v)
	if err != nil {
		return err
	}
	want := r.render(scope, cred, v, frontDoor)
	if s == nil {
		return r.createTenantSecret(ctx, cred, v, want, fresh)
	}
	if pending := pendingCreation(st, v); !ownsTenantSecret(st, pending, s) {
		return r.checkTenantSecret(scope, cred, pending, s)
	}
	if st.SecretName != s.Name || st.SecretUID != s.UID {
		// Our own, created before a crash and known by its nonce: on record now.
		st.SecretName, st.SecretUID, st.SecretCreation = s.Name, s.UID, s.Annotations[AnnCreation]
		if err := r.saveStatus(ctx, cred); err != nil {
			return err
		}
	}
	if !s.DeletionTimestamp.IsZero() || !putBack(s, want) {
		return nil
	}
	if err := r.echoes.write(echoSecret, s, func() error { return r.Client.Update(ctx, s) }); err != nil {
		return fmt.Errorf("writing Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	log.FromContext(ctx).V(1).Info("credentials Secret written", "secret", client.ObjectKeyFromObject(s))
	return nil
}

// readDelivery reads what deliver will write over: the tenant Secret of the
// name the scope gives, which must be one the operator created or none, and
// for none the create deliver will make (prepareCreation). A Secret of
// another name the operator created (the status's, or a create the vault
// has on record that a crash kept off it) goes first: the scope renamed it,
// and a new create would put the old one's nonce off record for good.
// Every write deliver makes is conditional on the Secret read here (its
// resourceVersion, or a create that fails when one appeared since), so
// nothing between can be lost.
func (r *CredentialsReconciler) readDelivery(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, v *corev1.Secret) (*corev1.Secret, *preparedCreation, error) {
	st := &cred.Status
	name := CredentialsSecretName(scope)
	if pending := pendingCreation(st, v); (st.SecretName != "" && st.SecretName != name) || (pending.name != "" && pending.name != name) {
		if err := r.releaseTenantSecret(ctx, cred, v); err != nil {
			return nil, nil, err
		}
	}
	tenant, err := r.readTenantSecret(ctx, cred.Spec.Namespace, name)
	if err != nil {
		return nil, nil, err
	}
	if err := r.checkTenantSecret(scope, cred, pendingCreation(st, v), tenant); err != nil {
		return nil, nil, err
	}
	if tenant != nil {
		return tenant, nil, nil
	}
	fresh, err := prepareCreation(v, name)
	return nil, fresh, err
}

// releaseTenantSecret deletes the tenant Secrets the operator created
// (deleteTenantSecret) and takes them off the status. The vault's last
// create stays on record there, by its nonce: the tenant could read that
// nonce off the Secret, and a create that is pending again would make a
// Secret it writes with that nonce look like the operator's
// (ownsTenantSecret). v is the vault as read this pass.
func (r *CredentialsReconciler) releaseTenantSecret(ctx context.Context, cred *v1alpha1.DNSCredential, v *corev1.Secret) error {
	if err := r.deleteTenantSecret(ctx, cred, v); err != nil {
		return err
	}
	st := &cred.Status
	recorded := vaultCreation(v).nonce
	if recorded == "" {
		recorded = st.SecretCreation
	}
	if st.SecretName == "" && st.SecretUID == "" && st.SecretCreation == recorded {
		return nil
	}
	st.SecretName, st.SecretUID, st.SecretCreation = "", "", recorded
	return r.saveStatus(ctx, cred)
}

// preparedCreation is a create of the tenant Secret whose nonce is in the
// vault object, and the vault's resourceVersion when it was put there: a
// vault still at that version has not been written since, so the nonce is
// not on record yet.
type preparedCreation struct {
	secretCreation
	vaultRV string
}

// prepareCreation draws the nonce for creating the tenant Secret called name
// and puts it in the vault object, unsaved: the vault write this pass makes
// anyway (a new namespace's TSIG key) then carries it, and createTenantSecret
// writes the vault only if none did.
func prepareCreation(v *corev1.Secret, name string) (*preparedCreation, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	c := secretCreation{name: name, nonce: hex.EncodeToString(b)}
	if v.Annotations == nil {
		v.Annotations = map[string]string{}
	}
	v.Annotations[AnnVaultSecretCreation] = c.name + "/" + c.nonce
	return &preparedCreation{secretCreation: c, vaultRV: v.ResourceVersion}, nil
}

// createTenantSecret creates the tenant Secret. Its nonce is on record in
// the vault first, where tenants cannot write, so a crash before the status
// records the UID still lets the next reconcile know the Secret as its own
// (ownsTenantSecret). Create fails when a Secret of that name exists, so a
// Secret the operator did not write is never overwritten.
func (r *CredentialsReconciler) createTenantSecret(ctx context.Context, cred *v1alpha1.DNSCredential, v, want *corev1.Secret, c *preparedCreation) error {
	if c == nil || vaultCreation(v) != c.secretCreation || c.name != want.Name {
		return fmt.Errorf("creating Secret %s/%s: no create prepared for it", want.Namespace, want.Name)
	}
	if v.ResourceVersion == c.vaultRV {
		if err := r.saveVault(ctx, v); err != nil {
			return err
		}
	}
	want.Annotations[AnnCreation] = c.nonce
	if err := r.echoes.write(echoSecret, want, func() error { return r.Client.Create(ctx, want) }); err != nil {
		return fmt.Errorf("creating Secret %s/%s: %w", want.Namespace, want.Name, err)
	}
	// finish records the UID and the nonce, which ends the vault's create's
	// say. The nonce stays on the Secret (render): once the UID is on
	// record it proves nothing, and taking it off would cost every new
	// namespace one more Secret write.
	st := &cred.Status
	st.SecretName, st.SecretUID, st.SecretCreation = want.Name, want.UID, c.nonce
	return nil
}

// deleteTenantSecret deletes the tenant Secrets the operator created, and
// only those (each delete is conditional on the UID read): the one the
// status records, and the one a create the vault has on record made when
// the status does not record it (a crash came between). v is the vault as
// read this pass, or nil to read it.
func (r *CredentialsReconciler) deleteTenantSecret(ctx context.Context, cred *v1alpha1.DNSCredential, v *corev1.Secret) error {
	st := &cred.Status
	if v == nil {
		var err error
		if v, err = r.readVault(ctx, cred); err != nil {
			return err
		}
	}
	pending := pendingCreation(st, v)
	for _, name := range slices.Compact([]string{st.SecretName, pending.name}) {
		if name == "" {
			continue
		}
		s, err := r.readTenantSecret(ctx, cred.Spec.Namespace, name)
		if err != nil {
			return err
		}
		if s == nil || !ownsTenantSecret(st, pending, s) {
			continue
		}
		if controllerutil.RemoveFinalizer(s, LegacySecretFinalizer) {
			if err := r.Client.Update(ctx, s); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
		uid := s.UID
		if err := r.Client.Delete(ctx, s, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return err
		}
	}
	return nil
}

// secretNameHolder returns the DNSCredential that holds the tenant Secret
// name cred's scope would write, when that is another scope's credential for
// the same namespace; nil when cred holds it. Two scopes may name the same
// Secret (spec.credentials.secretName, or a default that one scope's name
// spells for another), and they must never overwrite each other.
func (r *CredentialsReconciler) secretNameHolder(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential) (*v1alpha1.DNSCredential, error) {
	name := CredentialsSecretName(scope)
	var list v1alpha1.DNSCredentialList
	if err := r.Client.List(ctx, &list, client.MatchingFields{CredentialNamespaceIndex: cred.Spec.Namespace}); err != nil {
		return nil, fmt.Errorf("listing the DNSCredentials of namespace %s: %w", cred.Spec.Namespace, err)
	}
	contenders := []*v1alpha1.DNSCredential{cred}
	for i := range list.Items {
		other := &list.Items[i]
		// The label only narrows the list; the spec decides.
		if other.Spec.Namespace != cred.Spec.Namespace || other.Spec.ScopeName == cred.Spec.ScopeName || !other.DeletionTimestamp.IsZero() {
			continue
		}
		wants, err := r.wantsSecretName(ctx, other, name)
		if err != nil {
			return nil, err
		}
		if wants {
			contenders = append(contenders, other)
		}
	}
	if w := secretNameWinner(contenders); w.Name != cred.Name {
		return w, nil
	}
	return nil, nil
}

// wantsSecretName reports whether another DNSCredential holds the Secret
// name (its status says it wrote it) or would write it (its scope names it).
func (r *CredentialsReconciler) wantsSecretName(ctx context.Context, other *v1alpha1.DNSCredential, name string) (bool, error) {
	if other.Status.SecretName == name {
		return true, nil
	}
	var s v1alpha1.DNSScope
	if err := r.Client.Get(ctx, client.ObjectKey{Name: other.Spec.ScopeName}, &s); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return s.DeletionTimestamp.IsZero() && CredentialsSecretName(&s) == name, nil
}

// secretNameWinner is the one rule that decides which of the DNSCredentials
// that want one Secret name in one namespace gets it: the oldest, ties (the
// API server's timestamps have one-second steps) by name. Both are kept by
// the API server, so the answer is the same on every replica and after every
// restart, and it changes only when the holder goes away: a scope created
// later can never take the Secret of one that already serves the namespace.
func secretNameWinner(creds []*v1alpha1.DNSCredential) *v1alpha1.DNSCredential {
	w := creds[0]
	for _, c := range creds[1:] {
		switch a, b := c.CreationTimestamp, w.CreationTimestamp; {
		case a.Time.Before(b.Time), a.Time.Equal(b.Time) && c.Name < w.Name:
			w = c
		}
	}
	return w
}

// yieldSecretName is what a credential that lost its Secret name does: it
// reports the holder (condition through errSecretNameConflict, Warning
// event) and gives up what it may have got before it knew of the holder (a
// race between two first reconciles): its tenant Secret, so the holder can
// write its own, and its provider tokens, which nothing could deliver. Its
// TSIG key stays in the status and its gateway grant is the scope's, so it
// widens nothing.
func (r *CredentialsReconciler) yieldSecretName(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, holder *v1alpha1.DNSCredential) error {
	ns, name := cred.Spec.Namespace, CredentialsSecretName(scope)
	r.Recorder.Eventf(cred, holder, corev1.EventTypeWarning, v1alpha1.ReasonSecretNameConflict, "WriteCredentials",
		"Secret %s/%s is the credentials Secret of DNSScope %s too, whose DNSCredential %s came first; no credentials are written for DNSScope %s until one of them sets another spec.credentials.secretName",
		ns, name, holder.Spec.ScopeName, holder.Name, scope.Name)
	st := &cred.Status
	// The vault is read too: a create of its own that a crash kept off the
	// status is found there.
	v, err := r.readVault(ctx, cred)
	if err != nil {
		return err
	}
	if err := r.releaseTenantSecret(ctx, cred, v); err != nil {
		return err
	}
	if st.Token != nil || st.PreviousToken != nil {
		p, err := r.Providers.For(ctx, scope)
		if err != nil {
			return err
		}
		if err := r.dropToken(ctx, p, scope, cred); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: Secret %s/%s is written for DNSScope %s (DNSCredential %s, the older); set another spec.credentials.secretName on DNSScope %s or %s",
		errSecretNameConflict, ns, name, holder.Spec.ScopeName, holder.Name, scope.Name, holder.Spec.ScopeName)
}
