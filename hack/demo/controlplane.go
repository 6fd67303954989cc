package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/miekg/dns"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
)

const (
	metricsAddr = "127.0.0.1:8080"
	probeAddr   = "127.0.0.1:8081"
	gatewayAddr = "127.0.0.1:5353" // the RFC 2136 gateway, UDP and TCP
	portsHint   = "is a demo still running (`make demo-down`), or cmd/cfsim, another manager or an mDNS responder on 5353?"
)

// controlPlane is a kube-apiserver and etcd started by envtest, with the
// CRDs and the webhook configuration installed.
type controlPlane struct {
	env        *envtest.Environment
	cfg        *rest.Config // cluster admin, for the manager and the demo's checks
	kubeconfig string       // absolute path of the kubeconfig written for kubectl
	kubectl    string       // the kubectl built with the control plane
}

func startControlPlane(assets string) (*controlPlane, func(), error) {
	// The -assets flag wins over KUBEBUILDER_ASSETS, and no environment
	// variable may point envtest at a real cluster.
	_ = os.Unsetenv("KUBEBUILDER_ASSETS")
	noExisting := false
	cp := &controlPlane{
		env: &envtest.Environment{
			BinaryAssetsDirectory: assets,
			UseExistingCluster:    &noExisting,
			CRDDirectoryPaths:     []string{filepath.Join("config", "crd", "bases")},
			ErrorIfCRDPathMissing: true,
			WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: []string{filepath.Join("config", "webhook")}},
		},
		kubectl: filepath.Join(assets, "kubectl"),
	}
	kubeconfig, err := filepath.Abs(filepath.Join(stateDir, "kubeconfig"))
	if err != nil {
		return nil, func() {}, err
	}
	stop := func() {
		_ = os.Remove(kubeconfig)
		if err := cp.env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "demo: stopping the control plane: %v\n", err)
		}
	}
	if _, err := os.Stat(cp.kubectl); err != nil {
		return nil, func() {}, fmt.Errorf("kubectl: %w (run `make demo`, which builds it)", err)
	}
	if cp.cfg, err = cp.env.Start(); err != nil {
		return nil, stop, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", rel(assets), err)
	}
	user, err := cp.env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, stop, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return nil, stop, err
	}
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return nil, stop, err
	}
	cp.kubeconfig = kubeconfig
	return cp, stop, nil
}

// startSimulator serves the Cloudflare API on the address of the sample
// scope's baseURL, and the zones' DNS on simDNSAddr (UDP and TCP), for the
// sample's account and master token.
func startSimulator(s *samples) (func(), error) {
	logFile, err := os.Create(filepath.Join(stateDir, "cfsim.log"))
	if err != nil {
		return func() {}, err
	}
	stop := func() { _ = logFile.Close() }
	cf := s.scope.Spec.Provider.Cloudflare
	srv, err := sim.New(sim.Config{
		AccountID:   cf.AccountID,
		AccountName: "demo",
		Zones:       s.zones(),
		MasterToken: s.masterToken,
		Logger:      slog.New(slog.NewTextHandler(logFile, nil)),
	})
	if err != nil {
		return stop, fmt.Errorf("simulator: %w", err)
	}
	u, err := url.Parse(cf.BaseURL)
	if err != nil {
		return stop, fmt.Errorf("DNSScope %s baseURL: %w", s.scope.Name, err)
	}
	hl, err := net.Listen("tcp", u.Host)
	if err != nil {
		return stop, fmt.Errorf("simulator API on %s (the sample scope's baseURL): %w; %s", u.Host, err, portsHint)
	}
	pc, err := net.ListenPacket("udp", simDNSAddr)
	if err != nil {
		hl.Close()
		return stop, fmt.Errorf("simulator DNS: %w; %s", err, portsHint)
	}
	tl, err := net.Listen("tcp", simDNSAddr)
	if err != nil {
		hl.Close()
		pc.Close()
		return stop, fmt.Errorf("simulator DNS: %w; %s", err, portsHint)
	}

	api := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	udp := &dns.Server{PacketConn: pc, Handler: srv}
	tcp := &dns.Server{Listener: tl, Handler: srv}
	started := make(chan error, 3)
	udp.NotifyStartedFunc = func() { started <- nil }
	tcp.NotifyStartedFunc = func() { started <- nil }
	go func() { _ = api.Serve(hl) }()
	go func() { started <- udp.ActivateAndServe() }()
	go func() { started <- tcp.ActivateAndServe() }()
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = api.Shutdown(ctx)
		_ = udp.ShutdownContext(ctx)
		_ = tcp.ShutdownContext(ctx)
		_ = logFile.Close()
	}
	for range 2 {
		if err := <-started; err != nil {
			return stop, fmt.Errorf("simulator DNS: %w", err)
		}
	}
	return stop, nil
}

// manager is the scopedns manager running in this process.
type manager struct {
	webhookAddr string
	err         <-chan error // receives Start's result if the manager stops
}

// startManager starts the manager exactly as cmd/manager wires it (app.New),
// serving the webhook where envtest registered it, and waits until it is
// ready.
func startManager(ctx context.Context, cp *controlPlane) (*manager, func(), error) {
	logFile, err := os.Create(filepath.Join(stateDir, "manager.log"))
	if err != nil {
		return nil, func() {}, err
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logFile), zap.UseDevMode(true)))

	wh := cp.env.WebhookInstallOptions
	mgr, err := app.New(cp.cfg, app.Options{
		Namespace:            operatorNamespace,
		ClusterName:          "demo",
		MetricsAddr:          metricsAddr,
		ProbeAddr:            probeAddr,
		WebhookHost:          wh.LocalServingHost,
		WebhookPort:          wh.LocalServingPort,
		WebhookCertDir:       wh.LocalServingCertDir,
		GatewayAddr:          gatewayAddr,
		GracefulShutdownTime: 5 * time.Second,
	})
	if err != nil {
		_ = logFile.Close()
		return nil, func() {}, fmt.Errorf("building the manager: %w", err)
	}
	mctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		errc <- mgr.Start(mctx)
	}()
	stop := func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			fmt.Fprintln(os.Stderr, "demo: the manager did not stop within 15s")
		}
		_ = logFile.Close()
	}
	m := &manager{webhookAddr: net.JoinHostPort(wh.LocalServingHost, strconv.Itoa(wh.LocalServingPort)), err: errc}

	// Ready means the webhook server is serving (see app.New's readyz).
	err = poll(ctx, 60*time.Second, func(ctx context.Context) (bool, error) {
		select {
		case err := <-errc:
			return false, permanent{fmt.Errorf("the manager stopped: %w; %s", err, portsHint)}
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+probeAddr+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return false, fmt.Errorf("readyz: %s", res.Status)
		}
		return true, nil
	})
	if err != nil {
		return nil, stop, fmt.Errorf("waiting for the manager to be ready: %w", err)
	}
	return m, stop, nil
}
