package controllers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
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

// ownsTenantSecret is the one test of whether a tenant Secret is the one
// the operator created: its UID is the one recorded, or (after a crash
// between the create and the recording) it carries the one-time nonce the
// status holds. Labels, annotations and finalizers prove nothing: a tenant
// can write them.
func ownsTenantSecret(st *v1alpha1.DNSCredentialStatus, s *corev1.Secret) bool {
	if st.SecretName != s.Name {
		return false
	}
	if st.SecretUID != "" {
		return s.UID == st.SecretUID
	}
	return st.SecretCreation != "" && s.Annotations[AnnCreation] == st.SecretCreation
}

// checkTenantSecret refuses, with a Warning event, a Secret of the
// credentials' name that the operator did not create; s is that Secret as
// read, or nil when there is none.
func (r *CredentialsReconciler) checkTenantSecret(scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, s *corev1.Secret) error {
	ns, name := cred.Spec.Namespace, CredentialsSecretName(scope)
	if s == nil || ownsTenantSecret(&cred.Status, s) {
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
// of that name it did not create. s is the Secret of that name as ensure
// read it, or nil; every write is conditional on that read.
func (r *CredentialsReconciler) deliver(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, v *corev1.Secret, s *corev1.Secret) error {
	st := &cred.Status
	name := CredentialsSecretName(scope)
	if st.SecretName != "" && st.SecretName != name {
		// The scope renamed the Secret: the old one goes.
		if err := r.deleteTenantSecret(ctx, cred); err != nil {
			return err
		}
		st.SecretName, st.SecretUID, st.SecretCreation = "", "", ""
		if err := r.saveStatus(ctx, cred); err != nil {
			return err
		}
	}
	frontDoor, err := r.frontDoorKeys(ctx, scope, cred, v)
	if err != nil {
		return err
	}
	want := r.render(scope, cred, v, frontDoor)
	if s == nil {
		return r.createTenantSecret(ctx, cred, want)
	}
	if !ownsTenantSecret(st, s) {
		return r.checkTenantSecret(scope, cred, s)
	}
	if st.SecretUID == "" {
		st.SecretUID, st.SecretCreation = s.UID, "" // our own, created before a crash
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

// createTenantSecret creates the tenant Secret. The nonce goes into the
// status first, so a crash before the UID is recorded still lets the next
// reconcile know the Secret as its own. Create fails when a Secret of that
// name exists, so a Secret the operator did not write is never overwritten.
func (r *CredentialsReconciler) createTenantSecret(ctx context.Context, cred *v1alpha1.DNSCredential, want *corev1.Secret) error {
	st := &cred.Status
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	st.SecretName, st.SecretUID, st.SecretCreation = want.Name, "", hex.EncodeToString(b)
	if err := r.saveStatus(ctx, cred); err != nil {
		return err
	}
	want.Annotations[AnnCreation] = st.SecretCreation
	if err := r.echoes.write(echoSecret, want, func() error { return r.Client.Create(ctx, want) }); err != nil {
		return fmt.Errorf("creating Secret %s/%s: %w", want.Namespace, want.Name, err)
	}
	// finish records the UID; until then the nonce says the Secret is ours.
	// The nonce stays in the status and so on the Secret (render): once the
	// UID is on record it proves nothing, and taking it off would cost every
	// new namespace one more Secret write.
	st.SecretUID = want.UID
	return nil
}

// deleteTenantSecret deletes the tenant Secret the operator created, and
// only that one (the delete is conditional on its UID).
func (r *CredentialsReconciler) deleteTenantSecret(ctx context.Context, cred *v1alpha1.DNSCredential) error {
	st := &cred.Status
	if st.SecretName == "" {
		return nil
	}
	s, err := r.readTenantSecret(ctx, cred.Spec.Namespace, st.SecretName)
	if err != nil || s == nil || !ownsTenantSecret(st, s) {
		return err
	}
	if controllerutil.RemoveFinalizer(s, LegacySecretFinalizer) {
		if err := r.Client.Update(ctx, s); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
	uid := s.UID
	if err := r.Client.Delete(ctx, s, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
		return err
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
	if st.SecretName != "" {
		if err := r.deleteTenantSecret(ctx, cred); err != nil {
			return err
		}
		st.SecretName, st.SecretUID, st.SecretCreation = "", "", ""
		if err := r.saveStatus(ctx, cred); err != nil {
			return err
		}
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
