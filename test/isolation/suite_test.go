// Package isolation attacks the operator as a hostile tenant would, on a real
// kube-apiserver and etcd with RBAC on: each tenant is a ServiceAccount bound
// in its own namespace to Kubernetes' standard `edit` ClusterRole (which
// writes Secrets), and acts through impersonation. The operator runs exactly
// as cmd/manager wires it (internal/app), as its own ServiceAccount with the
// ClusterRole config/rbac generates, against the Cloudflare simulator and
// with its RFC 2136 gateway listening. Every spec runs one attack from
// tenant A while tenant B, in another namespace of the same scope, must keep
// working: its claims become Ready, its provider token verifies, its TSIG key
// writes through the gateway.
package isolation

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

const (
	operatorNamespace = "scopedns-system"
	// operatorServiceAccount is config/rbac's ServiceAccount, which its
	// ClusterRoleBinding names.
	operatorServiceAccount = "scopedns"
	clusterName            = "iso"
	// tokenQuota is the operator's --token-quota: far below the fake
	// Secrets an attacker writes, far above what the suite's tenants hold.
	tokenQuota = 60
)

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config // the envtest admin (system:masters)
	admin     client.Client
	ctx       context.Context
	cancel    context.CancelFunc
	mgrCancel context.CancelFunc

	cf     *sim.Server
	cfHTTP *httptest.Server
	cfURL  string

	gatewayAddr = freeAddr()
	clock       = newFakeClock(time.Now())
	master      = "master-token-value-0123456789abcdef"
	account     = "0123456789abcdef0123456789abcdef"
	root        = filepath.Join("..", "..")
)

func TestIsolation(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Isolation Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		Fail("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds kube-apiserver and etcd from source into bin/")
	}
	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths: []string{filepath.Join(root, "config", "webhook")},
		},
	}
	// envtest's default is RBAC already; said here because every spec
	// depends on it.
	testEnv.ControlPlane.GetAPIServer().Configure().Set("authorization-mode", "RBAC")
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	admin, err = client.New(cfg, client.Options{Scheme: app.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}})).To(Succeed())

	installRBAC()
	installAdmissionPolicies()

	cf, err = sim.New(sim.Config{
		AccountID: account, AccountName: "isolation", Zones: []string{"example.com"},
		MasterToken: master, Now: clock.Now,
	})
	Expect(err).NotTo(HaveOccurred())
	cfHTTP = httptest.NewServer(cf)
	cfURL = cfHTTP.URL + "/client/v4/"
	Expect(admin.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: "cloudflare-master"},
		Data:       map[string][]byte{"api-token": []byte(master)},
	})).To(Succeed())

	wh := testEnv.WebhookInstallOptions
	mgr, err := app.New(operatorConfig(), app.Options{
		Namespace:      operatorNamespace,
		ClusterName:    clusterName,
		MetricsAddr:    "0",
		ProbeAddr:      "0",
		WebhookHost:    wh.LocalServingHost,
		WebhookPort:    wh.LocalServingPort,
		WebhookCertDir: wh.LocalServingCertDir,
		Now:            clock.Now,
		TokenQuota:     tokenQuota,
		// The sweep runs all the time: a token an attacker keeps referenced
		// must be gone once the sweep had its chance.
		SweepInterval: 2 * time.Second,
		SweepMinAge:   time.Minute,
		// The record GC's interval and grace run on the wall clock: a few
		// seconds, or the unselected tenant's records wait out the defaults.
		RecordGCInterval: 300 * time.Millisecond,
		RecordGCGrace:    2 * time.Second,
		GatewayAddr:      gatewayAddr,
		MaxBackoff:       2 * time.Second,
		// As the chart runs it: a refusal does not name who holds a name.
		ConcealConflictHolders: true,
		ConfigureProvider: func(o *cloudflare.Options) {
			o.RetryBaseDelay, o.RetryMaxDelay = 10*time.Millisecond, 100*time.Millisecond
		},
	})
	Expect(err).NotTo(HaveOccurred())
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
	}, 30*time.Second).Should(Succeed())
})

var _ = AfterSuite(func() {
	if cfHTTP != nil {
		cfHTTP.Close()
	}
	if mgrCancel != nil {
		mgrCancel()
	}
	if cancel != nil {
		cancel()
	}
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// One ordered container, so the specs run in the order written here (Ginkgo
// otherwise sorts them by file and shuffles): the flood runs last. Every spec
// runs whatever the ones before it did (ContinueOnFailure); each has its own
// scope and tenants.
var _ = Describe("A hostile tenant", Ordered, ContinueOnFailure, func() {
	describeSecrets()
	describeClaims()
	describeUnselected()
	describeFlood()
})

// operatorConfig is the admin's connection impersonating the operator's
// ServiceAccount, so the manager holds exactly config/rbac's permissions.
func operatorConfig() *rest.Config {
	c := rest.CopyConfig(cfg)
	c.Impersonate = serviceAccountUser(operatorNamespace, operatorServiceAccount)
	return c
}
