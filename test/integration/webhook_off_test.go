package integration

import (
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

var _ = Describe("With the webhook unavailable", func() {
	It("the controller still refuses a claim outside its grant and writes nothing", func() {
		label := uniq("nowh") + ".example.io/dns"
		scope := tenantScope(uniq("nowh"), label)
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)
		ns := uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})

		DeferCleanup(removeWebhooks())

		steal := newClaim(ns, "steal", scope.Name, rec("payroll.example.com", v1alpha1.RecordTypeA, "203.0.113.66"),
			rec("web."+ns+".apps.example.com", v1alpha1.RecordTypeA, "203.0.113.67"))
		Eventually(func() error { return k8s.Create(ctx, steal) }, 10*time.Second).Should(Succeed(), "admitted without the webhook")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(steal), steal)).To(Succeed())
			acc := meta.FindStatusCondition(steal.Status.Conditions, v1alpha1.ConditionAccepted)
			g.Expect(acc).NotTo(BeNil())
			g.Expect(acc.Reason).To(Equal(v1alpha1.ReasonOutsideGrant))
			g.Expect(acc.Message).To(ContainSubstring("payroll.example.com"))
		}, 30*time.Second).Should(Succeed())
		Consistently(func() int {
			return len(recordsNamed("example.com", "payroll.example.com")) + len(recordsNamed("example.com", "web."+ns+".apps.example.com"))
		}, 2*time.Second).Should(BeZero(), "nothing of a claim outside its grant is written, not even its granted records")
	})

	It("lets the controller finish a claim admitted while it was off, once it is back", func() {
		label := uniq("backwh") + ".example.io/dns"
		scope := tenantScope(uniq("backwh"), label)
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)
		ns := uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})

		restore := removeWebhooks()
		DeferCleanup(func() { restore() }) // if the spec fails before the webhook is back
		steal := newClaim(ns, "steal", scope.Name, rec("payroll.example.com", v1alpha1.RecordTypeA, "203.0.113.66"))
		Eventually(func() error { return k8s.Create(ctx, steal) }, 10*time.Second).Should(Succeed(), "admitted without the webhook")
		restore()
		probe := newClaim(ns, "probe", scope.Name, rec("payroll.example.com", v1alpha1.RecordTypeA, "203.0.113.66"))
		Eventually(func() error { return k8s.Create(ctx, probe.DeepCopy(), client.DryRunAll) }, 10*time.Second).
			Should(MatchError(ContainSubstring("denied")), "the webhook is back")

		By("editing the claim's metadata only, as the controller does to add its finalizer")
		Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(steal), steal); err != nil {
				return err
			}
			steal.Labels = map[string]string{"team": "payroll"}
			return k8s.Update(ctx, steal)
		}, 10*time.Second).Should(Succeed(), "an edit that leaves the spec alone is not judged again")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(steal), steal)).To(Succeed())
			acc := meta.FindStatusCondition(steal.Status.Conditions, v1alpha1.ConditionAccepted)
			g.Expect(acc).NotTo(BeNil())
			g.Expect(acc.Reason).To(Equal(v1alpha1.ReasonOutsideGrant))
		}, 30*time.Second).Should(Succeed(), "the controller refuses it in status")

		By("editing its records")
		steal.Spec.Records = append(steal.Spec.Records, rec("web."+ns+".apps.example.com", v1alpha1.RecordTypeA, "203.0.113.67"))
		Expect(k8s.Update(ctx, steal)).To(MatchError(ContainSubstring("payroll.example.com")), "a spec edit is judged whole")
		Expect(recordsNamed("example.com", "payroll.example.com")).To(BeEmpty())
	})
})

var _ = Describe("A claim refused outside its grant", func() {
	It("does not hold the name it was refused against the namespace it belongs to", func() {
		label := uniq("held") + ".example.io/dns"
		scope := tenantScope(uniq("held"), label)
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)
		thief, owner := uniq("team"), uniq("team")
		tenantNamespace(thief, map[string]string{label: "true"})
		tenantNamespace(owner, map[string]string{label: "true"})
		name := "web." + owner + ".apps.example.com"

		restore := removeWebhooks()
		DeferCleanup(func() { restore() })
		steal := newClaim(thief, "steal", scope.Name, rec(name, v1alpha1.RecordTypeA, "203.0.113.66"))
		Eventually(func() error { return k8s.Create(ctx, steal) }, 10*time.Second).Should(Succeed(), "admitted without the webhook")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(steal), steal)).To(Succeed())
			g.Expect(steal.Status.Records).To(ContainElement(And(HaveField("Name", name), HaveField("State", v1alpha1.RecordRefused))))
		}, 30*time.Second).Should(Succeed(), "the controller refuses the other namespace's name")
		restore()
		Eventually(func(g Gomega) {
			// The webhook's cache must see the refusal before the owner asks.
			var seen v1alpha1.DNSRecordClaim
			g.Expect(mgrCache.Get(ctx, client.ObjectKeyFromObject(steal), &seen)).To(Succeed())
			g.Expect(seen.Status.Records).NotTo(BeEmpty())
		}, 10*time.Second).Should(Succeed())

		probe := newClaim(thief, "probe", scope.Name, rec("payroll.example.com", v1alpha1.RecordTypeA, "203.0.113.66"))
		Eventually(func() error { return k8s.Create(ctx, probe, client.DryRunAll) }, 10*time.Second).
			Should(MatchError(ContainSubstring("denied")), "the webhook is back")

		mine := newClaim(owner, "web", scope.Name, rec(name, v1alpha1.RecordTypeA, "203.0.113.7"))
		Expect(k8s.Create(ctx, mine)).To(Succeed(), "the webhook admits the owner's claim: the refused claim holds nothing")
		waitReady(mine, v1alpha1.ConditionReady)
		Expect(recordsNamed("example.com", name)).To(ConsistOf(HaveField("Content", "203.0.113.7")))
	})
})

// removeWebhooks takes the admission webhooks away, as a cluster with the
// webhook down and failurePolicy Ignore (or an admin bypassing it) would,
// and returns the function that puts them back (once, however often called).
func removeWebhooks() func() {
	GinkgoHelper()
	var hooks admissionv1.ValidatingWebhookConfigurationList
	Expect(k8s.List(ctx, &hooks)).To(Succeed())
	Expect(hooks.Items).NotTo(BeEmpty())
	for i := range hooks.Items {
		Expect(k8s.Delete(ctx, &hooks.Items[i])).To(Succeed())
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for i := range hooks.Items {
				h := hooks.Items[i].DeepCopy()
				h.ResourceVersion, h.UID = "", ""
				Expect(k8s.Create(ctx, h)).To(Succeed())
			}
		})
	}
}
