package controllers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/rotation"
)

// Errors that finish turns into conditions rather than only a retry.
var (
	errQuota          = errors.New("provider token quota reached")
	errRevocation     = errors.New("revocation pending")
	errSecretNotOwned = errors.New("a Secret of that name was not created by scopedns")
	// errSecretNameConflict: another scope's credentials for the namespace
	// hold the Secret name (secretNameWinner).
	errSecretNameConflict = errors.New("another DNSScope's credentials hold that Secret name")
	errScopeGone          = errors.New("the DNSScope is gone")
)

// ensure makes the DNSCredential hold a working token for exactly zoneIDs,
// rotates it when due, revokes the previous one after the overlap, and
// delivers the values in the tenant Secret. created says this reconcile
// created the DNSCredential, so it has no vault yet.
func (r *CredentialsReconciler) ensure(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, zoneIDs []string, created bool) (ctrl.Result, error) {
	if err := requireReady(scope); err != nil {
		log.FromContext(ctx).V(1).Info("waiting for the scope to be Ready")
		return ctrl.Result{RequeueAfter: 30 * time.Second}, nil //nolint:nilerr // the scope watch requeues sooner
	}
	// Nothing is minted for a Secret name someone else holds: the values
	// could never be delivered. Another scope's credential first, so the
	// loser says who holds the name rather than that someone does.
	if holder, err := r.secretNameHolder(ctx, scope, cred); err != nil {
		return ctrl.Result{}, err
	} else if holder != nil {
		return ctrl.Result{}, r.yieldSecretName(ctx, scope, cred, holder)
	}
	v, err := r.vault(ctx, cred, created)
	if err != nil {
		return ctrl.Result{}, err
	}
	// A missing tenant Secret is created by deliver, with a nonce on record
	// in the vault before it (createTenantSecret); drawn now, it rides on
	// whatever vault write comes first.
	// A Secret of that name the operator did not create holds back only
	// what would be delivered into it (a new token, a rotation, the Secret
	// itself). The upkeep goes on: a narrowed scope narrows the token, an
	// overlap that ended revokes the previous one, the vault keeps the TSIG
	// generation the status names. A tenant that plants a Secret must not
	// keep a wider token for it.
	tenant, fresh, notOwned := r.readDelivery(ctx, scope, cred, v)
	if notOwned != nil && !errors.Is(notOwned, errSecretNotOwned) {
		return ctrl.Result{}, notOwned
	}
	deliverable := notOwned == nil
	p, err := r.Providers.For(ctx, scope)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.abandonInterruptedMint(ctx, p, cred); err != nil {
		return ctrl.Result{}, err
	}
	// A previous token whose overlap ended goes first, so a rotation that
	// is also due is not held back a pass by it.
	if err := r.revokePreviousIfDue(ctx, p, scope, cred); err != nil {
		return ctrl.Result{}, err
	}
	now := r.now()
	creds := &scope.Spec.Credentials
	st := &cred.Status
	due := st.NextRotation != nil && !st.NextRotation.After(now)
	// Token minting, its quota and its rotation are for providers that mint
	// tokens; admission refuses providerToken on the others (RFC 2136), and
	// this holds for an object that got past it.
	tokens := creds.ProviderTokenEnabled() && provider.MintsTokens(p)
	// A token refused for the quota holds back nothing else: the TSIG key
	// and the front-door logins are delivered, and the refusal is returned
	// at the end for the conditions.
	var quotaErr error
	if tokens {
		switch {
		case st.Token == nil || len(v.Data[tokenKey(st.Token.ID)]) == 0:
			if err := r.forgetUndeliverable(ctx, p, cred); err != nil {
				return ctrl.Result{}, err
			}
			if !deliverable {
				break
			}
			err := r.mint(ctx, p, scope, cred, v, zoneIDs, false)
			if quotaErr = quotaOnly(err); err != nil && quotaErr == nil {
				return ctrl.Result{}, err
			}
		case !slices.Equal(st.Token.ZoneIDs, zoneIDs):
			if err := r.updateZones(ctx, p, cred, zoneIDs); err != nil {
				return ctrl.Result{}, err
			}
		case due && deliverable:
			err := r.rotate(ctx, p, scope, cred, v, zoneIDs)
			if quotaErr = quotaOnly(err); err != nil && quotaErr == nil {
				return ctrl.Result{}, err
			}
		}
	} else if err := r.dropToken(ctx, p, scope, cred); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.syncTSIG(ctx, scope, cred, v, due && !tokens && deliverable); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.revokePreviousIfDue(ctx, p, scope, cred); err != nil { // e.g. a zero overlap
		return ctrl.Result{}, err
	}
	if err := r.pruneVault(ctx, cred, v); err != nil {
		return ctrl.Result{}, err
	}
	if st.Token != nil && st.Token.ExpiresAt != nil {
		credentialExpiry.WithLabelValues(scope.Name, cred.Spec.Namespace).Set(float64(st.Token.ExpiresAt.Unix()))
	}
	if !deliverable {
		return ctrl.Result{}, notOwned
	}
	if err := r.deliver(ctx, scope, cred, v, tenant, fresh); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: nextWake(st, r.now())}, quotaErr
}

// quotaOnly returns err if it is a quota refusal, else nil.
func quotaOnly(err error) error {
	if errors.Is(err, errQuota) {
		return err
	}
	return nil
}

// saveStatus writes the DNSCredential's status. The write carries the
// resourceVersion read, so two writers never both win. It is for what must
// be on record before the step that follows (a token about to be minted, a
// Secret about to be created); everything else is written once, by finish.
func (r *CredentialsReconciler) saveStatus(ctx context.Context, cred *v1alpha1.DNSCredential) error {
	summarize(&cred.Status)
	if err := r.Client.Status().Update(ctx, cred); err != nil {
		return fmt.Errorf("writing the status of DNSCredential %s: %w", cred.Name, err)
	}
	if saved, ok := ctx.Value(savedStatusKey{}).(*v1alpha1.DNSCredentialStatus); ok {
		cred.Status.DeepCopyInto(saved)
	}
	return nil
}

// savedStatusKey holds, in a reconcile's context, the DNSCredential status
// as last read from or written to the API server, so that finish writes
// whatever the reconcile changed since, even when the conditions it sets
// are the same as before.
type savedStatusKey struct{}

// withSavedStatus starts tracking cred's status as the API server holds it.
func withSavedStatus(ctx context.Context, cred *v1alpha1.DNSCredential) context.Context {
	saved := cred.Status.DeepCopy()
	if prev, ok := ctx.Value(savedStatusKey{}).(*v1alpha1.DNSCredentialStatus); ok {
		*prev = *saved
		return ctx
	}
	return context.WithValue(ctx, savedStatusKey{}, saved)
}

// finish records the outcome in the conditions and writes the status once
// more. err is returned (joined with a failed write) so the retry still happens.
func (r *CredentialsReconciler) finish(ctx context.Context, cred *v1alpha1.DNSCredential, err error) error {
	if serr := r.record(ctx, cred, err); serr != nil {
		return errors.Join(err, serr)
	}
	return err
}

// record sets the conditions for err and writes the status if they
// changed; it returns only a failed write.
func (r *CredentialsReconciler) record(ctx context.Context, cred *v1alpha1.DNSCredential, err error) error {
	if cred == nil || !cred.DeletionTimestamp.IsZero() || cred.ResourceVersion == "" {
		return nil
	}
	before, ok := ctx.Value(savedStatusKey{}).(*v1alpha1.DNSCredentialStatus)
	if !ok {
		before = cred.Status.DeepCopy()
	}
	setCredentialConditions(cred, err, r.now())
	if err == nil {
		cred.Status.ObservedGeneration = cred.Generation
	}
	summarize(&cred.Status) // as saveStatus would: the summary is no change of its own
	if equalStatus(before, &cred.Status) {
		return nil
	}
	if serr := r.saveStatus(ctx, cred); serr != nil && !errors.Is(serr, errDeleted) {
		return client.IgnoreNotFound(serr)
	}
	return nil
}

var errDeleted = errors.New("deleted")

// equalStatus compares two statuses whole, the conditions without their
// transition times: everything a reconcile leaves for finish to write (a
// new key, a rotation time, a Secret's UID) must count as a change.
func equalStatus(a, b *v1alpha1.DNSCredentialStatus) bool {
	x, y := *a, *b
	x.Conditions, y.Conditions = nil, nil
	return conditionsEqual(a.Conditions, b.Conditions) && equality.Semantic.DeepEqual(x, y)
}

func conditionsEqual(a, b []metav1.Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message || x.ObservedGeneration != y.ObservedGeneration {
			return false
		}
	}
	return true
}

// setCredentialConditions is the one place the outcome of a reconcile
// becomes the DNSCredential's conditions, kinds and zone count.
func setCredentialConditions(cred *v1alpha1.DNSCredential, err error, now time.Time) {
	st := &cred.Status
	gen := cred.Generation
	summarize(st)

	quota := errors.Is(err, errQuota)
	msg := "within the provider's token quota"
	if quota {
		msg = err.Error()
	}
	setCondition(&st.Conditions, gen, v1alpha1.ConditionQuotaExceeded, quota, map[bool]string{true: v1alpha1.ReasonQuotaExceeded, false: v1alpha1.ReasonWithinQuota}[quota], msg)

	pending := errors.Is(err, errRevocation) || errors.Is(err, errScopeGone) ||
		st.PreviousToken != nil && st.PreviousToken.RevokeAt != nil && !st.PreviousToken.RevokeAt.After(now)
	msg = "no token waits for revocation"
	switch {
	case err != nil && pending:
		msg = err.Error()
	case pending:
		msg = fmt.Sprintf("token %s is past its revocation time", st.PreviousToken.ID)
	}
	setCondition(&st.Conditions, gen, v1alpha1.ConditionRevocationPending, pending, map[bool]string{true: v1alpha1.ReasonRevocationPending, false: v1alpha1.ReasonRevoked}[pending], msg)

	reason, ok, msg := v1alpha1.ReasonReconciled, true, "credentials delivered in Secret "+st.SecretName
	switch {
	case errors.Is(err, errSecretNotOwned):
		reason, ok, msg = v1alpha1.ReasonSecretNotOwned, false, err.Error()
	case errors.Is(err, errSecretNameConflict):
		reason, ok, msg = v1alpha1.ReasonSecretNameConflict, false, err.Error()
	case errors.Is(err, errTokenNotOwned):
		reason, ok, msg = v1alpha1.ReasonTokenNotOwned, false, err.Error()
	case errors.Is(err, errScopeGone):
		reason, ok, msg = v1alpha1.ReasonScopeGone, false, err.Error()
	case quota:
		reason, ok, msg = v1alpha1.ReasonQuotaExceeded, false, err.Error()
	case errors.Is(err, errNotReady):
		reason, ok, msg = v1alpha1.ReasonProgressing, false, err.Error()
	case err != nil:
		reason, ok, msg = v1alpha1.ReasonProviderError, false, err.Error()
	case st.SecretUID == "":
		reason, ok, msg = v1alpha1.ReasonProgressing, false, "credentials are not delivered yet"
	}
	setCondition(&st.Conditions, gen, v1alpha1.ConditionReady, ok, reason, msg)
}

// summarize fills the printer columns' fields from what the status holds.
func summarize(st *v1alpha1.DNSCredentialStatus) {
	var kinds []string
	st.Zones = 0
	if st.Token != nil {
		kinds = append(kinds, "token")
		st.Zones = int32(len(st.Token.ZoneIDs)) //nolint:gosec // at most 50 zones
	}
	if st.TSIG != nil {
		kinds = append(kinds, "tsig")
	}
	st.Kinds = strings.Join(kinds, ",")
}

// abandonInterruptedMint revokes a token whose mint was announced but whose
// value never reached the vault and the status: nobody can use it, so it
// must not live.
func (r *CredentialsReconciler) abandonInterruptedMint(ctx context.Context, p provider.Provider, cred *v1alpha1.DNSCredential) error {
	name := cred.Status.Minting
	if name == "" {
		return nil
	}
	tokens, err := p.Tokens(ctx, name)
	if err != nil {
		return fmt.Errorf("looking for the interrupted mint %s: %w", name, err)
	}
	for _, t := range tokens {
		if t.Name != name || cred.Status.Token != nil && t.ID == cred.Status.Token.ID {
			continue
		}
		if err := p.RevokeToken(ctx, t.ID); err != nil && !provider.IsNotFound(err) {
			return fmt.Errorf("revoking token %s of an interrupted mint: %w", t.ID, err)
		}
		log.FromContext(ctx).Info("revoked the token of an interrupted mint", "tokenID", t.ID)
	}
	cred.Status.Minting = ""
	return r.saveStatus(ctx, cred)
}

// forgetUndeliverable revokes a current token whose value the vault lost
// (deleted by hand): nobody can be given it again, so it only costs quota.
func (r *CredentialsReconciler) forgetUndeliverable(ctx context.Context, p provider.Provider, cred *v1alpha1.DNSCredential) error {
	t := cred.Status.Token
	if t == nil {
		return nil
	}
	if err := r.revokeHeld(ctx, p, cred, t); err != nil && !errors.Is(err, errTokenNotOwned) {
		return err
	}
	cred.Status.Token = nil
	return r.saveStatus(ctx, cred)
}

// mint creates a token for zoneIDs and records it. With rotating set, the
// current token becomes the previous one, revoked after the overlap.
// The quota is checked first (reserveMint).
func (r *CredentialsReconciler) mint(ctx context.Context, p provider.Provider, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, v *corev1.Secret, zoneIDs []string, rotating bool) error {
	creds := &scope.Spec.Credentials
	sched, err := rotation.Parse(creds.RotationSchedule())
	if err != nil {
		return fmt.Errorf("spec.credentials.rotation.schedule: %w", err)
	}
	now := r.now()
	ns := cred.Spec.Namespace
	name := provider.TokenName(r.ClusterName, scope.Name, ns, strconv.FormatInt(now.UnixNano(), 36))

	// Intent first: if the process dies after the provider minted the token
	// and before the status holds it, the next reconcile revokes it by name.
	held, err := r.reserveMint(ctx, scope, cred, mintAction(rotating), name)
	if err != nil {
		return err
	}
	expires := now.Add(creds.TokenLifetime())
	minted, err := p.MintToken(ctx, provider.TokenSpec{Name: name, ZoneIDs: zoneIDs, AllowedCIDRs: creds.AllowedCIDRs, ExpiresOn: expires})
	if err != nil {
		_, limited := provider.IsRateLimited(err)
		quota := provider.IsQuotaExceeded(err)
		if quota {
			// Remembered before the intent is dropped below, whose event
			// wakes waiters: they are refused here, not by the provider.
			r.quota.providerRefused(held, now.Add(r.quotaRetryInterval()))
		}
		if limited || quota {
			// A rate-limited mint never reached the provider (throttled here,
			// or a 429, which Cloudflare answers before acting), and one
			// refused for the quota created nothing: drop the intent, or the
			// next reconcile lists every token to look for it.
			cred.Status.Minting = ""
			if uerr := r.saveStatus(ctx, cred); uerr != nil {
				err = errors.Join(err, uerr)
			}
		}
		if quota {
			return r.refuseForQuota(cred, scope, mintAction(rotating), held,
				fmt.Sprintf("the provider refused it for its own token quota, with %d provider tokens held by this cluster (--token-quota %d is above the provider's): %v", held, r.TokenQuota, err))
		}
		return fmt.Errorf("minting a token for namespace %s: %w", ns, err)
	}
	// The value goes to the vault, keyed by token ID, before the status
	// names the token: a crash in between leaves the intent (so the token is
	// revoked) and a value pruneVault drops.
	v.Data[tokenKey(minted.ID)] = []byte(minted.Value.Reveal())
	if err := r.saveVault(ctx, v); err != nil {
		return err
	}
	st := &cred.Status
	if rotating && st.Token != nil {
		prev := *st.Token
		prev.RevokeAt = &metav1.Time{Time: now.Add(creds.RotationOverlap())}
		st.PreviousToken = &prev
	}
	next := nextRotation(sched, ns+"/"+scope.Name, now)
	if latest := expires.Add(-creds.RotationOverlap()); next.After(latest) {
		next = latest // never let a token expire before its successor is in place
	}
	if rotating && creds.RFC2136Enabled() && st.TSIG != nil {
		rotateTSIG(st.TSIG, now, creds.RotationOverlap())
	}
	st.Token = &v1alpha1.HeldToken{ID: minted.ID, Name: name, ZoneIDs: slices.Clone(zoneIDs), ExpiresAt: &metav1.Time{Time: expires}}
	st.NextRotation = &metav1.Time{Time: next}
	st.Minting = ""
	if err := r.saveStatus(ctx, cred); err != nil {
		return fmt.Errorf("recording the new token of DNSCredential %s: %w", cred.Name, err)
	}
	action := "Minted"
	if rotating {
		action = "Rotated"
		rotations.WithLabelValues(scope.Name, "ok").Inc()
	}
	r.Recorder.Eventf(cred, nil, corev1.EventTypeNormal, "Token"+action, "MintToken",
		"token %s for %d zones, expires %s, next rotation %s", minted.ID, len(zoneIDs), formatTime(expires), formatTime(next))
	return nil
}

// updateZones narrows or widens the current token in place: same value,
// new zones. The token is read first and re-scoped only if it is this
// namespace's.
func (r *CredentialsReconciler) updateZones(ctx context.Context, p provider.Provider, cred *v1alpha1.DNSCredential, zoneIDs []string) error {
	t := cred.Status.Token
	if err := r.checkOwned(ctx, p, cred, t, "UpdateToken"); err != nil {
		if errors.Is(err, errTokenNotOwned) {
			cred.Status.Token = nil // not ours to hold; the next reconcile mints one that is
			return errors.Join(err, r.saveStatus(ctx, cred))
		}
		return err
	}
	if _, err := p.UpdateTokenZones(ctx, t.ID, zoneIDs); err != nil {
		return fmt.Errorf("updating the zones of token %s: %w", t.ID, err)
	}
	t.ZoneIDs = slices.Clone(zoneIDs)
	if err := r.saveStatus(ctx, cred); err != nil {
		return err
	}
	r.Recorder.Eventf(cred, nil, corev1.EventTypeNormal, "TokenZonesChanged", "UpdateToken", "token %s now covers %d zones", t.ID, len(zoneIDs))
	return nil
}

// rotate mints the successor, unless that would cross the provider's token
// quota or a previous token is still waiting for revocation.
func (r *CredentialsReconciler) rotate(ctx context.Context, p provider.Provider, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, v *corev1.Secret, zoneIDs []string) error {
	if cred.Status.PreviousToken != nil {
		return nil // finish the last rotation first; revokePreviousIfDue runs next
	}
	err := r.mint(ctx, p, scope, cred, v, zoneIDs, true)
	if errors.Is(err, errQuota) {
		rotations.WithLabelValues(scope.Name, "quota").Inc()
	}
	return err
}

func mintAction(rotating bool) string {
	if rotating {
		return "RotateToken"
	}
	return "MintToken"
}

// checkQuota refuses a mint that would take this cluster past the provider's
// token quota, and warns from 80 % on. Rotation overlap doubles a namespace's
// need for a while, so the count includes tokens waiting for revocation. The
// quota is --token-quota, or lower while the provider's own refusal is
// remembered; either way a refusal costs no provider request. It returns the
// count of tokens held.
func (r *CredentialsReconciler) checkQuota(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, action string) (int, error) {
	held, err := r.tokensHeld(ctx)
	if err != nil {
		return 0, err
	}
	providerTokensHeld.WithLabelValues(r.ClusterName).Set(float64(held))
	limit := r.quota.limit(r.TokenQuota, r.now())
	if held+1 > limit {
		why := fmt.Sprintf("%d provider tokens held, quota %d", held, r.TokenQuota)
		if limit < r.TokenQuota {
			why = fmt.Sprintf("%d provider tokens held, and the provider refused the last mint at %d (--token-quota %d)", held, limit, r.TokenQuota)
		}
		return held, r.refuseForQuota(cred, scope, action, held, why)
	}
	if held+1 >= r.TokenQuota*8/10 {
		r.Recorder.Eventf(cred, nil, corev1.EventTypeWarning, "QuotaNearlyExhausted", action,
			"this cluster holds %d of %d provider tokens", held+1, r.TokenQuota)
	}
	return held, nil
}

// reserveMint checks the quota and records the intent to mint name, as one
// step for all workers: the count it checks must include every mint another
// worker reserved, so the intent is written and seen in the cache before
// the next worker counts. That costs one status write's latency per mint,
// while the provider paces token writes far slower. It returns the count of
// tokens held before this mint.
func (r *CredentialsReconciler) reserveMint(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, action, name string) (int, error) {
	r.quota.mint.Lock()
	defer r.quota.mint.Unlock()
	held, err := r.checkQuota(ctx, scope, cred, action)
	if err != nil {
		return held, err
	}
	cred.Status.Minting = name
	if err := r.saveStatus(ctx, cred); err != nil {
		return held, err
	}
	r.awaitCached(ctx, cred)
	return held, nil
}

// awaitCached waits, briefly, until the cache holds cred as written. Past the
// wait the count may miss this mint (a cache that far behind is rare), and
// the provider's own quota is the backstop.
func (r *CredentialsReconciler) awaitCached(ctx context.Context, cred *v1alpha1.DNSCredential) {
	err := wait.PollUntilContextTimeout(ctx, 2*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		var cached v1alpha1.DNSCredential
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(cred), &cached); err != nil {
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err) // deleted meanwhile: nothing to wait for
		}
		return cached.ResourceVersion == cred.ResourceVersion, nil
	})
	if err != nil {
		log.FromContext(ctx).Info("the cache did not show the mint intent in time; the quota count may miss it", "error", err.Error())
	}
}

// refuseForQuota is the event and the error of a token refused for the
// quota; the error becomes the QuotaExceeded condition.
func (r *CredentialsReconciler) refuseForQuota(cred *v1alpha1.DNSCredential, scope *v1alpha1.DNSScope, action string, held int, why string) error {
	r.Recorder.Eventf(cred, nil, corev1.EventTypeWarning, v1alpha1.ReasonQuotaExceeded, action,
		"no token minted: this cluster holds %d provider tokens and the quota is %d (--token-quota); the TSIG key and front-door logins need none and are delivered", held, r.quota.limit(r.TokenQuota, r.now()))
	return fmt.Errorf("%w: %s for %s/%s postponed: %s", errQuota, action, cred.Spec.Namespace, scope.Name, why)
}

// revokePreviousIfDue revokes the rotated-out token once its overlap ends.
func (r *CredentialsReconciler) revokePreviousIfDue(ctx context.Context, p provider.Provider, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential) error {
	prev := cred.Status.PreviousToken
	if prev == nil || prev.RevokeAt != nil && prev.RevokeAt.After(r.now()) {
		return nil
	}
	if err := r.revoke(ctx, p, scope, cred, prev); err != nil {
		return err
	}
	cred.Status.PreviousToken = nil
	return r.saveStatus(ctx, cred)
}

// retire revokes every token of the DNSCredential and deletes it, its vault
// and the tenant Secret it created.
func (r *CredentialsReconciler) retire(ctx context.Context, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential) error {
	st := &cred.Status
	if st.Token != nil || st.PreviousToken != nil || st.Minting != "" {
		if scope == nil {
			// Without the scope there is no credential to revoke with; the
			// DNSCredential keeps the IDs visible until an admin restores the
			// scope (or revokes them by hand and deletes it).
			return fmt.Errorf("%w: cannot revoke the tokens of DNSCredential %s until DNSScope %s is restored", errScopeGone, cred.Name, cred.Spec.ScopeName)
		}
		p, err := r.Providers.For(ctx, scope)
		if err != nil {
			return err
		}
		if err := r.abandonInterruptedMint(ctx, p, cred); err != nil {
			return err
		}
		for _, slot := range []**v1alpha1.HeldToken{&st.PreviousToken, &st.Token} {
			if *slot == nil {
				continue
			}
			if err := r.revoke(ctx, p, scope, cred, *slot); err != nil {
				return err
			}
			*slot = nil
			if err := r.saveStatus(ctx, cred); err != nil {
				return err
			}
		}
	}
	credentialExpiry.DeleteLabelValues(cred.Spec.ScopeName, cred.Spec.Namespace)
	if err := r.deleteTenantSecret(ctx, cred, nil); err != nil {
		return err
	}
	if err := r.Client.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.Namespace, Name: vaultName(cred)}}); client.IgnoreNotFound(err) != nil {
		return err
	}
	if err := r.Client.Delete(ctx, cred, client.Preconditions{UID: &cred.UID}); client.IgnoreNotFound(err) != nil {
		return err
	}
	cred.DeletionTimestamp = &metav1.Time{Time: r.now()} // finish writes nothing more
	r.Recorder.Eventf(cred, nil, corev1.EventTypeNormal, "CredentialsRevoked", "RevokeToken",
		"no claims left in namespace %s under DNSScope %s; tokens revoked and Secret deleted", cred.Spec.Namespace, cred.Spec.ScopeName)
	return nil
}

var errTokenNotOwned = errors.New("token is not this namespace's")

// checkOwned reads a token at the provider and reports errTokenNotOwned
// unless its name is the one recorded and belongs to this cluster, scope
// and namespace. A token already gone gives a NotFound error.
func (r *CredentialsReconciler) checkOwned(ctx context.Context, p provider.Provider, cred *v1alpha1.DNSCredential, t *v1alpha1.HeldToken, action string) error {
	got, err := p.Token(ctx, t.ID)
	if err != nil {
		if provider.IsNotFound(err) {
			return err
		}
		return fmt.Errorf("reading token %s before acting on it: %w", t.ID, err)
	}
	if got.Name == t.Name && provider.TokenBelongsTo(got.Name, r.ClusterName, cred.Spec.ScopeName, cred.Spec.Namespace) {
		return nil
	}
	r.Recorder.Eventf(cred, nil, corev1.EventTypeWarning, v1alpha1.ReasonTokenNotOwned, action,
		"token %s is named %q at the provider, not a token of cluster %s for namespace %s under DNSScope %s; it is left alone",
		t.ID, got.Name, r.ClusterName, cred.Spec.Namespace, cred.Spec.ScopeName)
	return fmt.Errorf("%w: token %s is named %q at the provider", errTokenNotOwned, t.ID, got.Name)
}

// revokeHeld revokes a held token after checking it is ours; a token
// already gone counts as revoked.
func (r *CredentialsReconciler) revokeHeld(ctx context.Context, p provider.Provider, cred *v1alpha1.DNSCredential, t *v1alpha1.HeldToken) error {
	if err := r.checkOwned(ctx, p, cred, t, "RevokeToken"); err != nil {
		if provider.IsNotFound(err) {
			return nil
		}
		return err
	}
	if err := p.RevokeToken(ctx, t.ID); err != nil && !provider.IsNotFound(err) {
		return err
	}
	return nil
}

// revoke revokes a held token, with the events and metrics of a failure. A
// token that is not ours is forgotten, not revoked: the event says so.
func (r *CredentialsReconciler) revoke(ctx context.Context, p provider.Provider, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential, t *v1alpha1.HeldToken) error {
	err := r.revokeHeld(ctx, p, cred, t)
	switch {
	case err == nil:
		r.Recorder.Eventf(cred, nil, corev1.EventTypeNormal, "TokenRevoked", "RevokeToken", "token %s revoked", t.ID)
		return nil
	case errors.Is(err, errTokenNotOwned):
		return nil
	}
	revocationFailures.WithLabelValues(scope.Name).Inc()
	r.Recorder.Eventf(cred, nil, corev1.EventTypeWarning, v1alpha1.ReasonRevocationPending, "RevokeToken", "revoking token %s failed, will retry: %v", t.ID, err)
	return fmt.Errorf("%w: revoking token %s: %w", errRevocation, t.ID, err)
}

// tokensHeld counts the tokens this cluster's DNSCredentials hold: current,
// previous and in-flight mints. Tenant Secrets are never counted: anyone
// who writes Secrets could move the quota. It runs before every mint, so it
// reads the cache, without deep copies, through HeldTokensIndex: only the
// DNSCredentials that hold a token, at most about the quota, however many
// tokenless ones there are. Mints are counted exactly across workers
// (reserveMint); tokens this cluster cannot see (another cluster on the
// account) are the provider's to refuse, which lands as QuotaExceeded too.
func (r *CredentialsReconciler) tokensHeld(ctx context.Context) (int, error) {
	var list v1alpha1.DNSCredentialList
	if err := r.Client.List(ctx, &list, client.MatchingFields{HeldTokensIndex: "true"}, client.UnsafeDisableDeepCopy); err != nil {
		return 0, err
	}
	held := 0
	for i := range list.Items {
		held += heldCount(&list.Items[i].Status)
	}
	return held, nil
}

// heldCount is how many provider tokens one DNSCredential stands for.
func heldCount(st *v1alpha1.DNSCredentialStatus) int {
	n := 0
	if st.Token != nil {
		n++
	}
	if st.PreviousToken != nil {
		n++
	}
	if st.Minting != "" {
		n++
	}
	return n
}

// nextRotation is the next rotation time after now on the schedule, spread
// per namespace.
func nextRotation(sched rotation.Schedule, key string, now time.Time) time.Time {
	return sched.Next(now).Add(spread(key, sched.LongestPeriod(now)))
}

// dropToken revokes and forgets the provider tokens of a scope that no
// longer hands out provider tokens.
func (r *CredentialsReconciler) dropToken(ctx context.Context, p provider.Provider, scope *v1alpha1.DNSScope, cred *v1alpha1.DNSCredential) error {
	st := &cred.Status
	if st.Token == nil && st.PreviousToken == nil {
		return nil
	}
	for _, slot := range []**v1alpha1.HeldToken{&st.PreviousToken, &st.Token} {
		if *slot == nil {
			continue
		}
		if err := r.revoke(ctx, p, scope, cred, *slot); err != nil {
			return err
		}
		*slot = nil
	}
	if !scope.Spec.Credentials.RFC2136Enabled() {
		st.NextRotation = nil
	}
	return r.saveStatus(ctx, cred)
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

// nextWake is when the credential next needs attention: the rotation or the
// end of an overlap, whichever comes first. Never negative, never a tight loop.
func nextWake(st *v1alpha1.DNSCredentialStatus, now time.Time) time.Duration {
	var next time.Time
	consider := func(t *metav1.Time) {
		if t != nil && !t.IsZero() && (next.IsZero() || t.Before(&metav1.Time{Time: next})) {
			next = t.Time
		}
	}
	consider(st.NextRotation)
	if st.PreviousToken != nil {
		consider(st.PreviousToken.RevokeAt)
	}
	if st.TSIG != nil {
		consider(st.TSIG.PreviousValidUntil)
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
