package integration

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// delegationScope grants, to every namespace with the label, NS at base and
// A records below it: a grant where one tenant's delegation could hide
// another tenant's names.
func delegationScope(label, base string) *v1alpha1.DNSScope {
	return newScope(uniq("deleg"), selecting(map[string]string{label: "true"}),
		withRules("example.com",
			rule([]v1alpha1.RecordType{v1alpha1.RecordTypeNS}, 0, base),
			rule([]v1alpha1.RecordType{v1alpha1.RecordTypeA}, 0, "*."+base)))
}

// inCache waits until the manager's cache (and so the webhook) sees a claim.
func inCache(c *v1alpha1.DNSRecordClaim) {
	GinkgoHelper()
	Eventually(func() error {
		return mgrCache.Get(ctx, client.ObjectKeyFromObject(c), &v1alpha1.DNSRecordClaim{})
	}).Should(Succeed())
}

var _ = Describe("NS delegation conflicts across names", func() {
	var label, base, older, younger string
	var scope *v1alpha1.DNSScope

	BeforeEach(func() {
		label = uniq("deleg") + ".example.io/dns"
		base = uniq("deleg") + ".example.com"
		scope = delegationScope(label, base)
		createScope(scope)
		// On equal creation seconds the tie goes to namespace/name, so the
		// namespace created first also sorts first.
		older, younger = uniq("deleg-a"), uniq("deleg-b")
		tenantNamespace(older, map[string]string{label: "true"})
		tenantNamespace(younger, map[string]string{label: "true"})
	})

	Context("at admission", func() {
		It("refuses an NS above a name another namespace holds, naming the holder", func() {
			www := newClaim(older, "www", scope.Name, rec("www."+base, v1alpha1.RecordTypeA, "203.0.113.20"))
			Expect(k8s.Create(ctx, www)).To(Succeed())
			inCache(www)

			err := k8s.Create(ctx, newClaim(younger, "deleg", scope.Name, rec(base, v1alpha1.RecordTypeNS, "ns1.example.net")))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(And(
				ContainSubstring(base+" NS would delegate away www."+base+" A already claimed by namespace \""+older+"\""),
				ContainSubstring(`(DNSRecordClaim "www")`)))
		})

		It("refuses a name below an NS another namespace holds, naming the holder", func() {
			deleg := newClaim(older, "deleg", scope.Name, rec(base, v1alpha1.RecordTypeNS, "ns1.example.net"))
			Expect(k8s.Create(ctx, deleg)).To(Succeed())
			inCache(deleg)

			err := k8s.Create(ctx, newClaim(younger, "www", scope.Name, rec("www."+base, v1alpha1.RecordTypeA, "203.0.113.21")))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(And(
				ContainSubstring("www."+base+" A lies below NS "+base+" already claimed by namespace \""+older+"\""),
				ContainSubstring(`(DNSRecordClaim "deleg")`)))
		})
	})

	Context("with the webhook unavailable", func() {
		// expectConflict waits for the controller to refuse the younger
		// claim's record as a conflict with the older one, and checks that
		// nothing is written at its name.
		expectConflict := func(c *v1alpha1.DNSRecordClaim, name string, olderClaim *v1alpha1.DNSRecordClaim) {
			GinkgoHelper()
			Eventually(func(g Gomega) {
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
				acc := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionAccepted)
				g.Expect(acc).NotTo(BeNil())
				g.Expect(acc.Reason).To(Equal(v1alpha1.ReasonConflict))
				g.Expect(acc.Message).To(ContainSubstring("namespace \"" + olderClaim.Namespace + "\" (DNSRecordClaim \"" + olderClaim.Name + "\")"))
				g.Expect(c.Status.Records).To(ContainElement(And(HaveField("Name", name), HaveField("State", v1alpha1.RecordConflict))))
			}, 30*time.Second).Should(Succeed())
			Consistently(func() int { return len(recordsNamed("example.com", name)) }, 2*time.Second).
				Should(BeZero(), "nothing is written for the younger claim's record")
		}

		It("refuses the younger NS above an older claim's name, and writes nothing for it", func() {
			waitReady(scope, v1alpha1.ConditionReady)
			DeferCleanup(removeWebhooks())
			www := newClaim(older, "www", scope.Name, rec("www."+base, v1alpha1.RecordTypeA, "203.0.113.22"))
			Eventually(func() error { return k8s.Create(ctx, www) }, 10*time.Second).Should(Succeed())
			waitReady(www, v1alpha1.ConditionReady)

			deleg := newClaim(younger, "deleg", scope.Name, rec(base, v1alpha1.RecordTypeNS, "ns1.example.net"))
			Eventually(func() error { return k8s.Create(ctx, deleg) }, 10*time.Second).Should(Succeed(), "admitted without the webhook")
			expectConflict(deleg, base, www)
			Expect(recordsNamed("example.com", "www."+base)).To(ConsistOf(HaveField("Content", "203.0.113.22")))

			By("deleting the older claim: the younger one takes the name at once, not at its next drift check")
			Expect(k8s.Delete(ctx, www)).To(Succeed())
			waitReady(deleg, v1alpha1.ConditionReady)
			Expect(recordsNamed("example.com", base)).To(ConsistOf(HaveField("Content", "ns1.example.net")))
			Expect(recordsNamed("example.com", "www."+base)).To(BeEmpty())
		})

		It("refuses the younger name below an older NS, and writes nothing for it", func() {
			waitReady(scope, v1alpha1.ConditionReady)
			DeferCleanup(removeWebhooks())
			deleg := newClaim(older, "deleg", scope.Name, rec(base, v1alpha1.RecordTypeNS, "ns1.example.net"))
			Eventually(func() error { return k8s.Create(ctx, deleg) }, 10*time.Second).Should(Succeed())
			waitReady(deleg, v1alpha1.ConditionReady)

			www := newClaim(younger, "www", scope.Name, rec("www."+base, v1alpha1.RecordTypeA, "203.0.113.23"))
			Eventually(func() error { return k8s.Create(ctx, www) }, 10*time.Second).Should(Succeed(), "admitted without the webhook")
			expectConflict(www, "www."+base, deleg)
			Expect(recordsNamed("example.com", base)).To(ConsistOf(HaveField("Content", "ns1.example.net")))
		})
	})
})
