package controllers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/rotation"
)

// ensure makes the Secret hold a working token for exactly zoneIDs, rotates
// it when due and revokes the previous one after the overlap.
func (r *CredentialsReconciler) ensure(ctx context.Context, scope *v1alpha1.DNSScope, ns string, zoneIDs []string, secret *corev1.Secret) (ctrl.Result, error) {
	if err := requireReady(scope); err != nil {
		log.FromContext(ctx).V(1).Info("waiting for the scope to be Ready")
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil //nolint:nilerr // the scope watch requeues sooner
	}
	p, err := r.Providers.For(ctx, scope)
	if err != nil {
		return ctrl.Result{}, err
	}
	if secret == nil {
		if secret, err = r.createSecret(ctx, scope, ns); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.abandonInterruptedMint(ctx, p, secret); err != nil {
		return ctrl.Result{}, err
	}
	now := r.now()
	creds := &scope.Spec.Credentials
	due := secret.Annotations[AnnNextRotation] != "" && !parseTime(secret.Annotations[AnnNextRotation]).After(now)
	if creds.ProviderTokenEnabled() {
		ann := secret.Annotations
		switch {
		case ann[AnnTokenID] == "" || len(secret.Data[KeyAPIToken]) == 0:
			if err := r.checkQuota(ctx, scope, secret, "MintToken"); err != nil {
				return ctrl.Result{}, err
			}
			if err := r.mint(ctx, p, scope, secret, zoneIDs, false); err != nil {
				return ctrl.Result{}, err
			}
		case ann[AnnTokenZones] != strings.Join(zoneIDs, ","):
			if err := r.updateZones(ctx, p, secret, zoneIDs); err != nil {
				return ctrl.Result{}, err
			}
		case due:
			if err := r.rotate(ctx, p, scope, secret, zoneIDs); err != nil {
				return ctrl.Result{}, err
			}
		}
	} else if err := r.dropToken(ctx, p, scope, secret); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.syncTSIG(ctx, scope, secret, due && !creds.ProviderTokenEnabled()); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.revokePreviousIfDue(ctx, p, scope, secret); err != nil {
		return ctrl.Result{}, err
	}
	if exp := parseTime(secret.Annotations[AnnTokenExpires]); !exp.IsZero() {
		credentialExpiry.WithLabelValues(scope.Name, ns).Set(float64(exp.Unix()))
	}
	return ctrl.Result{RequeueAfter: nextWake(secret.Annotations, r.now())}, nil
}

// createSecret creates the empty, labelled credentials Secret with its
// finalizer. Creating fails when a Secret of that name exists, which is how
// a Secret the operator did not write is never overwritten.
func (r *CredentialsReconciler) createSecret(ctx context.Context, scope *v1alpha1.DNSScope, ns string) (*corev1.Secret, error) {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   ns,
			Name:        CredentialsSecretName(scope),
			Labels:      map[string]string{LabelManagedBy: ManagedBy, LabelScope: scope.Name},
			Annotations: map[string]string{},
			Finalizers:  []string{SecretFinalizer},
		},
		Type: corev1.SecretTypeOpaque,
	}
	if err := r.Client.Create(ctx, s); err != nil {
		return nil, fmt.Errorf("creating Secret %s/%s: %w", ns, s.Name, err)
	}
	return s, nil
}

// abandonInterruptedMint revokes a token whose mint was announced but whose
// value never reached the Secret: nobody can use it, so it must not live.
func (r *CredentialsReconciler) abandonInterruptedMint(ctx context.Context, p provider.Provider, secret *corev1.Secret) error {
	name := secret.Annotations[AnnMinting]
	if name == "" {
		return nil
	}
	tokens, err := p.Tokens(ctx, name)
	if err != nil {
		return fmt.Errorf("looking for the interrupted mint %s: %w", name, err)
	}
	for _, t := range tokens {
		if t.Name != name {
			continue
		}
		if err := p.RevokeToken(ctx, t.ID); err != nil && !provider.IsNotFound(err) {
			return fmt.Errorf("revoking token %s of an interrupted mint: %w", t.ID, err)
		}
		log.FromContext(ctx).Info("revoked the token of an interrupted mint", "tokenID", t.ID)
	}
	delete(secret.Annotations, AnnMinting)
	return r.Client.Update(ctx, secret)
}

// mint creates a token for zoneIDs and writes it to the Secret. With
// rotating set, the current token becomes the previous one, revoked after
// the overlap.
func (r *CredentialsReconciler) mint(ctx context.Context, p provider.Provider, scope *v1alpha1.DNSScope, secret *corev1.Secret, zoneIDs []string, rotating bool) error {
	creds := &scope.Spec.Credentials
	sched, err := rotation.Parse(creds.RotationSchedule())
	if err != nil {
		return fmt.Errorf("spec.credentials.rotation.schedule: %w", err)
	}
	now := r.now()
	name := provider.TokenName(r.ClusterName, scope.Name, secret.Namespace, strconv.FormatInt(now.UnixNano(), 36))

	// Intent first: if the process dies after the provider minted the token
	// and before the Secret holds it, the next reconcile revokes it by name.
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	secret.Annotations[AnnMinting] = name
	if err := r.Client.Update(ctx, secret); err != nil {
		return err
	}
	expires := now.Add(creds.TokenLifetime())
	minted, err := p.MintToken(ctx, provider.TokenSpec{Name: name, ZoneIDs: zoneIDs, AllowedCIDRs: creds.AllowedCIDRs, ExpiresOn: expires})
	if err != nil {
		if _, limited := provider.IsRateLimited(err); limited {
			// A rate-limited mint never reached the provider (throttled here,
			// or a 429, which Cloudflare answers before acting): drop the
			// intent, or the next reconcile lists every token to look for it.
			delete(secret.Annotations, AnnMinting)
			if uerr := r.Client.Update(ctx, secret); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
		return fmt.Errorf("minting a token for namespace %s: %w", secret.Namespace, err)
	}

	ann := secret.Annotations
	if rotating && ann[AnnTokenID] != "" {
		ann[AnnPreviousTokenID] = ann[AnnTokenID]
		ann[AnnPreviousRevokeAt] = formatTime(now.Add(creds.RotationOverlap()))
	}
	next := nextRotation(sched, secret.Namespace+"/"+scope.Name, now)
	if latest := expires.Add(-creds.RotationOverlap()); next.After(latest) {
		next = latest // never let a token expire before its successor is in place
	}
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	if rotating && creds.RFC2136Enabled() {
		if err := rotateTSIG(secret, now, creds.RotationOverlap()); err != nil {
			return err
		}
	}
	ann[AnnTokenID] = minted.ID
	ann[AnnTokenName] = name
	ann[AnnTokenExpires] = formatTime(expires)
	ann[AnnTokenZones] = strings.Join(zoneIDs, ",")
	ann[AnnNextRotation] = formatTime(next)
	delete(ann, AnnMinting)
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	secret.Data[KeyAPIToken] = []byte(minted.Value.Reveal())
	if err := r.Client.Update(ctx, secret); err != nil {
		return fmt.Errorf("writing the new token to Secret %s/%s: %w", secret.Namespace, secret.Name, err)
	}
	action := "Minted"
	if rotating {
		action = "Rotated"
		rotations.WithLabelValues(scope.Name, "ok").Inc()
	}
	r.Recorder.Eventf(secret, nil, corev1.EventTypeNormal, "Token"+action, "MintToken",
		"token %s for %d zones, expires %s, next rotation %s", minted.ID, len(zoneIDs), ann[AnnTokenExpires], ann[AnnNextRotation])
	return nil
}

// updateZones narrows or widens the current token in place: same value, new zones.
func (r *CredentialsReconciler) updateZones(ctx context.Context, p provider.Provider, secret *corev1.Secret, zoneIDs []string) error {
	id := secret.Annotations[AnnTokenID]
	if _, err := p.UpdateTokenZones(ctx, id, zoneIDs); err != nil {
		return fmt.Errorf("updating the zones of token %s: %w", id, err)
	}
	secret.Annotations[AnnTokenZones] = strings.Join(zoneIDs, ",")
	if err := r.Client.Update(ctx, secret); err != nil {
		return err
	}
	r.Recorder.Eventf(secret, nil, corev1.EventTypeNormal, "TokenZonesChanged", "UpdateToken", "token %s now covers %d zones", id, len(zoneIDs))
	return nil
}

// rotate mints the successor, unless that would cross the provider's token
// quota or a previous token is still waiting for revocation.
func (r *CredentialsReconciler) rotate(ctx context.Context, p provider.Provider, scope *v1alpha1.DNSScope, secret *corev1.Secret, zoneIDs []string) error {
	if secret.Annotations[AnnPreviousTokenID] != "" {
		return nil // finish the last rotation first; revokePreviousIfDue runs next
	}
	if err := r.checkQuota(ctx, scope, secret, "RotateToken"); err != nil {
		rotations.WithLabelValues(scope.Name, "quota").Inc()
		return err
	}
	return r.mint(ctx, p, scope, secret, zoneIDs, true)
}

// checkQuota refuses a mint that would take this cluster past the provider's
// token quota, and warns from 80 % on. Rotation overlap doubles a namespace's
// need for a while, so the count includes tokens waiting for revocation.
func (r *CredentialsReconciler) checkQuota(ctx context.Context, scope *v1alpha1.DNSScope, secret *corev1.Secret, action string) error {
	held, err := r.tokensHeld(ctx)
	if err != nil {
		return err
	}
	if held+1 > r.TokenQuota {
		r.Recorder.Eventf(secret, nil, corev1.EventTypeWarning, v1alpha1.ReasonQuotaExceeded, action,
			"no token minted: this cluster holds %d provider tokens and the quota is %d (--token-quota); the RFC 2136 gateway needs none", held, r.TokenQuota)
		return fmt.Errorf("%s for %s/%s postponed: %d provider tokens held, quota %d", action, secret.Namespace, scope.Name, held, r.TokenQuota)
	}
	if held+1 >= r.TokenQuota*8/10 {
		r.Recorder.Eventf(secret, nil, corev1.EventTypeWarning, "QuotaNearlyExhausted", action,
			"this cluster holds %d of %d provider tokens", held+1, r.TokenQuota)
	}
	return nil
}

// revokePreviousIfDue revokes the rotated-out token once its overlap ends.
func (r *CredentialsReconciler) revokePreviousIfDue(ctx context.Context, p provider.Provider, scope *v1alpha1.DNSScope, secret *corev1.Secret) error {
	prev := secret.Annotations[AnnPreviousTokenID]
	if prev == "" || parseTime(secret.Annotations[AnnPreviousRevokeAt]).After(r.now()) {
		return nil
	}
	if err := r.revoke(ctx, p, scope, secret, prev); err != nil {
		return err
	}
	delete(secret.Annotations, AnnPreviousTokenID)
	delete(secret.Annotations, AnnPreviousRevokeAt)
	return r.Client.Update(ctx, secret)
}

// retire revokes every token of the Secret and deletes it.
func (r *CredentialsReconciler) retire(ctx context.Context, scope *v1alpha1.DNSScope, secret *corev1.Secret) error {
	if secret == nil {
		return nil
	}
	ids := []string{secret.Annotations[AnnTokenID], secret.Annotations[AnnPreviousTokenID]}
	if hasTokens(secret) {
		if scope == nil {
			// Without the scope there is no credential to revoke with; the
			// finalizer keeps the Secret (and the IDs) visible until an admin
			// restores the scope or removes the finalizer.
			return fmt.Errorf("cannot revoke tokens %v of Secret %s/%s: DNSScope %s is gone", ids, secret.Namespace, secret.Name, secret.Labels[LabelScope])
		}
		p, err := r.Providers.For(ctx, scope)
		if err != nil {
			return err
		}
		if err := r.abandonInterruptedMint(ctx, p, secret); err != nil {
			return err
		}
		for _, id := range ids {
			if id == "" {
				continue
			}
			if err := r.revoke(ctx, p, scope, secret, id); err != nil {
				return err
			}
		}
		credentialExpiry.DeleteLabelValues(scope.Name, secret.Namespace)
	}
	if controllerutil.RemoveFinalizer(secret, SecretFinalizer) {
		if err := r.Client.Update(ctx, secret); err != nil {
			return client.IgnoreNotFound(err)
		}
	}
	if secret.DeletionTimestamp.IsZero() {
		if err := r.Client.Delete(ctx, secret); client.IgnoreNotFound(err) != nil {
			return err
		}
		r.Recorder.Eventf(secret, nil, corev1.EventTypeNormal, "CredentialsRevoked", "RevokeToken", "no claims left under DNSScope %s; tokens revoked and Secret deleted", secret.Labels[LabelScope])
	}
	return nil
}

// revoke deletes a token at the provider; a token already gone counts as revoked.
func (r *CredentialsReconciler) revoke(ctx context.Context, p provider.Provider, scope *v1alpha1.DNSScope, secret *corev1.Secret, id string) error {
	err := p.RevokeToken(ctx, id)
	if err == nil || provider.IsNotFound(err) {
		r.Recorder.Eventf(secret, nil, corev1.EventTypeNormal, "TokenRevoked", "RevokeToken", "token %s revoked", id)
		return nil
	}
	revocationFailures.WithLabelValues(scope.Name).Inc()
	r.Recorder.Eventf(secret, nil, corev1.EventTypeWarning, v1alpha1.ReasonRevocationPending, "RevokeToken", "revoking token %s failed, will retry: %v", id, err)
	return fmt.Errorf("revoking token %s: %w", id, err)
}

// tokensHeld counts the tokens the credentials Secrets of this cluster name.
// It runs before every mint, over every credentials Secret, so it reads the
// cache without deep copies (nothing here is modified). Workers minting at
// the same moment each see the same count, so the quota can be passed by up
// to MaxConcurrentReconciles-1 tokens; it is a guard well below Cloudflare's
// own limit, not an exact one.
func (r *CredentialsReconciler) tokensHeld(ctx context.Context) (int, error) {
	var list corev1.SecretList
	if err := r.Client.List(ctx, &list, client.MatchingLabels{LabelManagedBy: ManagedBy}, client.UnsafeDisableDeepCopy); err != nil {
		return 0, err
	}
	held := 0
	for _, s := range list.Items {
		for _, k := range []string{AnnTokenID, AnnPreviousTokenID} {
			if s.Annotations[k] != "" {
				held++
			}
		}
	}
	return held, nil
}

func hasTokens(s *corev1.Secret) bool {
	return s.Annotations[AnnTokenID] != "" || s.Annotations[AnnPreviousTokenID] != "" || s.Annotations[AnnMinting] != ""
}

// nextRotation is the next rotation time after now on the schedule, spread
// per namespace.
func nextRotation(sched rotation.Schedule, key string, now time.Time) time.Time {
	return sched.Next(now).Add(spread(key, sched.LongestPeriod(now)))
}

// syncTSIG keeps the Secret's TSIG key in line with the scope: present when
// rfc2136 is enabled (rotated on the schedule when no provider token sets the
// pace), the previous secret dropped after the overlap, gone when disabled.
func (r *CredentialsReconciler) syncTSIG(ctx context.Context, scope *v1alpha1.DNSScope, secret *corev1.Secret, rotateNow bool) error {
	creds := &scope.Spec.Credentials
	now := r.now()
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	if !creds.RFC2136Enabled() {
		if dropTSIG(secret) {
			return r.Client.Update(ctx, secret)
		}
		return nil
	}
	created := len(secret.Data[KeyTSIGSecret]) == 0
	changed, err := ensureTSIG(secret, r.Nameserver)
	if err != nil {
		return err
	}
	if !creds.ProviderTokenEnabled() && (rotateNow || secret.Annotations[AnnNextRotation] == "") {
		sched, err := rotation.Parse(creds.RotationSchedule())
		if err != nil {
			return fmt.Errorf("spec.credentials.rotation.schedule: %w", err)
		}
		if rotateNow {
			if err := rotateTSIG(secret, now, creds.RotationOverlap()); err != nil {
				return err
			}
			rotations.WithLabelValues(scope.Name, "ok").Inc()
		}
		secret.Annotations[AnnNextRotation] = formatTime(nextRotation(sched, secret.Namespace+"/"+scope.Name, now))
		changed = true
	}
	if expirePreviousTSIG(secret, now) {
		changed = true
	}
	if !changed {
		return nil
	}
	if err := r.Client.Update(ctx, secret); err != nil {
		return err
	}
	switch {
	case created:
		r.Recorder.Eventf(secret, nil, corev1.EventTypeNormal, "TSIGKeyIssued", "IssueTSIGKey", "TSIG key %s issued for the RFC 2136 gateway", TSIGKeyName(secret.Namespace, scope.Name))
	case rotateNow:
		r.Recorder.Eventf(secret, nil, corev1.EventTypeNormal, "TSIGKeyRotated", "RotateTSIGKey", "TSIG key %s rotated; the previous secret works until %s", TSIGKeyName(secret.Namespace, scope.Name), secret.Annotations[AnnPreviousTSIGUntil])
	}
	return nil
}

// dropToken revokes and forgets the provider token of a scope that no
// longer hands out provider tokens.
func (r *CredentialsReconciler) dropToken(ctx context.Context, p provider.Provider, scope *v1alpha1.DNSScope, secret *corev1.Secret) error {
	for _, k := range []string{AnnTokenID, AnnPreviousTokenID} {
		if id := secret.Annotations[k]; id != "" {
			if err := r.revoke(ctx, p, scope, secret, id); err != nil {
				return err
			}
		}
	}
	if _, had := secret.Data[KeyAPIToken]; !had && secret.Annotations[AnnTokenID] == "" {
		return nil
	}
	delete(secret.Data, KeyAPIToken)
	for _, k := range []string{AnnTokenID, AnnTokenName, AnnTokenExpires, AnnTokenZones, AnnPreviousTokenID, AnnPreviousRevokeAt} {
		delete(secret.Annotations, k)
	}
	return r.Client.Update(ctx, secret)
}

// spread delays a namespace's rotation by a stable fraction of a twentieth
// of the period (at most an hour), so a cron schedule does not rotate a
// thousand namespaces in the same second and burst past the rate limit.
func spread(key string, period time.Duration) time.Duration {
	window := period / 20
	if window > time.Hour {
		window = time.Hour
	}
	if window <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return time.Duration(h.Sum64() % uint64(window))
}

// nextWake is when the Secret next needs attention: the rotation or the end
// of the overlap, whichever comes first. Never negative, never a tight loop.
func nextWake(ann map[string]string, now time.Time) time.Duration {
	next := parseTime(ann[AnnNextRotation])
	for _, k := range []string{AnnPreviousRevokeAt, AnnPreviousTSIGUntil} {
		if at := parseTime(ann[k]); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	if next.IsZero() {
		return time.Hour
	}
	d := next.Sub(now)
	if d < time.Second {
		d = time.Second
	}
	return d
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
