package webhookcert

import (
	"context"
	"net/http"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
)

// fakeServer records whether it was started.
type fakeServer struct {
	webhook.Server
	started chan struct{}
}

func (f *fakeServer) Start(ctx context.Context) error {
	close(f.started)
	<-ctx.Done()
	return nil
}

func (f *fakeServer) StartedChecker() healthz.Checker {
	return func(*http.Request) error {
		select {
		case <-f.started:
			return nil
		default:
			return context.DeadlineExceeded
		}
	}
}

func TestGate(t *testing.T) {
	t.Run("holds the server back and fails readiness until ready is closed", func(t *testing.T) {
		ready := make(chan struct{})
		inner := &fakeServer{started: make(chan struct{})}
		g := Gate(inner, ready)
		check := g.StartedChecker()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- g.Start(ctx) }()

		if err := check(nil); err != errNotReady {
			t.Fatalf("readiness before the certificate: got %v, want %v", err, errNotReady)
		}
		select {
		case <-inner.started:
			t.Fatal("the server started before its certificate was ready")
		case <-time.After(50 * time.Millisecond): // a started server would have closed started by now
		}

		close(ready)
		select {
		case <-inner.started:
		case <-time.After(5 * time.Second):
			t.Fatal("the server did not start once ready was closed")
		}
		if err := check(nil); err != nil {
			t.Fatalf("readiness after the server started: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Start: %v", err)
		}
	})

	t.Run("returns without serving when the manager stops first", func(t *testing.T) {
		inner := &fakeServer{started: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := Gate(inner, make(chan struct{})).Start(ctx); err != nil {
			t.Fatalf("Start: %v", err)
		}
		select {
		case <-inner.started:
			t.Fatal("the server started although ready was never closed")
		default:
		}
	})
}
