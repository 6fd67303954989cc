package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/rotation"
)

// migrate fills a new DNSCredential from a credentials Secret of an earlier
// release, which kept the operator's state in its annotations. A tenant can
// write those annotations, so only what checks out is taken: each token ID
// is read at the provider and adopted only if its name is this cluster's,
// scope's and namespace's; times are clamped to what the scope allows. The
// Secret becomes the DNSCredential's own only when there was something of
// the operator's in it (a token that checked out, or a TSIG key); its old
// finalizer is removed when it is next written.
func (r *CredentialsReconciler) migrate(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, legacy *corev1.Secret) error {
	p, err := r.Providers.For(ctx, scope)
	if err != nil {
		return err
	}
	v, err := r.vault(ctx, cred, false)
	if err != nil {
		return err
	}
	ann, creds, st, now := legacy.Annotations, &scope.Spec.Credentials, &cred.Status, r.now()
	adopt := func(id string) (*v1alpha1.HeldToken, error) {
		if id == "" {
			return nil, nil
		}
		t, err := p.Token(ctx, id)
		if provider.IsNotFound(err) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading token %s named by Secret %s/%s: %w", id, legacy.Namespace, legacy.Name, err)
		}
		if !provider.TokenBelongsTo(t.Name, r.ClusterName, scope.Name, cred.Spec.Namespace) {
			r.Recorder.Eventf(cred, nil, corev1.EventTypeWarning, v1alpha1.ReasonTokenNotOwned, "Migrate",
				"Secret %s/%s names token %s, which is not a token of namespace %s under DNSScope %s; it is not adopted",
				legacy.Namespace, legacy.Name, id, cred.Spec.Namespace, scope.Name)
			return nil, nil
		}
		h := &v1alpha1.HeldToken{ID: t.ID, Name: t.Name, ZoneIDs: slices.Sorted(slices.Values(t.ZoneIDs))}
		if !t.ExpiresOn.IsZero() {
			h.ExpiresAt = &metav1.Time{Time: t.ExpiresOn}
		}
		return h, nil
	}
	cur, err := adopt(ann[AnnTokenID])
	if err != nil {
		return err
	}
	prev, err := adopt(ann[AnnPreviousTokenID])
	if err != nil {
		return err
	}
	if prev != nil && cur != nil && prev.ID == cur.ID {
		prev = nil
	}
	adopted := 0
	if cur != nil && len(legacy.Data[KeyAPIToken]) > 0 {
		// The value is the one the tenant holds: it can only have changed
		// its own copy, and a wrong value hurts no one else.
		v.Data[tokenKey(cur.ID)] = legacy.Data[KeyAPIToken]
		st.Token = cur
		adopted++
	} else if cur != nil {
		prev, cur = cur, nil // no value to deliver: revoked like a rotated-out token
	}
	if prev != nil {
		prev.RevokeAt = &metav1.Time{Time: clampTime(parseTime(ann[AnnPreviousRevokeAt]), now, now.Add(creds.RotationOverlap()))}
		st.PreviousToken = prev
		adopted++
	}
	if m := ann[AnnMinting]; m != "" && provider.TokenBelongsTo(m, r.ClusterName, scope.Name, cred.Spec.Namespace) {
		st.Minting = m // revoked by name, as an interrupted mint of this release would be
	}
	if cur != nil || creds.RFC2136Enabled() {
		if err := migrateSchedule(st, creds, cred.Spec.Namespace+"/"+scope.Name, parseTime(ann[AnnNextRotation]), now); err != nil {
			return err
		}
	}
	// The TSIG secret is never taken from the old Secret: a tenant could
	// have written one there (a Secret it made before its first claim,
	// labelled and with the old finalizer) and chosen its own gateway key,
	// a guessable one included. The key is drawn anew (generation 1) by the
	// TSIG step of this reconcile; RFC 2136 clients read the Secret again
	// (cert-manager does on every challenge).
	tsig := creds.RFC2136Enabled() && len(legacy.Data[KeyTSIGSecret]) > 0
	if adopted > 0 || tsig {
		st.SecretName, st.SecretUID = legacy.Name, legacy.UID
	}
	if len(v.Data) > 0 {
		if err := r.saveVault(ctx, v); err != nil {
			return err
		}
	}
	if err := r.saveStatus(ctx, cred); err != nil {
		return err
	}
	r.Recorder.Eventf(cred, nil, corev1.EventTypeNormal, "Migrated", "Migrate",
		"adopted %d provider tokens, and %s, for Secret %s/%s of an earlier release", adopted, map[bool]string{true: "a new TSIG key in place of its old one", false: "no TSIG key"}[tsig], legacy.Namespace, legacy.Name)
	if st.SecretUID == "" {
		return r.checkTenantSecret(scope, cred, pendingCreation(st, v), legacy)
	}
	return nil
}

// migrateSchedule takes the next rotation from the old annotation, kept no
// later than the schedule's next time and the token's expiry minus the
// overlap, so a tenant cannot postpone its rotation by editing it.
func migrateSchedule(st *v1alpha1.DNSCredentialStatus, creds *v1alpha1.CredentialsSpec, key string, claimed, now time.Time) error {
	sched, err := rotation.Parse(creds.RotationSchedule())
	if err != nil {
		return fmt.Errorf("spec.credentials.rotation.schedule: %w", err)
	}
	latest := nextRotation(sched, key, now)
	if t := st.Token; t != nil && t.ExpiresAt != nil {
		if byExpiry := t.ExpiresAt.Add(-creds.RotationOverlap()); byExpiry.Before(latest) {
			latest = byExpiry
		}
	}
	st.NextRotation = &metav1.Time{Time: clampTime(claimed, now, latest)}
	return nil
}

// clampTime is t within [lo, hi]; a zero t is hi.
func clampTime(t, lo, hi time.Time) time.Time {
	switch {
	case t.IsZero() || t.After(hi):
		return hi
	case t.Before(lo):
		return lo
	}
	return t
}
