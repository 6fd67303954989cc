package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/acmedns"
	"github.com/scopedns/scopedns/internal/cfapi"
	"github.com/scopedns/scopedns/internal/dyndns"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

func httpGatewayEnabled(o Options) bool { return o.HTTPGatewayAddr != "" && o.HTTPGatewayAddr != "0" }

// validateHTTPGateway checks the HTTP front door's flags.
func validateHTTPGateway(o *Options) []error {
	var errs []error
	if o.HTTPGatewayCertDir != "" && !httpGatewayEnabled(*o) {
		errs = append(errs, errors.New("--http-gateway-cert-dir: the HTTP front door is off (no --http-gateway-addr), there is nothing to serve with it"))
	}
	if o.HTTPGatewayURL != "" {
		u, err := url.Parse(o.HTTPGatewayURL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--http-gateway-url: %w", err))
		case u.Scheme != "https" && u.Scheme != "http" || u.Host == "":
			errs = append(errs, fmt.Errorf("--http-gateway-url: %q must be an absolute http(s) URL such as https://dns-gateway.example.net", o.HTTPGatewayURL))
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("--http-gateway-url: %q must not carry a user, query or fragment: clients append /update to it", o.HTTPGatewayURL))
		}
	}
	return errs
}

// addHTTPGateway serves the acme-dns and dyndns2 front doors on every
// replica (like the RFC 2136 gateway they need no leader), writing through
// the zone writer the RFC 2136 gateway shares.
func addHTTPGateway(mgr manager.Manager, o Options, stores controllers.FrontDoorStores, zw *zonewriter.Writer) error {
	logger := slog.New(logr.ToSlogHandler(ctrl.Log.WithName("http-gateway")))
	acme, dyn, cf, err := frontDoors(stores, zw, logger)
	if err != nil {
		return fmt.Errorf("--http-gateway-addr: %w", err)
	}
	// acme-dns clients never remove their challenge values: the handler's
	// sweep does, on every replica (each for the values it wrote).
	if err := mgr.Add(everyReplica(func(ctx context.Context) error { return acme.Run(ctx, 0) })); err != nil {
		return err
	}
	return mgr.Add(&httpGateway{Addr: o.HTTPGatewayAddr, CertDir: o.HTTPGatewayCertDir, Handler: frontDoorMux(acme, dyn, cf), Log: ctrl.Log.WithName("http-gateway")})
}

// everyReplica is a runnable that runs on every replica, leader or not.
type everyReplica func(ctx context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }

// NeedLeaderElection is false: the manager would otherwise run it on the
// leader only.
func (everyReplica) NeedLeaderElection() bool { return false }

// frontDoors builds the acme-dns, dyndns2 and Cloudflare API handlers over
// the stores and the writer. It is the one place the HTTP front doors are
// constructed.
func frontDoors(s controllers.FrontDoorStores, w *zonewriter.Writer, l *slog.Logger) (*acmedns.Handler, *dyndns.Handler, *cfapi.Handler, error) {
	a, err := acmedns.New(acmedns.Options{Accounts: s.Accounts, Writer: w, Logger: l.With("frontdoor", acmedns.Protocol)})
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := dyndns.New(dyndns.Options{Users: s.Users, Writer: w, Logger: l.With("frontdoor", "dyndns2")})
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := cfapi.New(cfapi.Options{Tokens: s.Tokens, Writer: w, Logger: l.With("frontdoor", cfapi.Protocol)})
	if err != nil {
		return nil, nil, nil, err
	}
	return a, d, c, nil
}

// frontDoorMux routes the HTTP front door's paths: acme-dns's (/update,
// /register, which it refuses, and /health), dyndns2's /nic/update and the
// Cloudflare-compatible API under /client/v4/. Every other path is 404;
// nothing else is served on this listener (metrics and probes have their
// own, which tenants need not reach).
func frontDoorMux(acmeDNS, dynDNS, cloudflareAPI http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	for _, p := range []string{"/update", "/register", "/health"} {
		mux.Handle(p, acmeDNS)
	}
	mux.Handle("/nic/update", dynDNS)
	mux.Handle(cfapi.Prefix, cloudflareAPI)
	return mux
}

// Timeouts and limits of the HTTP front door's server. Requests are a
// header and a body of a few hundred bytes from clients on the internet:
// slow or oversized ones are cut off before they hold a connection long.
const (
	httpReadHeaderTimeout = 10 * time.Second
	httpReadTimeout       = 30 * time.Second
	httpWriteTimeout      = 30 * time.Second // a write may wait for its zone's batch
	httpIdleTimeout       = 2 * time.Minute
	httpMaxHeaderBytes    = 16 << 10
	httpShutdownTimeout   = 10 * time.Second
)

// httpGateway is the HTTP front door's server, a manager runnable on every
// replica. With CertDir it serves TLS from tls.crt and tls.key there
// (mounted from a cert-manager Certificate's Secret, reloaded when they
// change); without, plain HTTP, for use behind a TLS-terminating Ingress or
// load balancer inside the cluster.
type httpGateway struct {
	Addr, CertDir string
	Handler       http.Handler
	Log           logr.Logger
	// listening, when set, is told the address once the listener is open
	// (tests bind ":0").
	listening func(net.Addr)
}

// NeedLeaderElection is false: every replica serves the front door.
func (g *httpGateway) NeedLeaderElection() bool { return false }

// Start listens and serves until ctx ends, then shuts down gracefully.
func (g *httpGateway) Start(ctx context.Context) error {
	srv := &http.Server{
		Handler:           g.Handler,
		ReadHeaderTimeout: httpReadHeaderTimeout,
		ReadTimeout:       httpReadTimeout,
		WriteTimeout:      httpWriteTimeout,
		IdleTimeout:       httpIdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		// net/http writes a line for every failed TLS handshake, to stderr
		// by default: anyone who can reach the port could fill the log.
		// They go to the gateway's logger at debug verbosity instead.
		ErrorLog: log.New(debugWriter{g.Log}, "", 0),
	}
	if g.CertDir != "" {
		cw, err := certwatcher.New(filepath.Join(g.CertDir, corev1.TLSCertKey), filepath.Join(g.CertDir, corev1.TLSPrivateKeyKey))
		if err != nil {
			return fmt.Errorf("--http-gateway-cert-dir: %w", err)
		}
		go func() {
			if err := cw.Start(ctx); err != nil {
				g.Log.Error(err, "watching the HTTP front door's certificate")
			}
		}()
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cw.GetCertificate}
	}
	ln, err := net.Listen("tcp", g.Addr)
	if err != nil {
		return fmt.Errorf("--http-gateway-addr: %w", err)
	}
	if srv.TLSConfig != nil {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	if g.listening != nil {
		g.listening(ln.Addr())
	}
	g.Log.Info("serving the HTTP front door (acme-dns, dyndns2, Cloudflare API)", "addr", ln.Addr().String(), "tls", srv.TLSConfig != nil)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), httpShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// debugWriter turns net/http's error log lines into debug-level (V(1)) lines
// of a logr.Logger.
type debugWriter struct{ log logr.Logger }

func (w debugWriter) Write(p []byte) (int, error) {
	w.log.V(1).Info("http server", "error", strings.TrimSpace(string(p)))
	return len(p), nil
}
