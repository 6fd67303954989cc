package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
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
	Reader    client.Reader
	Namespace string
	// Configure adjusts the Cloudflare options (tests lower retries, the demo
	// points at the simulator).
	Configure func(*cloudflare.Options)

	mu      sync.Mutex
	clients map[string]provider.Provider
}

// For returns the scope's provider client.
func (s *SecretProviders) For(ctx context.Context, scope *v1alpha1.DNSScope) (provider.Provider, error) {
	cf := scope.Spec.Provider.Cloudflare
	if cf == nil {
		return nil, &credentialError{reason: v1alpha1.ReasonCredentialInvalid, msg: "spec.provider: no supported provider is set"}
	}
	ref := cf.APITokenSecretRef
	var secret corev1.Secret
	if err := s.Reader.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: ref.Name}, &secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &credentialError{reason: v1alpha1.ReasonSecretNotFound,
				msg: fmt.Sprintf("spec.provider.cloudflare.apiTokenSecretRef: Secret %s/%s not found (master credentials are read from the operator's namespace only)", s.Namespace, ref.Name)}
		}
		return nil, fmt.Errorf("reading Secret %s/%s: %w", s.Namespace, ref.Name, err)
	}
	token, ok := secret.Data[ref.Key]
	if !ok || len(token) == 0 {
		return nil, &credentialError{reason: v1alpha1.ReasonSecretNotFound,
			msg: fmt.Sprintf("spec.provider.cloudflare.apiTokenSecretRef: Secret %s/%s has no key %q", s.Namespace, ref.Name, ref.Key)}
	}
	sum := sha256.Sum256(append(append([]byte(cf.AccountID+"\x00"+cf.BaseURL+"\x00"), token...), 0))
	key := string(scope.UID) + "/" + hex.EncodeToString(sum[:8])

	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.clients[key]; ok {
		return p, nil
	}
	opts := cloudflare.Options{
		AccountID: cf.AccountID,
		APIToken:  provider.Secret(token),
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
