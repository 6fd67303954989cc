// Package restart restarts the control plane under a running operator: the
// kube-apiserver is stopped and started again on the same address, certificates
// and etcd while claims converge, then etcd is restarted too. It has its own
// envtest, because the integration suite's specs share one API server.
package restart

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
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
	opNS    = "scopedns-system"
	cluster = "rs"
	master  = "restart-master-token-value-0123456789abcdef"
	account = "0123456789abcdef0123456789abcdef"
)

var (
	ctx    context.Context
	env    *envtest.Environment
	k8s    client.Client
	cf     *sim.Server
	cfURL  string
	op     *operator
	opDone context.CancelFunc
)

func TestRestart(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Control plane restart Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var cancel context.CancelFunc
	ctx, cancel = context.WithCancel(context.Background())
	DeferCleanup(cancel)
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		Skip("KUBEBUILDER_ASSETS is not set: run with `make test`")
	}

	// envtest allocates the API server's certificate directory and etcd's
	// data directory itself and deletes both on Stop, so a restart would
	// come back with a new serving CA (clients holding the old one fail)
	// and an empty etcd. Ours outlive restarts. The secure port and etcd's
	// client URL are chosen on first start and kept by later ones.
	certDir, err := os.MkdirTemp("", "scopedns-restart-apiserver-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, certDir)
	dataDir, err := os.MkdirTemp("", "scopedns-restart-etcd-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dataDir)

	root := filepath.Join("..", "..")
	env = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook")}},
		ControlPlane: envtest.ControlPlane{
			APIServer: &envtest.APIServer{CertDir: certDir},
			Etcd:      &envtest.Etcd{DataDir: dataDir},
		},
	}
	cfg, err := env.Start()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(env.Stop) // runs before the directories are removed

	k8s, err = client.New(cfg, client.Options{Scheme: app.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: opNS}})).To(Succeed())
	Expect(k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: opNS, Name: "cloudflare-master"},
		Data:       map[string][]byte{"api-token": []byte(master)},
	})).To(Succeed())

	cf, err = sim.New(sim.Config{AccountID: account, AccountName: "restart", Zones: []string{"example.com", "example.net"}, MasterToken: master})
	Expect(err).NotTo(HaveOccurred())
	srv := httptest.NewServer(cf)
	DeferCleanup(srv.Close)
	cfURL = srv.URL + "/client/v4/"

	wh := env.WebhookInstallOptions
	var opCtx context.Context
	opCtx, opDone = context.WithCancel(ctx)
	op = runOperator(opCtx, cfg, app.Options{
		Namespace: opNS, ClusterName: cluster, MetricsAddr: "0", ProbeAddr: "0",
		// As deployed (config/manager, the chart): leader election on,
		// webhooks served by the manager.
		LeaderElection: true,
		WebhookHost:    wh.LocalServingHost, WebhookPort: wh.LocalServingPort, WebhookCertDir: wh.LocalServingCertDir,
		// Several managers live in this process over the test's life.
		SkipNameValidation: true,
		MaxBackoff:         time.Second,
		// The sweep would revoke leaked tokens behind the controllers'
		// back; keep it away from every token this test mints, so a leak
		// shows.
		SweepInterval: time.Hour, SweepMinAge: time.Hour,
		ConfigureProvider: func(o *cloudflare.Options) {
			o.RetryBaseDelay, o.RetryMaxDelay = 10*time.Millisecond, 100*time.Millisecond
		},
	})
	DeferCleanup(func() { opDone(); <-op.done })

	addr := net.JoinHostPort(wh.LocalServingHost, fmt.Sprint(wh.LocalServingPort))
	Eventually(func() error {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // readiness probe of our own test server
		if err != nil {
			return err
		}
		return conn.Close()
	}, 30*time.Second).Should(Succeed())
})

// operator runs the manager the way its Deployment does. controller-runtime's
// Start returns "leader election lost" once the leader cannot renew its lease
// for RenewDeadline (8s), as happens when the API server is away that long,
// and app.New fails while the API server is unreachable (the cache asks it
// whether Secrets are namespaced); cmd/manager then exits 1 and the kubelet
// starts the container again. Here a new manager is started in the same
// process instead.
type operator struct {
	done chan struct{}

	mu      sync.Mutex
	exits   []string // why each manager stopped, in order
	elected int      // how many managers became leader
	leading bool     // whether the running manager leads
}

func runOperator(ctx context.Context, cfg *rest.Config, o app.Options) *operator {
	op := &operator{done: make(chan struct{})}
	go func() {
		defer GinkgoRecover()
		defer close(op.done)
		for ctx.Err() == nil {
			op.runOnce(ctx, cfg, o)
			if ctx.Err() != nil {
				return
			}
			// The kubelet's back-off starts at 10s; one second keeps the
			// test short and still lets the old webhook listener close.
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	return op
}

func (op *operator) runOnce(ctx context.Context, cfg *rest.Config, o app.Options) {
	mgr, err := app.New(cfg, o)
	if err != nil {
		op.exited(fmt.Errorf("app.New: %w", err))
		return
	}
	mctx, cancel := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-mgr.Elected():
			op.mu.Lock()
			op.elected++
			op.leading = true
			op.mu.Unlock()
		case <-mctx.Done():
		}
	}()
	err = mgr.Start(mctx)
	cancel()
	<-watched
	if ctx.Err() == nil {
		op.exited(err)
	}
}

func (op *operator) exited(err error) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.exits = append(op.exits, fmt.Sprint(err))
	op.leading = false
	GinkgoWriter.Printf("manager exited (%v); starting a new one, as the kubelet would\n", err)
}

// Exits returns why each manager stopped so far.
func (op *operator) Exits() []string {
	op.mu.Lock()
	defer op.mu.Unlock()
	return append([]string(nil), op.exits...)
}

// Elected returns how many managers became leader so far.
func (op *operator) Elected() int {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.elected
}

// Leading reports whether the running manager leads.
func (op *operator) Leading() bool {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.leading
}
