package controllers

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/rotation"
)

// Secret keys of the RFC 2136 credentials, in the names cert-manager's
// rfc2136 solver, nsupdate and lego take them.
const (
	KeyTSIGName      = "tsig-key-name"
	KeyTSIGAlgorithm = "tsig-algorithm"
	KeyTSIGSecret    = "tsig-secret"
	KeyNameserver    = "nameserver"
	// KeyTSIGPrevious holds, in the vault only, the rotated-out TSIG secret
	// until the overlap ends; the gateway accepts both meanwhile.
	KeyTSIGPrevious = "tsig-secret-previous"

	// AnnPreviousTSIGUntil is the annotation of earlier releases saying when
	// the previous TSIG secret stops working; read once by the migration.
	AnnPreviousTSIGUntil = "scopedns.io/previous-tsig-until"
	// AnnTSIGGeneration on the vault Secret is the generation of the TSIG
	// secret it holds. The status is written first; a vault behind it
	// draws the next secret, so a crash between the two writes rotates once.
	AnnTSIGGeneration = "scopedns.io/tsig-generation"

	// TSIGAlgorithm is the only algorithm the gateway hands out. cert-manager
	// falls back to HMAC-MD5 when the Issuer leaves tsigAlgorithm unset, so
	// the Secret spells it out in cert-manager's own notation.
	TSIGAlgorithm = "HMACSHA256"
)

// TSIGKeyName is the TSIG key name of a namespace under a scope. It is a
// domain name so every RFC 2136 client accepts it.
func TSIGKeyName(namespace, scope string) string {
	return fmt.Sprintf("%s.%s.scopedns.", namespace, scope)
}

func newTSIGSecret() (string, error) {
	b := make([]byte, 32) // HMAC-SHA256's block-sized key strength
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a TSIG secret: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// rotateTSIG records a rotation in the status: one generation more, and the
// previous secret valid until now+overlap. syncVaultTSIG draws the secret.
func rotateTSIG(ts *v1alpha1.TSIGKeyStatus, now time.Time, overlap time.Duration) {
	ts.Generation++
	ts.PreviousValidUntil = &metav1.Time{Time: now.Add(overlap)}
}

// syncTSIG keeps the TSIG key in line with the scope: present when rfc2136
// is enabled (rotated on the schedule when no provider token sets the pace),
// the previous secret dropped after the overlap, gone when disabled.
func (r *CredentialsReconciler) syncTSIG(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, v *corev1.Secret, rotateNow bool) error {
	creds := &scope.Spec.Credentials
	st := &cred.Status
	now := r.now()
	if !creds.RFC2136Enabled() {
		if st.TSIG != nil {
			st.TSIG = nil
			if err := r.saveStatus(ctx, cred); err != nil {
				return err
			}
		}
		if dropVaultTSIG(v) {
			return r.saveVault(ctx, v)
		}
		return nil
	}
	changed, created := false, false
	if st.TSIG == nil {
		st.TSIG = &v1alpha1.TSIGKeyStatus{KeyName: TSIGKeyName(cred.Spec.Namespace, scope.Name), Generation: 1}
		changed, created = true, true
	}
	if !creds.ProviderTokenEnabled() && (rotateNow || st.NextRotation == nil) {
		sched, err := rotation.Parse(creds.RotationSchedule())
		if err != nil {
			return fmt.Errorf("spec.credentials.rotation.schedule: %w", err)
		}
		if rotateNow {
			rotateTSIG(st.TSIG, now, creds.RotationOverlap())
			rotations.WithLabelValues(scope.Name, "ok").Inc()
		}
		st.NextRotation = &metav1.Time{Time: nextRotation(sched, cred.Spec.Namespace+"/"+scope.Name, now)}
		changed = true
	}
	if u := st.TSIG.PreviousValidUntil; u != nil && !u.After(now) {
		st.TSIG.PreviousValidUntil = nil
		changed = true
	}
	// A rotation is on record before the vault draws the new secret: the
	// gateway pairs the vault's secrets with the status's generation and
	// overlap, and must never see a new secret without them. A new key, a
	// new rotation time or an overlap that ended need no such order (either
	// half alone is repaired by the next pass), so finish writes them with
	// the rest: one status write fewer for every new namespace.
	if changed && rotateNow {
		if err := r.saveStatus(ctx, cred); err != nil {
			return err
		}
	}
	vchanged, err := syncVaultTSIG(v, st.TSIG)
	if err != nil {
		return err
	}
	if vchanged {
		if err := r.saveVault(ctx, v); err != nil {
			return err
		}
	}
	// A first key is counted, not announced: every new namespace gets one,
	// and an event per namespace is an API write per namespace that no
	// tenant can read (DNSCredentials are cluster-scoped) and no admin
	// reads among ten thousand. A rotation is rare and worth an event.
	switch {
	case created:
		tsigKeysIssued.WithLabelValues(scope.Name).Inc()
	case rotateNow:
		r.Recorder.Eventf(cred, nil, corev1.EventTypeNormal, "TSIGKeyRotated", "RotateTSIGKey", "TSIG key %s rotated; the previous secret works until %s", st.TSIG.KeyName, formatTime(st.TSIG.PreviousValidUntil.Time))
	}
	return nil
}

// syncVaultTSIG brings the vault's TSIG secrets to the status's generation:
// a vault one generation behind keeps its secret as the previous one and
// draws a new one; the previous secret goes once the status says its
// validity ended. It reports whether it changed the vault.
func syncVaultTSIG(v *corev1.Secret, ts *v1alpha1.TSIGKeyStatus) (bool, error) {
	changed := false
	have := vaultTSIGGeneration(v)
	if !vaultHoldsTSIG(v, ts.Generation) {
		s, err := newTSIGSecret()
		if err != nil {
			return false, err
		}
		if cur := v.Data[KeyTSIGSecret]; len(cur) > 0 && have == ts.Generation-1 && ts.PreviousValidUntil != nil {
			v.Data[KeyTSIGPrevious] = cur
		} else {
			delete(v.Data, KeyTSIGPrevious)
		}
		v.Data[KeyTSIGSecret] = []byte(s)
		v.Annotations[AnnTSIGGeneration] = strconv.FormatInt(ts.Generation, 10)
		changed = true
	}
	if _, ok := v.Data[KeyTSIGPrevious]; ok && ts.PreviousValidUntil == nil {
		delete(v.Data, KeyTSIGPrevious)
		changed = true
	}
	return changed, nil
}

// vaultTSIGGeneration is the TSIG generation whose secret the vault holds
// as its current one (AnnTSIGGeneration), or 0.
func vaultTSIGGeneration(v *corev1.Secret) int64 {
	g, _ := strconv.ParseInt(v.Annotations[AnnTSIGGeneration], 10, 64)
	return g
}

// vaultHoldsTSIG reports whether the vault holds the secret of generation
// gen (or a later one): what syncVaultTSIG draws when it does not, and what
// the gateway keys wait for in the cache.
func vaultHoldsTSIG(v *corev1.Secret, gen int64) bool {
	return vaultTSIGGeneration(v) >= gen && len(v.Data[KeyTSIGSecret]) > 0
}

// dropVaultTSIG removes every TSIG value from the vault.
func dropVaultTSIG(v *corev1.Secret) bool {
	changed := false
	for _, k := range []string{KeyTSIGSecret, KeyTSIGPrevious} {
		if _, ok := v.Data[k]; ok {
			delete(v.Data, k)
			changed = true
		}
	}
	delete(v.Annotations, AnnTSIGGeneration)
	return changed
}
