// Package integration runs the operator, exactly as cmd/manager wires it,
// against a real kube-apiserver and etcd built from source (hack/controlplane.sh),
// with the generated CRDs and webhook configuration installed.
package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

const operatorNamespace = "scopedns-system"

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8s       client.Client
	ctx       context.Context
	cancel    context.CancelFunc
	warnings  = &warningRecorder{}
	mgrCancel context.CancelFunc
	// mgrCache is the manager's own cache; specs wait on it where the webhook
	// must see an object before the next request.
	mgrCache client.Reader

	// cf is the Cloudflare simulator the operator writes to; cfURL its API root.
	cf     *sim.Server
	cfHTTP *httptest.Server
	cfURL  string
	// gatewayAddr is the manager's RFC 2136 gateway.
	gatewayAddr = freeAddr()
	// httpGatewayAddr is the manager's HTTP front doors (acme-dns, dyndns2);
	// httpGatewayURL what the Secrets tell tenants.
	httpGatewayAddr = freeAddr()
	httpGatewayURL  = "http://" + httpGatewayAddr
	clock           = newFakeClock(time.Now())
	master          = "master-token-value-0123456789abcdef"
	account         = "0123456789abcdef0123456789abcdef"
)

func TestIntegration(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Integration Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		Fail("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds kube-apiserver and etcd from source into bin/")
	}
	root := filepath.Join("..", "..")
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join(root, "config", "webhook")},
		},
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())

	clientCfg := rest.CopyConfig(cfg)
	clientCfg.WarningHandler = warnings
	k8s, err = client.New(clientCfg, client.Options{Scheme: app.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}})).To(Succeed())
	installFinalizerPolicy()

	cf, err = sim.New(sim.Config{
		AccountID: account, AccountName: "integration", Zones: []string{"example.com", "example.net", "example.org"},
		MasterToken: master, Now: clock.Now,
	})
	Expect(err).NotTo(HaveOccurred())
	cfHTTP = httptest.NewServer(cf)
	cfURL = cfHTTP.URL + "/client/v4/"
	Expect(k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: "cloudflare-master"},
		Data:       map[string][]byte{"api-token": []byte(master)},
	})).To(Succeed())

	wh := testEnv.WebhookInstallOptions
	mgr, err := app.New(cfg, app.Options{
		Namespace:      operatorNamespace,
		ClusterName:    "it",
		MetricsAddr:    "0",
		ProbeAddr:      "0",
		WebhookHost:    wh.LocalServingHost,
		WebhookPort:    wh.LocalServingPort,
		WebhookCertDir: wh.LocalServingCertDir,
		Now:            clock.Now,
		SweepInterval:  time.Hour, // specs sweep on demand
		// The record GC runs on its own, fast, so specs see it work.
		RecordGCInterval: recordGCInterval,
		RecordGCGrace:    recordGCGrace,
		GatewayAddr:      gatewayAddr,
		HTTPGatewayAddr:  httpGatewayAddr,
		HTTPGatewayURL:   httpGatewayURL,
		MaxBackoff:       2 * time.Second,
		ConfigureProvider: func(o *cloudflare.Options) {
			o.RetryBaseDelay, o.RetryMaxDelay = 10*time.Millisecond, 100*time.Millisecond
			// The suite's record GC lists every zone each 300ms, a hundred
			// times its production pace: held to Cloudflare's 1,200 per 5
			// minutes, a suite run under -race spent the whole budget in
			// two minutes and later specs waited minutes for the limiter.
			// The simulator sets no limit here; pacing is tested in
			// internal/provider/cloudflare and by make bench.
			o.RateLimit = -1
		},
	})
	Expect(err).NotTo(HaveOccurred())
	mgrCache = mgr.GetCache()
	var mgrCtx context.Context
	mgrCtx, mgrCancel = context.WithCancel(ctx)
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(mgrCtx)).To(Succeed())
	}()

	addr := net.JoinHostPort(wh.LocalServingHost, fmt.Sprint(wh.LocalServingPort))
	Eventually(func() error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe of our own test server
		if err != nil {
			return err
		}
		return conn.Close()
	}).Should(Succeed())
})

var _ = AfterSuite(func() {
	if cfHTTP != nil {
		cfHTTP.Close()
	}
	if mgrCancel != nil {
		mgrCancel()
	}
	cancel()
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})
