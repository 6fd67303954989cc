package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
	"github.com/scopedns/scopedns/internal/provider/rfc2136"
)

// ProviderSource gives the provider client for a scope. Controllers own this
// interface; tests hand in one that counts calls or fails on purpose.
type ProviderSource interface {
	For(ctx context.Context, scope *v1alpha1.DNSScope) (provider.Provider, error)
}

// credentialError says the master credential cannot be read; the scope
// reports it with its own reason instead of a generic provider error.
type credentialError struct {
	reason string
	msg    string
}

func (e *credentialError) Error() string { return e.msg }

// SecretProviders builds provider clients from master credentials read only
// from the operator's namespace, and keeps one client per scope and
// credential so the client-side rate limiter and permission-group cache are
// shared by every reconcile.
type SecretProviders struct {
	Reader client.Reader
	// Live, when set, is asked when Reader (the cache) has no such Secret or
	// no such key: the watches that wake a scope for its Secret are metadata
	// only, and the typed cache Reader reads may not have caught up with
	// the event yet.
	Live      client.Reader
	Namespace string
	// Configure adjusts the Cloudflare options (tests lower retries, the demo
	// points at the simulator).
	Configure func(*cloudflare.Options)
	// ConfigureRFC2136 adjusts the RFC 2136 options (tests lower timeouts).
	ConfigureRFC2136 func(*rfc2136.Options)

	mu      sync.Mutex
	clients map[string]provider.Provider
}

// masterSecret is the Secret a scope's provider reads its master credential
// from, and the field that names it; false for a scope without a provider.
// It is the one place that knows where each provider keeps its credential:
// the scope controller's Secret watch and verification fingerprint ask it.
func masterSecret(scope *v1alpha1.DNSScope) (v1alpha1.SecretKeySelector, string, bool) {
	switch p := scope.Spec.Provider; {
	case p.Cloudflare != nil:
		return p.Cloudflare.APITokenSecretRef, "spec.provider.cloudflare.apiTokenSecretRef", true
	case p.RFC2136 != nil:
		return p.RFC2136.TSIGKeySecretRef, "spec.provider.rfc2136.tsigKeySecretRef", true
	}
	return v1alpha1.SecretKeySelector{}, "", false
}

// providerAccount identifies where a scope's records and tokens live: two
// scopes with the same account share zones (and a token namespace), so the
// record collector and the token sweep visit each account once.
func providerAccount(scope *v1alpha1.DNSScope) string {
	switch p := scope.Spec.Provider; {
	case p.Cloudflare != nil:
		return "cloudflare\x00" + p.Cloudflare.AccountID + "\x00" + p.Cloudflare.BaseURL
	case p.RFC2136 != nil:
		return "rfc2136\x00" + strings.ToLower(p.RFC2136.Server)
	}
	return ""
}

func zoneNames(scope *v1alpha1.DNSScope) []string {
	out := make([]string, 0, len(scope.Spec.Zones))
	for _, z := range scope.Spec.Zones {
		out = append(out, z.Name)
	}
	return out
}

// For returns the scope's provider client.
func (s *SecretProviders) For(ctx context.Context, scope *v1alpha1.DNSScope) (provider.Provider, error) {
	ref, field, ok := masterSecret(scope)
	if !ok {
		return nil, &credentialError{reason: v1alpha1.ReasonCredentialInvalid, msg: "spec.provider: no supported provider is set"}
	}
	var secret corev1.Secret
	secretKey := client.ObjectKey{Namespace: s.Namespace, Name: ref.Name}
	err := s.Reader.Get(ctx, secretKey, &secret)
	if s.Live != nil && (apierrors.IsNotFound(err) || err == nil && len(secret.Data[ref.Key]) == 0) {
		err = s.Live.Get(ctx, secretKey, &secret)
	}
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &credentialError{reason: v1alpha1.ReasonSecretNotFound,
				msg: fmt.Sprintf("%s: Secret %s/%s not found (master credentials are read from the operator's namespace only)", field, s.Namespace, ref.Name)}
		}
		return nil, fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, ref.Name, err)
	}
	value, ok := secret.Data[ref.Key]
	if !ok || len(value) == 0 {
		return nil, &credentialError{reason: v1alpha1.ReasonSecretNotFound,
			msg: fmt.Sprintf("%s: Secret %s/%s has no key %q", field, s.Namespace, ref.Name, ref.Key)}
	}
	// What the client is built from: the provider's fields, the zone names
	// (an RFC 2136 key is verified against them) and the credential.
	what, err := json.Marshal(struct {
		Provider v1alpha1.ProviderSpec
		Zones    []string
	}{scope.Spec.Provider, zoneNames(scope)})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append(append(what, 0), value...))
	key := string(scope.UID) + "/" + hex.EncodeToString(sum[:8])

	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.clients[key]; ok {
		return p, nil
	}
	p, err := s.build(scope, provider.Secret(value))
	if err != nil {
		return nil, err
	}
	if s.clients == nil {
		s.clients = map[string]provider.Provider{}
	}
	// Drop clients built from an older credential of the same scope.
	for k := range s.clients {
		if len(k) > len(scope.UID) && k[:len(scope.UID)] == string(scope.UID) {
			delete(s.clients, k)
		}
	}
	s.clients[key] = p
	return p, nil
}

// build makes the client of the scope's provider with its master credential.
func (s *SecretProviders) build(scope *v1alpha1.DNSScope, value provider.Secret) (provider.Provider, error) {
	if rf := scope.Spec.Provider.RFC2136; rf != nil {
		opts := rfc2136.Options{
			Server:    rf.Server,
			Transfer:  rf.Transfer,
			KeyName:   rf.TSIGKeyName,
			Algorithm: rf.TSIGAlgorithm,
			Secret:    value,
			Observer:  observeProvider,
		}
		if opts.Algorithm == "" {
			opts.Algorithm = v1alpha1.TSIGAlgorithmHMACSHA256
		}
		opts.Zones = zoneNames(scope)
		if s.ConfigureRFC2136 != nil {
			s.ConfigureRFC2136(&opts)
		}
		p, err := rfc2136.New(opts)
		if err != nil {
			return nil, &credentialError{reason: v1alpha1.ReasonCredentialInvalid, msg: fmt.Sprintf("spec.provider.rfc2136: %v", err)}
		}
		return p, nil
	}
	cf := scope.Spec.Provider.Cloudflare
	opts := cloudflare.Options{
		AccountID: cf.AccountID,
		APIToken:  value,
		BaseURL:   cf.BaseURL,
		Observer:  observeProvider,
		// Cloudflare serves up to 5,000,000 records a page; 5,000 keeps one
		// answer small while a 10,000-record zone's drift check costs two
		// requests instead of a hundred.
		PageSize: 5000,
	}
	if s.Configure != nil {
		s.Configure(&opts)
	}
	p, err := cloudflare.New(opts)
	if err != nil {
		return nil, &credentialError{reason: v1alpha1.ReasonCredentialInvalid, msg: fmt.Sprintf("spec.provider.cloudflare: %v", err)}
	}
	return p, nil
}
