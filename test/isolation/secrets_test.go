package isolation

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
)

// operatorLabels are the labels the operator puts on its credentials
// Secrets; any tenant can put them on its own.
func operatorLabels(scope string) map[string]string {
	return map[string]string{controllers.LabelManagedBy: controllers.ManagedBy, controllers.LabelScope: scope}
}

// describeSecrets: Secrets are the tenant's to write, and none of them is
// the operator's memory.
func describeSecrets() {
	Describe("Secrets a tenant writes", func() {
		It("do not count against the token quota: 250 fake Secrets in one namespace leave another namespace's first mint alone", func() {
			w := newWorld()
			// A holds credentials of its own first, so its namespace is one the
			// operator keeps (not one it cleans up) when the fakes arrive.
			w.a.claim(w, rec("_acme-challenge."+w.a.ns+".apps.example.com", v1alpha1.RecordTypeTXT))
			w.credentials(w.a)
			By("tenant A writing 250 Secrets labelled as the operator's, each naming invented tokens")
			DeferCleanup(func() { // an operator that counts them fails every later spec's mint too
				for i := range 250 {
					_ = admin.Delete(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: w.a.ns, Name: fmt.Sprintf("fake-%03d", i)}})
				}
			})
			for i := range 250 {
				Expect(w.a.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
					Namespace: w.a.ns, Name: fmt.Sprintf("fake-%03d", i), Labels: operatorLabels(w.scope.Name),
					Annotations: map[string]string{
						controllers.AnnTokenID:         fmt.Sprintf("%032x", i),
						controllers.AnnPreviousTokenID: fmt.Sprintf("%032x", 1000+i),
					},
				}})).To(Succeed())
			}
			By("tenant B's first claim: its token is minted (--token-quota is " + fmt.Sprint(tokenQuota) + ")")
			w.expectWorking(w.b)
		})

		It("cannot keep a rotated-out token alive by hiding its ID in a Secret of the tenant's own", func() {
			w := newWorld()
			w.a.claim(w, rec("_acme-challenge."+w.a.ns+".apps.example.com", v1alpha1.RecordTypeTXT))
			first := w.credentials(w.a)
			Eventually(func() []string { return tokenIDs(tokensOf(w.scope.Name, w.a.ns)) }).Should(HaveLen(1))
			old := tokensOf(w.scope.Name, w.a.ns)[0]

			By("the rotation schedule passing: a successor is minted, the old token waits out the overlap")
			// The schedule's period plus the largest spread (period/20).
			clock.Advance(13 * time.Hour)
			poke(w.a)
			Eventually(func(g Gomega) {
				var s corev1.Secret
				g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(first), &s)).To(Succeed())
				g.Expect(s.Data[controllers.KeyAPIToken]).NotTo(Equal(first.Data[controllers.KeyAPIToken]))
				g.Expect(tokenIDs(tokensOf(w.scope.Name, w.a.ns))).To(ContainElement(old.ID))
			}, 30*time.Second).Should(Succeed(), "rotated")

			By("A hiding the old token's ID in a labelled Secret, and taking its mention out of the credentials Secret")
			Expect(w.a.c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
				Namespace: w.a.ns, Name: "keep-alive", Labels: operatorLabels(w.scope.Name),
				Annotations: map[string]string{controllers.AnnTokenID: old.ID, controllers.AnnTokenName: old.Name},
			}})).To(Succeed())
			w.a.updateSecret(w.secretName(), func(s *corev1.Secret) {
				delete(s.Annotations, controllers.AnnPreviousTokenID)
				delete(s.Annotations, controllers.AnnPreviousRevokeAt)
			})

			By("the overlap ending, and the sweep running")
			clock.Advance(11 * time.Minute)
			poke(w.a)
			Eventually(func() bool { return hasToken(old.ID) }, 30*time.Second).Should(BeFalse(),
				"the rotated-out token is revoked after the overlap, whatever the tenant's Secrets say")
			w.expectWorking(w.b)
		})

		It("cannot get another namespace's token revoked by naming it as its own previous token", func() {
			w := newWorld()
			w.expectWorking(w.b)
			bSecret := w.credentials(w.b)
			bTokens := tokensOf(w.scope.Name, w.b.ns)
			Expect(bTokens).To(HaveLen(1))
			leaked := bTokens[0].ID // read as admin: as if it had leaked

			w.a.claim(w, rec("_acme-challenge."+w.a.ns+".apps.example.com", v1alpha1.RecordTypeTXT))
			w.credentials(w.a)
			By("A naming B's token as its own previous token, due for revocation an hour ago")
			w.a.updateSecret(w.secretName(), func(s *corev1.Secret) {
				s.Annotations[controllers.AnnPreviousTokenID] = leaked
				s.Annotations[controllers.AnnPreviousRevokeAt] = clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			})
			poke(w.a)
			Consistently(func() bool { return hasToken(leaked) }, 3*time.Second).Should(BeTrue(), "B's token is not A's to revoke")
			Expect(verifyToken(string(bSecret.Data[controllers.KeyAPIToken]))).To(Equal("active"))
			w.expectWorking(w.b)
		})

		It("is never adopted: a Secret of the credentials Secret's name created before the operator's gets no value, and the operator says why", func() {
			w := newWorld()
			By("A creating the credentials Secret itself, with the operator's labels, before its first claim")
			planted := map[string][]byte{"planted": []byte("by-tenant")}
			Expect(w.a.c.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: w.a.ns, Name: w.secretName(), Labels: operatorLabels(w.scope.Name)},
				Data:       planted,
			})).To(Succeed())
			w.a.claim(w, rec("_acme-challenge."+w.a.ns+".apps.example.com", v1alpha1.RecordTypeTXT))

			Consistently(func(g Gomega) {
				var s corev1.Secret
				g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: w.a.ns, Name: w.secretName()}, &s)).To(Succeed(), "a Secret the operator did not create is left alone")
				g.Expect(s.Data).To(Equal(planted), "no credential is written into a Secret the operator did not create")
			}, 3*time.Second).Should(Succeed())
			Eventually(func(g Gomega) {
				c, err := credentialCondition(w.scope.Name, w.a.ns, v1alpha1.ConditionReady)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal("SecretNotOwned"))
				g.Expect(c.Message).To(ContainSubstring(w.secretName()))
			}, 30*time.Second).Should(Succeed(), "DNSCredential %s.%s says why", w.scope.Name, w.a.ns)
			Expect(tokensOf(w.scope.Name, w.a.ns)).To(BeEmpty(), "nothing was minted for a Secret that cannot hold it")
			w.expectWorking(w.b)
		})

		It("are put back when they are the operator's and the tenant edits them, and the operator's state stays", func() {
			w := newWorld()
			w.a.claim(w, rec("_acme-challenge."+w.a.ns+".apps.example.com", v1alpha1.RecordTypeTXT))
			orig := w.credentials(w.a)
			Eventually(func() []string { return tokenIDs(tokensOf(w.scope.Name, w.a.ns)) }).Should(HaveLen(1))
			held := tokensOf(w.scope.Name, w.a.ns)[0].ID

			By("A rewriting the values and every scopedns.io annotation of its credentials Secret")
			w.a.updateSecret(w.secretName(), func(s *corev1.Secret) {
				s.Data[controllers.KeyAPIToken] = []byte("forged")
				s.Data[controllers.KeyTSIGSecret] = []byte("Zm9yZ2VkLWZvcmdlZC1mb3JnZWQtZm9yZ2VkLWZvcmdlZA==")
				for k := range s.Annotations {
					if strings.HasPrefix(k, "scopedns.io/") {
						s.Annotations[k] = "forged"
					}
				}
				s.Annotations[controllers.AnnTokenID] = "forged"
				s.Annotations[controllers.AnnNextRotation] = "2099-01-01T00:00:00Z"
			})
			Eventually(func(g Gomega) {
				var s corev1.Secret
				g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(orig), &s)).To(Succeed())
				g.Expect(string(s.Data[controllers.KeyAPIToken])).NotTo(Equal("forged"))
				g.Expect(verifyToken(string(s.Data[controllers.KeyAPIToken]))).To(Equal("active"))
				g.Expect(string(s.Data[controllers.KeyTSIGSecret])).NotTo(HavePrefix("Zm9yZ2Vk"))
				for k, v := range s.Annotations {
					if strings.HasPrefix(k, "scopedns.io/") {
						g.Expect(v).NotTo(Equal("forged"), "annotation %s", k)
					}
				}
			}, 30*time.Second).Should(Succeed(), "the operator puts its Secret back")
			Expect(hasToken(held)).To(BeTrue(), "the token the operator holds was not lost or revoked because its Secret was edited")
			w.expectWorking(w.b)
		})
	})
}
