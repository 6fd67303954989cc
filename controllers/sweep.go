package controllers

import (
	"context"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/provider"
)

// TokenSweeper revokes tokens of this cluster that no DNSCredential
// references: the backstop for every crash the minting intent does not
// cover (a DNSCredential deleted by hand). Only DNSCredentials count: a
// tenant can write any Secret, and a token ID copied into one must not keep
// a token alive. It runs on the leader only.
type TokenSweeper struct {
	Client      client.Client
	Providers   ProviderSource
	ClusterName string
	// Interval between sweeps (default 10m); MinAge protects tokens minted
	// moments ago whose Secret write is still in flight (default 5m).
	Interval time.Duration
	MinAge   time.Duration
	Now      func() time.Time
	// Marks says which zones are this installation's. An account where
	// another installation of the cluster name marked a zone is not swept:
	// that installation's tokens carry the same name prefix, and no
	// DNSCredential here references them.
	Marks *ZoneMarks
}

// Start sweeps until ctx ends; it implements manager.Runnable.
func (s *TokenSweeper) Start(ctx context.Context) error {
	if s.Interval == 0 {
		s.Interval = 10 * time.Minute
	}
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		if _, err := s.Sweep(ctx); err != nil {
			log.FromContext(ctx).Error(err, "token sweep failed; retrying next interval")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sweep revokes unreferenced tokens once and returns how many it revoked.
func (s *TokenSweeper) Sweep(ctx context.Context) (int, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	referenced, err := s.referenced(ctx, now)
	if err != nil {
		return 0, err
	}
	var scopes v1alpha1.DNSScopeList
	if err := s.Client.List(ctx, &scopes); err != nil {
		return 0, err
	}
	minAge := s.MinAge
	if minAge == 0 {
		minAge = 5 * time.Minute
	}
	revoked := 0
	seenAccounts := map[string]bool{}
	for i := range scopes.Items {
		scope := &scopes.Items[i]
		account := providerAccount(scope)
		if account == "" || !isReady(scope) || seenAccounts[account] {
			continue
		}
		seenAccounts[account] = true
		p, err := s.Providers.For(ctx, scope)
		if err != nil {
			return revoked, err
		}
		if !provider.MintsTokens(p) {
			continue // nothing to sweep where no token was ever minted
		}
		if err := s.checkAccount(ctx, p, account, scopes.Items); err != nil {
			log.FromContext(ctx).Error(err, "not sweeping the tokens of this account", "scope", scope.Name)
			continue
		}
		tokens, err := p.Tokens(ctx, provider.TokenNamePrefix(s.ClusterName))
		if err != nil {
			return revoked, err
		}
		for _, t := range tokens {
			if referenced[t.ID] || referenced[t.Name] || now.Sub(t.IssuedOn) < minAge {
				continue
			}
			if err := p.RevokeToken(ctx, t.ID); err != nil && !provider.IsNotFound(err) {
				revocationFailures.WithLabelValues(scope.Name).Inc()
				return revoked, err
			}
			revoked++
			tokensSwept.Inc()
			log.FromContext(ctx).Info("revoked a token no DNSCredential references", "tokenID", t.ID, "tokenName", t.Name)
		}
	}
	return revoked, nil
}

// referenced collects token IDs and in-flight mint names from every
// DNSCredential, and counts tokens held and revocations pending per scope
// for the metrics.
func (s *TokenSweeper) referenced(ctx context.Context, now time.Time) (map[string]bool, error) {
	var list v1alpha1.DNSCredentialList
	if err := s.Client.List(ctx, &list); err != nil {
		return nil, err
	}
	refs := map[string]bool{}
	held := map[string]float64{}
	pending := map[string]float64{}
	for i := range list.Items {
		st := &list.Items[i].Status
		scope := list.Items[i].Spec.ScopeName
		for _, t := range []*v1alpha1.HeldToken{st.Token, st.PreviousToken} {
			if t != nil {
				refs[t.ID] = true
				held[scope]++
			}
		}
		if st.Minting != "" {
			refs[st.Minting] = true
		}
		if p := st.PreviousToken; p != nil && (p.RevokeAt == nil || !p.RevokeAt.After(now)) {
			pending[scope]++
		}
	}
	tokensHeld.Reset()
	for sc, n := range held {
		tokensHeld.WithLabelValues(sc).Set(n)
	}
	revocationsPending.Reset()
	for sc, n := range pending {
		revocationsPending.WithLabelValues(sc).Set(n)
	}
	return refs, nil
}

// checkAccount checks every zone of the account's Ready scopes (ZoneMarks
// remembers the answers, so this costs provider calls once per interval).
func (s *TokenSweeper) checkAccount(ctx context.Context, p provider.Provider, account string, scopes []v1alpha1.DNSScope) error {
	for i := range scopes {
		sc := &scopes[i]
		if providerAccount(sc) != account || !isReady(sc) {
			continue
		}
		for _, z := range sc.Status.Zones {
			if z.ID == "" {
				continue
			}
			if err := s.Marks.Check(ctx, p, account, provider.Zone{ID: z.ID, Name: z.Name}); err != nil {
				return err
			}
		}
	}
	return nil
}
