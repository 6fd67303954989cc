package integration

import (
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

		// Take the admission webhooks away, as a cluster with the webhook
		// down and failurePolicy Ignore (or an admin bypassing it) would.
		var hooks admissionv1.ValidatingWebhookConfigurationList
		Expect(k8s.List(ctx, &hooks)).To(Succeed())
		Expect(hooks.Items).NotTo(BeEmpty())
		for i := range hooks.Items {
			Expect(k8s.Delete(ctx, &hooks.Items[i])).To(Succeed())
		}
		DeferCleanup(func() {
			for i := range hooks.Items {
				h := hooks.Items[i].DeepCopy()
				h.ResourceVersion, h.UID = "", ""
				Expect(k8s.Create(ctx, h)).To(Succeed())
			}
		})

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
})
