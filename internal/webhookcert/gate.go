package webhookcert

import (
	"context"
	"errors"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Gate returns srv with its start held back until ready is closed.
//
// controller-runtime's webhook server reads tls.crt and tls.key from its
// CertDir when it starts and fails when they are missing; with rotation on,
// they are only there once the rotator has issued a certificate and the files
// have been written. The manager starts webhook servers before anything else,
// so the gate waits instead of the manager. The readiness check fails until
// the server behind the gate serves, so no Service sends it traffic before.
func Gate(srv webhook.Server, ready <-chan struct{}) webhook.Server {
	return &gated{Server: srv, ready: ready}
}

type gated struct {
	webhook.Server
	ready <-chan struct{}
}

// Start waits for the serving certificate, then runs the server. A manager
// stopped before that returns without ever serving.
func (g *gated) Start(ctx context.Context) error {
	select {
	case <-g.ready:
		return g.Server.Start(ctx)
	case <-ctx.Done():
		return nil
	}
}

var errNotReady = errors.New("webhook server: waiting for its serving certificate")

// StartedChecker fails while the gate is closed, then asks the server (which
// dials its own port).
func (g *gated) StartedChecker() healthz.Checker {
	started := g.Server.StartedChecker()
	return func(req *http.Request) error {
		select {
		case <-g.ready:
			return started(req)
		default:
			return errNotReady
		}
	}
}
