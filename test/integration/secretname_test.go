package integration

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
)

// Two scopes whose credentials name the same Secret in one namespace: the
// second is refused on its DNSCredential, and takes the name over once the
// first is gone. Before SecretNameConflict the second said SecretNotOwned
// (a Secret "not created by scopedns"), and it waited a minute's requeue
// after the first scope went.
var _ = Describe("Two scopes with one credentials Secret name", func() {
	It("keeps the first scope's Secret, refuses the second on its DNSCredential, and hands the name over when the first goes", func() {
		label := uniq("clash") + ".example.io/dns"
		const shared = "dns-credentials"
		first := tenantScope(uniq("first"), label)
		first.Spec.Credentials.SecretName = shared
		createScope(first)
		waitReady(first, v1alpha1.ConditionReady)
		ns := uniq("tenant")
		tenantNamespace(ns, map[string]string{label: "true"})
		Expect(k8s.Create(ctx, newClaim(ns, "acme", first.Name, rec("_acme-challenge."+ns+".apps.example.com", v1alpha1.RecordTypeTXT)))).To(Succeed())

		var s corev1.Secret
		var firstCred v1alpha1.DNSCredential
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName(first.Name, ns)}, &firstCred)).To(Succeed())
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: shared}, &s)).To(Succeed())
			g.Expect(s.UID).To(Equal(firstCred.Status.SecretUID))
			g.Expect(s.Data[controllers.KeyAPIToken]).NotTo(BeEmpty())
		}, 30*time.Second).Should(Succeed())
		firstUID, firstToken := s.UID, string(s.Data[controllers.KeyAPIToken])

		second := newScope(uniq("second"), selecting(map[string]string{label: "true"}),
			withRules("example.net", rule(webTypes, 3600, "_acme-challenge.*.{namespace}.example.net")))
		second.Spec.Credentials.SecretName = shared
		warnings.take()
		createScope(second)
		Expect(warnings.take()).To(ContainElement(ContainSubstring("DNSScope %s also writes its credentials to Secret %q", first.Name, shared)),
			"admission warns about the other scope")
		waitReady(second, v1alpha1.ConditionReady)
		Expect(k8s.Create(ctx, newClaim(ns, "acme-net", second.Name, rec("_acme-challenge.web."+ns+".example.net", v1alpha1.RecordTypeTXT)))).To(Succeed())

		secondKey := client.ObjectKey{Name: v1alpha1.DNSCredentialName(second.Name, ns)}
		var secondCred v1alpha1.DNSCredential
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, secondKey, &secondCred)).To(Succeed())
			ready := meta.FindStatusCondition(secondCred.Status.Conditions, v1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonSecretNameConflict), ready.Message)
			g.Expect(ready.Message).To(ContainSubstring("DNSScope " + first.Name))
		}, 30*time.Second).Should(Succeed())
		Expect(secondCred.Status.Token).To(BeNil(), "nothing is minted for a name another scope holds")
		Consistently(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: shared}, &s)).To(Succeed())
			g.Expect(s.UID).To(Equal(firstUID))
			g.Expect(string(s.Data[controllers.KeyAPIToken])).To(Equal(firstToken), "the first scope's values stay")
			g.Expect(s.Labels[controllers.LabelScope]).To(Equal(first.Name))
		}, 3*time.Second, 200*time.Millisecond).Should(Succeed())

		// The first scope goes: its credentials are revoked and its Secret
		// deleted, and that wakes the second, well before its slow requeue.
		Expect(k8s.Delete(ctx, first)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, secondKey, &secondCred)).To(Succeed())
			g.Expect(conditionTrue(secondCred.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "%+v", secondCred.Status.Conditions)
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: shared}, &s)).To(Succeed())
			g.Expect(s.UID).To(Equal(secondCred.Status.SecretUID))
			g.Expect(s.UID).NotTo(Equal(types.UID(firstUID)))
			g.Expect(s.Labels[controllers.LabelScope]).To(Equal(second.Name))
			g.Expect(s.Data[controllers.KeyAPIToken]).NotTo(BeEmpty())
			g.Expect(string(s.Data[controllers.KeyAPIToken])).NotTo(Equal(firstToken))
		}, 20*time.Second).Should(Succeed())
	})
})
