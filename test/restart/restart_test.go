package restart

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
)

const (
	tenantLabel = "restart.example.io/dns"
	scopeName   = "prod"
)

var _ = Describe("The API server restarting under the operator", func() {
	It("loses, duplicates and leaks nothing, and still refuses claims outside the grant", func() {
		Expect(k8s.Create(ctx, grantScope())).To(Succeed())
		Eventually(func(g Gomega) {
			var s v1alpha1.DNSScope
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: scopeName}, &s)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "%+v", s.Status.Conditions)
		}, 30*time.Second).Should(Succeed())

		want := claims{}
		var namespaces []string
		tenant := func() string {
			ns := fmt.Sprintf("team-%d", len(namespaces))
			namespaces = append(namespaces, ns)
			Eventually(func() error {
				return ignore(apierrors.IsAlreadyExists, k8s.Create(ctx, &corev1.Namespace{
					ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{tenantLabel: "true"}},
				}))
			}, 30*time.Second).Should(Succeed())
			return ns
		}
		for range 6 {
			tenant()
		}

		By("creating claims outside the grant with the admission webhook bypassed")
		bad := []*v1alpha1.DNSRecordClaim{
			claim(namespaces[0], "payroll", a("payroll.example.com", "203.0.113.66"), a("ok."+namespaces[0]+".example.com", "203.0.113.67")),
			// A name granted to another namespace.
			claim(namespaces[1], "steal", a("mail."+namespaces[2]+".example.com", "203.0.113.68")),
		}
		withoutWebhooks(func() {
			for _, c := range bad {
				Eventually(func() error { return k8s.Create(ctx, c) }, 10*time.Second).Should(Succeed(), "admitted without the webhook")
			}
		})

		By("creating claims in every namespace, slowed down at the provider so the restart lands mid-convergence")
		cf.SetFaults(sim.Faults{Latency: 150 * time.Millisecond, OpLatency: map[string]time.Duration{"tokens.create": 2 * time.Second}})
		DeferCleanup(func() { cf.SetFaults(sim.Faults{}) })
		for _, ns := range namespaces {
			want.apply(claim(ns, "web", a("www."+ns+".example.com", "203.0.113.1", "203.0.113.2"), txt("txt."+ns+".example.com", "hello")))
			want.apply(claim(ns, "api", a("api."+ns+".example.net", "198.51.100.1")))
		}
		// Each provider call takes 150ms and a mint 2s more: a Secret that
		// announces a mint now cannot be written back before the API server
		// is gone, even on a loaded machine.
		var minting []string
		Eventually(func() []string { minting = mintsAnnounced(); return minting }, 30*time.Second, 10*time.Millisecond).
			ShouldNot(BeEmpty(), "a token is being minted")

		By("killing the API server mid-mint and starting it again on the same address, certificates and etcd")
		exits, minted := len(op.Exits()), len(tokensOfCluster())
		down := restartAPIServer(true, false, func() {
			// Until a token is minted that its Secret cannot receive.
			Eventually(func() int { return len(tokensOfCluster()) }, 10*time.Second, 10*time.Millisecond).
				Should(BeNumerically(">", minted), "a mint completes at the provider while the API server is away")
		})
		// Away less than RenewDeadline, the leader usually keeps its lease and
		// its informers reconnect; on a loaded machine it may give up, and a
		// new manager takes over. Either way the end state must be the same.
		fmt.Fprintf(GinkgoWriter, "restart 1: killed while mints were announced in %v; API server away %v; managers that exited: %d\n",
			minting, down.Round(time.Millisecond), len(op.Exits())-exits)

		By("editing, deleting and adding claims right after the restart")
		want.apply(claim(namespaces[0], "web", a("www."+namespaces[0]+".example.com", "203.0.113.3"), txt("txt."+namespaces[0]+".example.com", "edited")))
		want.remove(namespaces[3], "api")
		late := tenant()
		want.apply(claim(late, "web", a("www."+late+".example.com", "203.0.113.4")))

		By("stopping the API server and restarting etcd while the leader holds its lease, and keeping the API server down until it gives up")
		Eventually(op.Leading, 60*time.Second, 100*time.Millisecond).Should(BeTrue(), "a manager leads again")
		want.apply(claim(namespaces[4], "api", a("api."+namespaces[4]+".example.net", "198.51.100.2", "198.51.100.3")))
		later := tenant()
		want.apply(claim(later, "web", a("www."+later+".example.com", "203.0.113.5")))
		fmt.Fprintf(GinkgoWriter, "restart 2: %d of %d claims Ready, %d records and %d tokens at the provider when the API server stopped\n",
			want.ready(), len(want), len(recordsAtProvider()), len(tokensOfCluster()))
		exits = len(op.Exits())
		down = restartAPIServer(false, true, func() {
			// A leader that cannot renew its lease for RenewDeadline (8s)
			// stops: controller-runtime's Start returns "leader election lost".
			Eventually(func() []string { return op.Exits()[exits:] }, 30*time.Second, 100*time.Millisecond).
				Should(ContainElement("leader election lost"), "the leader gives up its lease")
		})
		fmt.Fprintf(GinkgoWriter, "restart 2: API server and etcd away %v; manager exits so far: %q\n", down.Round(time.Millisecond), op.Exits())

		By("waiting for every claim to converge after the restarts")
		cf.SetFaults(sim.Faults{})
		for _, c := range bad {
			Eventually(func(g Gomega) {
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
				acc := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionAccepted)
				g.Expect(acc).NotTo(BeNil())
				g.Expect(acc.Reason).To(Equal(v1alpha1.ReasonOutsideGrant), "%s/%s", c.Namespace, c.Name)
			}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
		}
		Eventually(func(g Gomega) {
			for key, spec := range want {
				var c v1alpha1.DNSRecordClaim
				g.Expect(k8s.Get(ctx, key, &c)).To(Succeed())
				g.Expect(c.Spec.Records).To(Equal(spec), "%s holds the last edit", key)
				g.Expect(c.Status.ObservedGeneration).To(Equal(c.Generation), "%s: %+v", key, c.Status.Conditions)
				g.Expect(meta.IsStatusConditionTrue(c.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "%s: %+v", key, c.Status.Conditions)
			}
			g.Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: namespaces[3], Name: "api"}, &v1alpha1.DNSRecordClaim{}))).
				To(BeTrue(), "the deleted claim is gone once its records are")
		}, 90*time.Second, 200*time.Millisecond).Should(Succeed())

		By("checking the provider: exactly the claimed records, and one token per namespace, each referenced by its DNSCredential")
		Eventually(recordsAtProvider, 30*time.Second, 200*time.Millisecond).Should(ConsistOf(want.records()), "no record lost or duplicated, none of a refused claim")
		referenced := map[string]string{}
		for _, ns := range namespaces {
			// Credentials are delivered once the claims are Ready.
			var s corev1.Secret
			var dc v1alpha1.DNSCredential
			Eventually(func(g Gomega) {
				g.Expect(k8s.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName(scopeName, ns)}, &dc)).To(Succeed())
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: scopeName + "-dns-credentials"}, &s)).To(Succeed(), "%s: %+v", ns, dc.Status.Conditions)
				g.Expect(dc.Status.Minting).To(BeEmpty(), "%s: no mint left half-done", ns)
				g.Expect(dc.Status.Token).NotTo(BeNil(), ns)
				g.Expect(s.UID).To(Equal(dc.Status.SecretUID), "%s: the Secret is the operator's own", ns)
				g.Expect(s.Data[controllers.KeyAPIToken]).NotTo(BeEmpty(), ns)
			}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
			Expect(dc.Status.PreviousToken).To(BeNil(), "%s: nothing rotates in this test", ns)
			referenced[dc.Status.Token.ID] = ns
			Expect(writeTXT(provider.Secret(s.Data[controllers.KeyAPIToken]), "example.com", "check."+ns+".example.com")).
				To(Succeed(), "namespace %s's token works", ns)
		}
		Expect(referenced).To(HaveLen(len(namespaces)), "one token per namespace")
		Eventually(func() []string {
			var ids []string
			for _, t := range tokensOfCluster() {
				ids = append(ids, t.ID)
			}
			return ids
		}, 30*time.Second, 200*time.Millisecond).Should(ConsistOf(keys(referenced)), "no token of this cluster unreferenced by a DNSCredential")
		fmt.Fprintf(GinkgoWriter, "managers: %d elected, exits %q\n", op.Elected(), op.Exits())
	})
})

// restartAPIServer stops kube-apiserver, killing it (SIGKILL, a crash or an
// OOM kill) when crash is set and otherwise as a control plane upgrade does
// (SIGTERM); restarts etcd too when withEtcd is set; keeps the API server
// down until holdDown returns; and starts it again. It returns how long the
// API server was away.
func restartAPIServer(crash, withEtcd bool, holdDown func()) time.Duration {
	GinkgoHelper()
	api, etcd := env.ControlPlane.APIServer, env.ControlPlane.Etcd
	addr, ca, etcdAt := api.SecureServing.ListenAddr, api.SecureServing.CA, etcd.URL.String()
	stopped := time.Now()
	if crash {
		Expect(syscall.Kill(apiServerPID(), syscall.SIGKILL)).To(Succeed())
	}
	Expect(api.Stop()).To(Succeed()) // SIGTERM, or only the wait after a kill
	fmt.Fprintf(GinkgoWriter, "kube-apiserver stopped in %v\n", time.Since(stopped))
	if withEtcd {
		Expect(etcd.Stop()).To(Succeed())
		Expect(etcd.Start()).To(Succeed())
		Expect(etcd.URL.String()).To(Equal(etcdAt), "etcd came back on its client URL")
	}
	holdDown()
	t := time.Now()
	Expect(api.Start()).To(Succeed())
	fmt.Fprintf(GinkgoWriter, "kube-apiserver started in %v\n", time.Since(t))
	Expect(api.SecureServing.ListenAddr).To(Equal(addr), "the API server came back on its address")
	Expect(api.SecureServing.CA).To(Equal(ca), "the API server came back with its serving CA")
	Eventually(func() error { return k8s.Get(ctx, client.ObjectKey{Name: opNS}, &corev1.Namespace{}) }, 30*time.Second).
		Should(Succeed(), "clients of the first start reach the restarted API server")
	return time.Since(stopped)
}

// apiServerPID finds the kube-apiserver envtest started, which it keeps to
// itself: the child of this process run with this suite's certificate
// directory.
func apiServerPID() int {
	GinkgoHelper()
	dirs, err := os.ReadDir("/proc")
	Expect(err).NotTo(HaveOccurred())
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if filepath.Base(args[0]) == "kube-apiserver" && slices.Contains(args, "--cert-dir="+env.ControlPlane.APIServer.CertDir) {
			return pid
		}
	}
	Fail("kube-apiserver is not a child of this process")
	return 0
}

// withoutWebhooks runs f with the admission webhooks taken away, as a
// cluster with the webhook down and failurePolicy Ignore (or an admin
// bypassing it) would.
func withoutWebhooks(f func()) {
	GinkgoHelper()
	var hooks admissionv1.ValidatingWebhookConfigurationList
	Expect(k8s.List(ctx, &hooks)).To(Succeed())
	Expect(hooks.Items).NotTo(BeEmpty())
	for i := range hooks.Items {
		Expect(k8s.Delete(ctx, &hooks.Items[i])).To(Succeed())
	}
	f()
	for i := range hooks.Items {
		h := hooks.Items[i].DeepCopy()
		h.ResourceVersion, h.UID = "", ""
		Expect(k8s.Create(ctx, h)).To(Succeed())
	}
}
