package integration

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/gateway"
	"github.com/scopedns/scopedns/internal/provider"
)

// Small record GC values for the suite's manager: a record orphaned now is
// removed within about grace + interval.
const (
	recordGCInterval = 300 * time.Millisecond
	recordGCGrace    = 2 * time.Second
)

// operatorUser is the operator's ServiceAccount as the finalizer policy in
// config/admission names it.
const operatorUser = "system:serviceaccount:" + operatorNamespace + ":scopedns"

// installFinalizerPolicy creates the ValidatingAdmissionPolicy and binding of
// config/admission, exactly as kustomize installs them.
func installFinalizerPolicy() {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "admission", "finalizer-policy.yaml"))
	Expect(err).NotTo(HaveOccurred())
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	n := 0
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else {
			Expect(err).NotTo(HaveOccurred())
		}
		if len(u.Object) == 0 {
			continue
		}
		Expect(k8s.Create(ctx, &u)).To(Succeed())
		n++
	}
	Expect(n).To(Equal(2), "a policy and its binding")
}

// as returns a client acting as the given user, through impersonation.
func as(user string) client.Client {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user}
	cl, err := client.New(c, client.Options{Scheme: app.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	return cl
}

// claimEditor lets subject get and update claims: in ns, or cluster-wide
// when ns is empty.
func claimEditor(ns, user string) {
	name := uniq("claim-editor")
	rules := []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"dnsrecordclaims"},
		Verbs: []string{"get", "list", "watch", "update", "patch"}}}
	Expect(k8s.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules})).To(Succeed())
	subject := []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}
	if ns == "" {
		Expect(k8s.Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name}, Subjects: subject, RoleRef: ref})).To(Succeed())
		return
	}
	Expect(k8s.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Subjects: subject, RoleRef: ref})).To(Succeed())
}

func withFinalizer(c *v1alpha1.DNSRecordClaim) {
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, clientKey(c), c)).To(Succeed())
		g.Expect(c.Finalizers).To(ContainElement(controllers.ClaimFinalizer))
	}, 30*time.Second).Should(Succeed())
}

var _ = Describe("The records finalizer", func() {
	It("is removed only by the operator or a cluster admin; a tenant that may update its claims is refused", func() {
		label := uniq("fin") + ".example.io/dns"
		scope := tenantScope(uniq("fin"), label)
		createScope(scope)
		ns := uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})
		claim := newClaim(ns, "web", scope.Name, rec("web."+ns+".apps.example.com", v1alpha1.RecordTypeA, "192.0.2.1"))
		Expect(k8s.Create(ctx, claim)).To(Succeed())
		withFinalizer(claim)

		tenantUser := "system:serviceaccount:" + ns + ":deployer"
		claimEditor(ns, tenantUser)
		claimEditor("", operatorUser)
		tenant, operator := as(tenantUser), as(operatorUser)

		By("the tenant may update its claim")
		Eventually(func(g Gomega) {
			var c v1alpha1.DNSRecordClaim
			g.Expect(tenant.Get(ctx, clientKey(claim), &c)).To(Succeed())
			c.Labels = map[string]string{"team": "web"}
			g.Expect(tenant.Update(ctx, &c)).To(Succeed())
		}, 30*time.Second).Should(Succeed(), "RBAC lets the tenant update claims, so what refuses it below is the policy")

		By("but not remove the finalizer")
		// The API server compiles a new policy within a moment; until it
		// does, a removal goes through and the operator puts the finalizer
		// back, so each attempt starts from a claim that holds it.
		Eventually(func(g Gomega) {
			var c v1alpha1.DNSRecordClaim
			g.Expect(tenant.Get(ctx, clientKey(claim), &c)).To(Succeed())
			g.Expect(c.Finalizers).To(ContainElement(controllers.ClaimFinalizer))
			controllerutil.RemoveFinalizer(&c, controllers.ClaimFinalizer)
			err := tenant.Update(ctx, &c)
			g.Expect(apierrors.IsForbidden(err) || apierrors.IsInvalid(err)).To(BeTrue(), "removing the finalizer as a tenant: %v", err)
			g.Expect(err).To(MatchError(ContainSubstring("only the scopedns operator")))
			g.Expect(err).To(MatchError(ContainSubstring(tenantUser)))
		}, 30*time.Second).Should(Succeed())
		Consistently(func(g Gomega) {
			var c v1alpha1.DNSRecordClaim
			g.Expect(k8s.Get(ctx, clientKey(claim), &c)).To(Succeed())
			g.Expect(c.Finalizers).To(ContainElement(controllers.ClaimFinalizer))
		}, time.Second).Should(Succeed())

		By("the operator's ServiceAccount may")
		var c v1alpha1.DNSRecordClaim
		Expect(operator.Get(ctx, clientKey(claim), &c)).To(Succeed())
		controllerutil.RemoveFinalizer(&c, controllers.ClaimFinalizer)
		Expect(operator.Update(ctx, &c)).To(Succeed())
	})
})

var _ = Describe("The record garbage collector", func() {
	It("removes, after the grace, the records of a claim whose finalizer was forced off and of a namespace no longer granted, and never anyone else's", func() {
		label := uniq("gc") + ".example.io/dns"
		scope := tenantScope(uniq("gc"), label)
		scope.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
		// A master credential of its own, which the spec takes away.
		masterSecret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: uniq("gc-master")},
			Data:       map[string][]byte{"api-token": []byte(master)},
		}
		Expect(k8s.Create(ctx, masterSecret)).To(Succeed())
		scope.Spec.Provider.Cloudflare.APITokenSecretRef.Name = masterSecret.Name
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)
		a, b := uniq("team"), uniq("team")
		tenantNamespace(a, map[string]string{label: "true"})
		nsB := tenantNamespace(b, map[string]string{label: "true"})

		web := "web." + a + ".apps.example.com"
		old := newClaim(a, "web", scope.Name, rec(web, v1alpha1.RecordTypeA, "192.0.2.10"))
		Expect(k8s.Create(ctx, old)).To(Succeed())
		waitReady(old, v1alpha1.ConditionReady)
		Expect(recordsNamed("example.com", web)).To(ConsistOf(HaveField("Comment", provider.OwnerComment("it", a, "web"))))

		By("namespace b reserves a challenge name, and the gateway wrote a record there")
		challenge := "_acme-challenge." + b + ".apps.example.com"
		reserve := newClaim(b, "acme", scope.Name, rec(challenge, v1alpha1.RecordTypeTXT))
		Expect(k8s.Create(ctx, reserve)).To(Succeed())
		waitReady(reserve, v1alpha1.ConditionReady)
		_, err := cf.AddRecord("example.com", sim.Record{Name: challenge, Type: "TXT", Content: `"token-b"`, TTL: 120, Comment: gateway.OwnerComment("it", b)})
		Expect(err).NotTo(HaveOccurred())

		By("records scopedns did not write, or another cluster wrote")
		for _, r := range []sim.Record{
			{Name: "hand." + a + ".apps.example.com", Type: "A", Content: "192.0.2.30", TTL: 300},
			{Name: "note." + a + ".apps.example.com", Type: "TXT", Content: `"x"`, TTL: 300, Comment: "written by hand"},
			{Name: "other." + a + ".apps.example.com", Type: "A", Content: "192.0.2.31", TTL: 300, Comment: provider.OwnerComment("other-cluster", a, "gone")},
			{Name: "other." + b + ".apps.example.com", Type: "TXT", Content: `"y"`, TTL: 300, Comment: gateway.OwnerComment("other-cluster", b)},
		} {
			_, err := cf.AddRecord("example.com", r)
			Expect(err).NotTo(HaveOccurred())
		}

		By("the operator cannot clean up (its master credential is gone), so a cluster admin forces the finalizer off: the record stays behind")
		Expect(k8s.Delete(ctx, masterSecret)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, clientKey(scope), scope)).To(Succeed())
			g.Expect(conditionTrue(scope.Status.Conditions, v1alpha1.ConditionReady)).To(BeFalse())
		}, 30*time.Second).Should(Succeed())
		Expect(k8s.Delete(ctx, old)).To(Succeed())
		Eventually(func() error {
			if err := k8s.Get(ctx, clientKey(old), old); err != nil {
				return err
			}
			controllerutil.RemoveFinalizer(old, controllers.ClaimFinalizer)
			return k8s.Update(ctx, old)
		}, 10*time.Second).Should(Succeed())
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, clientKey(old), old)) }).Should(BeTrue())

		By("the credential is back")
		masterSecret.ResourceVersion = ""
		Expect(k8s.Create(ctx, masterSecret)).To(Succeed())
		waitReady(scope, v1alpha1.ConditionReady)

		By("the rightful namespace's new claim is Ready once the GC has removed the orphan, not NotOwned for ever")
		fresh := newClaim(a, "web-v2", scope.Name, rec(web, v1alpha1.RecordTypeA, "192.0.2.20"))
		Expect(k8s.Create(ctx, fresh)).To(Succeed())
		waitReady(fresh, v1alpha1.ConditionReady)
		Expect(recordsNamed("example.com", web)).To(ConsistOf(And(
			HaveField("Content", "192.0.2.20"), HaveField("Comment", provider.OwnerComment("it", a, "web-v2")))))

		By("the gateway's record stays while b's key is granted")
		Expect(recordsNamed("example.com", challenge)).To(HaveLen(1))

		By("the scope stops selecting namespace b: its gateway record goes")
		nsB.Labels = map[string]string{}
		Expect(k8s.Update(ctx, nsB)).To(Succeed())
		Eventually(func() []sim.Record { return recordsNamed("example.com", challenge) }, 30*time.Second).Should(BeEmpty())

		By("records without this cluster's marker are all still there, several grace periods later")
		for _, n := range []string{"hand." + a, "note." + a, "other." + a, "other." + b} {
			Expect(recordsNamed("example.com", n+".apps.example.com")).To(HaveLen(1), n)
		}
	})
})
