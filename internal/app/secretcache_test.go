package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/testports"
)

// secretBytes counts the response bytes of the manager's Secret requests
// outside its own namespace: the lists and watches tenants' Secrets reach it
// through.
type secretBytes struct {
	operatorNS string
	n          atomic.Int64
}

func (s *secretBytes) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTrip(func(r *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(r)
		if err != nil || !strings.Contains(r.URL.Path, "/secrets") || strings.Contains(r.URL.Path, "/namespaces/"+s.operatorNS+"/") {
			return resp, err
		}
		resp.Body = &countingBody{ReadCloser: resp.Body, n: &s.n}
		return resp, nil
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// TestTenantSecretsAreWatchedAsMetadataOnly: a tenant can copy the
// operator's labels onto any number of Secrets of up to a megabyte in its
// namespace. The manager must not download (and so never hold) their data:
// it watches Secrets outside its own namespace as metadata only, and reads a
// tenant Secret's data from the API server when it reconciles it. Ten
// labelled Secrets of 512 KiB exist before the manager starts; once its
// caches have synced, what it received for Secrets outside its namespace
// must be far below one of them.
func TestTenantSecretsAreWatchedAsMetadataOnly(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run with `make test`")
	}
	for name, certRotation := range map[string]bool{
		"with the webhooks off":                  false,
		"with the chart's webhook cert rotation": true,
	} {
		t.Run(name, func(t *testing.T) { secretsAsMetadata(t, certRotation) })
	}
}

func secretsAsMetadata(t *testing.T, certRotation bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	root := filepath.Join("..", "..")
	env := &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	k8s, err := client.New(cfg, client.Options{Scheme: app.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	const opNS, tenant, size, count = "scopedns-system", "team-a", 512 << 10, 10
	for _, ns := range []string{opNS, tenant} {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	blob := []byte(strings.Repeat("x", size))
	for i := range count {
		if err := k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: fmt.Sprintf("decoy-%d", i), Labels: map[string]string{
				controllers.LabelManagedBy: controllers.ManagedBy, controllers.LabelScope: "prod",
			}},
			Data: map[string][]byte{"blob": blob},
		}); err != nil {
			t.Fatal(err)
		}
	}

	counter := &secretBytes{operatorNS: opNS}
	mcfg := rest.CopyConfig(cfg)
	mcfg.WrapTransport = counter.wrap
	o := app.Options{
		Namespace: opNS, ClusterName: "cache", MetricsAddr: "0", ProbeAddr: "0",
		DisableWebhooks: true, SkipNameValidation: true,
	}
	if certRotation {
		if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: opNS, Name: "scopedns-webhook-cert"}}); err != nil {
			t.Fatal(err)
		}
		o.DisableWebhooks = false
		o.WebhookHost, o.WebhookPort, o.WebhookCertDir = "127.0.0.1", freePort(t), t.TempDir()
		o.WebhookCertRotation, o.WebhookCertSecret = true, "scopedns-webhook-cert"
		o.WebhookServiceName, o.WebhookConfigName = "scopedns-webhook", "scopedns-validating-webhook"
	}
	mgr, err := app.New(mcfg, o)
	if err != nil {
		t.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	defer func() { stop(); <-done }()
	// The decoys carry a scope label, so the credentials controller is
	// asked to reconcile (team-a, prod) once its Secret watch has listed
	// them; nothing else in this cluster asks it anything.
	start := reconciles("credentials")
	for reconciles("credentials") <= start {
		select {
		case <-ctx.Done():
			t.Fatal("the credentials controller never reconciled the labelled Secrets' namespace")
		case err := <-done:
			t.Fatalf("the manager stopped: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		t.Fatal("the manager's cache did not sync")
	}
	if got := counter.n.Load(); got >= size {
		t.Fatalf("the manager received %d bytes for Secrets outside its namespace, with %d labelled tenant Secrets of %d bytes: it downloads their data", got, count, size)
	}
}

// freePort is a TCP port on 127.0.0.1 that is free now, picked below the
// ephemeral range so no client connection takes it before the server binds
// it.
func freePort(t *testing.T) int {
	addr, err := testports.TCP()
	if err != nil {
		t.Fatal(err)
	}
	return testports.Port(addr)
}

// reconciles is controller-runtime's reconcile count of a controller in this
// process.
func reconciles(controller string) float64 {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return 0
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "controller" && l.GetValue() == controller {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}
