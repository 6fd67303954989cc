// Package kubectlplugin runs `kubectl scopedns` as a user would: the real
// kubectl binary built by hack/controlplane.sh finds the plugin built from
// cmd/kubectl-scopedns on PATH and runs it against a real kube-apiserver
// and etcd, with the operator (as cmd/manager wires it) serving the
// admission webhook. Its answers are held to the webhook's on dry-run
// creates of the same claims.
package kubectlplugin

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/testports"
)

const (
	operatorNamespace = "scopedns-system"
	master            = "master-token-value-0123456789abcdef"
	account           = "0123456789abcdef0123456789abcdef"
)

var (
	testEnv *envtest.Environment
	k8s     client.Client
	ctx     context.Context
	cancel  context.CancelFunc
	cfHTTP  *httptest.Server
	cfURL   string
	// kubectl is the control plane's kubectl; env runs it with the
	// suite's kubeconfig and the built plugin first on PATH.
	kubectl string
	env     []string
	// gatewayAddr and httpGatewayURL are the manager's front doors, for doctor.
	gatewayAddr     = freeAddr()
	httpGatewayAddr = freeAddr()
	httpGatewayURL  = "http://" + httpGatewayAddr
)

func TestKubectlPlugin(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubectl scopedns Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		Fail("KUBEBUILDER_ASSETS is not set: run the tests with `make test`, which builds kube-apiserver, etcd and kubectl from source into bin/")
	}
	kubectl = filepath.Join(assets, "kubectl")
	Expect(kubectl).To(BeAnExistingFile(), "hack/controlplane.sh builds kubectl beside kube-apiserver")

	root, err := filepath.Abs(filepath.Join("..", ".."))
	Expect(err).NotTo(HaveOccurred())
	pluginDir := GinkgoT().TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(pluginDir, "kubectl-scopedns"), "./cmd/kubectl-scopedns")
	build.Dir = root
	out, err := build.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "building the plugin: %s", out)

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook")}},
	}
	cfg, err := testEnv.Start()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: app.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}})).To(Succeed())

	// The plugin's kubeconfig: an admin of the envtest API server, written
	// where only this run reads it.
	user, err := testEnv.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	kc, err := user.KubeConfig()
	Expect(err).NotTo(HaveOccurred())
	kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
	Expect(os.WriteFile(kubeconfig, kc, 0o600)).To(Succeed())
	env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "PATH="+pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+GinkgoT().TempDir())

	cf, err := sim.New(sim.Config{AccountID: account, AccountName: "plugin", Zones: []string{"example.com", "example.org"}, MasterToken: master})
	Expect(err).NotTo(HaveOccurred())
	cfHTTP = httptest.NewServer(cf)
	cfURL = cfHTTP.URL + "/client/v4/"
	Expect(k8s.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: "cloudflare-master"},
		Data:       map[string][]byte{"api-token": []byte(master)},
	})).To(Succeed())

	wh := testEnv.WebhookInstallOptions
	mgr, err := app.New(cfg, app.Options{
		Namespace: operatorNamespace, ClusterName: "plugin", MetricsAddr: "0", ProbeAddr: "0",
		WebhookHost: wh.LocalServingHost, WebhookPort: wh.LocalServingPort, WebhookCertDir: wh.LocalServingCertDir,
		GatewayAddr: gatewayAddr, HTTPGatewayAddr: httpGatewayAddr, HTTPGatewayURL: httpGatewayURL,
		SweepInterval: time.Hour, RecordGCInterval: time.Hour, RecordGCGrace: time.Hour, MaxBackoff: 2 * time.Second,
	})
	Expect(err).NotTo(HaveOccurred())
	mgrCtx, mgrCancel := context.WithCancel(ctx)
	DeferCleanup(mgrCancel)
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
	cancel()
	if testEnv != nil {
		Expect(testEnv.Stop()).To(Succeed())
	}
})

// freeAddr is a 127.0.0.1 address whose port is free for both TCP and UDP
// (the gateway listens on both), picked below the ephemeral range so no
// client connection takes it before the server binds it.
func freeAddr() string {
	addr, err := testports.TCPAndUDP()
	if err != nil {
		panic(err)
	}
	return addr
}
