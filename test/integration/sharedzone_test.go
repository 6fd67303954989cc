package integration

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// Cloudflare tokens are zone-wide: the scope says so at admission and in
// its status, and overlapping templates are caught at admission.
var _ = Describe("Shared zones", func() {
	var label string

	BeforeEach(func() {
		label = uniq("shared") + ".example.io/dns"
	})

	It("warns at admission that provider tokens are zone-wide in a templated zone", func() {
		warnings.take()
		s := appsScope(uniq("zone-wide"), label)
		Expect(k8s.Create(ctx, s)).To(Succeed())
		Expect(warnings.take()).To(ContainElement(And(ContainSubstring("zone-wide"), ContainSubstring(`"example.com"`), ContainSubstring("rfc2136"))))
	})

	It("warns at admission about rule names that meet for two namespaces, and refuses them with strictTemplates", func() {
		warnings.take()
		// A zone of its own, and gone after the spec: the claim path refuses
		// every name these templates give two namespaces, in every scope,
		// and other specs claim base names in example.com.
		s := newScope(uniq("overlap"), selecting(map[string]string{label: "true"}),
			withRules("overlap.example", rule(webTypes, 0, "{namespace}.apps.overlap.example", "*.{namespace}.overlap.example")))
		Expect(k8s.Create(ctx, s)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, s))).To(Succeed()) })
		Expect(warnings.take()).To(ContainElement(And(ContainSubstring(`"x.apps.overlap.example"`), ContainSubstring(`namespace "apps"`))))

		strict := newScope(uniq("strict"), selecting(map[string]string{label: "true"}),
			withRules("overlap.example", rule(webTypes, 0, "{namespace}.apps.overlap.example", "*.{namespace}.overlap.example")))
		strict.Spec.StrictTemplates = true
		err := k8s.Create(ctx, strict)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
		Expect(statusMessage(err)).To(And(ContainSubstring("spec.zones[0].rules[0].names[0]"), ContainSubstring("strictTemplates")))
	})

	It("names in the scope's status the namespaces whose tokens share a zone", func() {
		a, b := uniq("share-a"), uniq("share-b")
		tenantNamespace(a, map[string]string{label: "true"})
		tenantNamespace(b, map[string]string{label: "true"})
		s := appsScope(uniq("shared-status"), label)
		createScope(s)
		for _, ns := range []string{a, b} {
			Expect(k8s.Create(ctx, newClaim(ns, "web", s.Name, rec("web."+ns+".apps.example.com", v1alpha1.RecordTypeA, "203.0.113.10")))).To(Succeed())
		}
		Eventually(func(g Gomega) {
			var got v1alpha1.DNSScope
			g.Expect(k8s.Get(ctx, clientKey(s), &got)).To(Succeed())
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionSharedZoneTokens)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonZoneWideTokens))
			g.Expect(c.Message).To(And(ContainSubstring("zone example.com: held by 2 namespaces"), ContainSubstring(a), ContainSubstring(b)))
			g.Expect(c.ObservedGeneration).To(Equal(got.Generation))
		}, 30*time.Second).Should(Succeed())
	})

	It("reports no shared zone when the gateway's keys are the only credentials", func() {
		tenantNamespace(uniq("tsig-a"), map[string]string{label: "true"})
		tenantNamespace(uniq("tsig-b"), map[string]string{label: "true"})
		s := appsScope(uniq("tsig-only"), label)
		s.Spec.Credentials.ProviderToken = &v1alpha1.CredentialToggle{Enabled: false}
		s.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
		createScope(s)
		Eventually(func(g Gomega) {
			var got v1alpha1.DNSScope
			g.Expect(k8s.Get(ctx, clientKey(s), &got)).To(Succeed())
			c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionSharedZoneTokens)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonNoSharedZones))
		}, 30*time.Second).Should(Succeed())
	})
})
