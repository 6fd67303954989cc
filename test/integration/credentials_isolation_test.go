package integration

import (
	"encoding/json"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
)

// Each spec here is an attack a tenant with the standard `edit` role can
// make, since it writes Secrets in its own namespace; each failed on the
// release that kept the operator's state in Secret annotations.
var _ = Describe("Credentials a tenant cannot steer", func() {
	var (
		label string
		scope *v1alpha1.DNSScope
	)
	BeforeEach(func() {
		label = uniq("iso") + ".example.io/dns"
		scope = tenantScope(uniq("iso"), label)
		scope.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)
	})
	secretName := func() string { return scope.Name + "-dns-credentials" }
	claimIn := func(ns string) *v1alpha1.DNSRecordClaim {
		c := newClaim(ns, "web", scope.Name, rec("_acme-challenge."+ns+".apps.example.com", v1alpha1.RecordTypeTXT))
		ExpectWithOffset(1, k8s.Create(ctx, c)).To(Succeed())
		return c
	}
	tenant := func() string {
		ns := uniq("tenant")
		tenantNamespace(ns, map[string]string{label: "true"})
		return ns
	}
	// forged writes a Secret labelled as the operator's, for scopeName. A
	// scope that does not exist keeps the earlier release from retiring
	// (and so deleting) the Secret: it stays, as a tenant would keep it.
	forged := func(ns, name, scopeName string, ann map[string]string) *corev1.Secret {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, Annotations: ann,
			Labels: map[string]string{controllers.LabelManagedBy: controllers.ManagedBy, controllers.LabelScope: scopeName},
		}}
		ExpectWithOffset(1, k8s.Create(ctx, s)).To(Succeed())
		return s
	}

	It("does not count fake labelled Secrets with invented token IDs against the quota", func() {
		attacker := tenant()
		for i := range 250 {
			forged(attacker, fmt.Sprintf("fake-%d", i), "no-such-scope", map[string]string{
				controllers.AnnTokenID: fmt.Sprintf("invented-%d", i), controllers.AnnPreviousTokenID: fmt.Sprintf("invented-p%d", i),
			})
		}
		victim := tenant()
		claimIn(victim)
		token, _ := secretToken(victim, secretName())
		Expect(writeTXT(token, "example.com", "_acme-challenge."+victim+".apps.example.com")).To(Succeed())
	})

	It("does not keep a leaked token alive because a Secret copies its ID", func() {
		policy := []sim.Policy{{Effect: "allow", PermissionGroupIDs: []string{sim.PermZoneRead, sim.PermDNSWrite},
			Resources: map[string]any{"com.cloudflare.api.account.zone." + cf.ZoneID("example.com"): "*"}}}
		leaked, _, err := cf.MintToken(sim.TokenSpec{Name: provider.TokenName("it", scope.Name, "ghost", "1"), Policies: policy})
		Expect(err).NotTo(HaveOccurred())
		attacker := tenant()
		forged(attacker, "keepalive", "no-such-scope", map[string]string{controllers.AnnTokenID: leaked.ID, controllers.AnnMinting: leaked.Name})

		clock.Advance(11 * time.Minute)
		sweeper := &controllers.TokenSweeper{
			Client: k8s, ClusterName: "it", MinAge: 10 * time.Minute, Now: clock.Now,
			Providers: &controllers.SecretProviders{Reader: k8s, Namespace: operatorNamespace},
		}
		_, err = sweeper.Sweep(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(cf.Tokens()).NotTo(ContainElement(HaveField("ID", leaked.ID)), "a Secret is no reference")
	})

	It("does not revoke another namespace's token named as the previous token in a forged Secret", func() {
		victim, attacker := tenant(), tenant()
		claimIn(victim)
		claimIn(attacker)
		victimToken, victimSt := secretToken(victim, secretName())
		secretToken(attacker, secretName())

		var s corev1.Secret
		Eventually(func() error { // the operator may be writing it too
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: attacker, Name: secretName()}, &s); err != nil {
				return err
			}
			s.Annotations[controllers.AnnPreviousTokenID] = victimSt.Token.ID
			s.Annotations[controllers.AnnPreviousRevokeAt] = clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
			s.Annotations[controllers.AnnTokenZones] = cf.ZoneID("example.net")
			return k8s.Update(ctx, &s)
		}, 10*time.Second).Should(Succeed())

		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(&s), &s)).To(Succeed())
			g.Expect(s.Annotations).NotTo(HaveKey(controllers.AnnPreviousTokenID))
		}, 30*time.Second).Should(Succeed(), "the forged annotation goes")
		Expect(cf.Tokens()).To(ContainElement(HaveField("ID", victimSt.Token.ID)))
		Expect(writeTXT(victimToken, "example.com", "_acme-challenge."+victim+".apps.example.com")).To(Succeed())
	})

	It("never adopts a Secret of the credentials' name that it did not create", func() {
		ns := tenant()
		pre := forged(ns, secretName(), scope.Name, map[string]string{controllers.AnnTokenID: "mine"})
		pre.Data = map[string][]byte{"api-token": []byte("attacker-chosen")}
		Expect(k8s.Update(ctx, pre)).To(Succeed())
		claimIn(ns)

		dc := &v1alpha1.DNSCredential{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.DNSCredentialName(scope.Name, ns)}}
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(dc), dc)).To(Succeed())
			ready := meta.FindStatusCondition(dc.Status.Conditions, v1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonSecretNotOwned))
			g.Expect(ready.Message).To(ContainSubstring(ns + "/" + secretName()))
		}, 30*time.Second).Should(Succeed())
		Expect(dc.Status.Token).To(BeNil(), "nothing is minted that could not be delivered")
		Expect(secretData(ns, secretName(), controllers.KeyAPIToken)).To(Equal("attacker-chosen"), "the Secret is left alone")
		for _, t := range tokensNamedFor(scope.Name) {
			Expect(provider.TokenBelongsTo(t.Name, "it", scope.Name, ns)).To(BeFalse())
		}
	})

	It("puts an edited Secret back and recreates a deleted one", func() {
		ns := tenant()
		claimIn(ns)
		token, st := secretToken(ns, secretName())
		tsig := tsigSecret(ns, secretName())

		var s corev1.Secret
		Eventually(func() error { // the operator may be writing it too
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: secretName()}, &s); err != nil {
				return err
			}
			s.Data[controllers.KeyAPIToken] = []byte("edited")
			s.Data[controllers.KeyTSIGSecret] = []byte("edited")
			s.Annotations[controllers.AnnTokenExpires] = "2999-01-01T00:00:00Z"
			return k8s.Update(ctx, &s)
		}, 10*time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(&s), &s)).To(Succeed())
			g.Expect(string(s.Data[controllers.KeyAPIToken])).To(Equal(token.Reveal()))
			g.Expect(string(s.Data[controllers.KeyTSIGSecret])).To(Equal(tsig))
			g.Expect(s.Annotations[controllers.AnnTokenExpires]).To(Equal(st.Token.ExpiresAt.UTC().Format(time.RFC3339)))
		}, 30*time.Second).Should(Succeed())

		Expect(k8s.Delete(ctx, &s)).To(Succeed())
		again, st2 := secretToken(ns, secretName())
		Expect(st2.SecretUID).NotTo(Equal(st.SecretUID), "a new Secret, recorded as the operator's own")
		Expect(again).To(Equal(token), "the same token, from the vault")
	})

	It("migrates a Secret of the earlier release, adopting only the tokens that are this namespace's", func() {
		ns, other := tenant(), tenant()
		policy := []sim.Policy{{Effect: "allow", PermissionGroupIDs: []string{sim.PermZoneRead, sim.PermDNSWrite},
			Resources: map[string]any{"com.cloudflare.api.account.zone." + cf.ZoneID("example.com"): "*"}}}
		own, ownValue, err := cf.MintToken(sim.TokenSpec{Name: provider.TokenName("it", scope.Name, ns, "old"), Policies: policy})
		Expect(err).NotTo(HaveOccurred())
		foreign, _, err := cf.MintToken(sim.TokenSpec{Name: provider.TokenName("it", scope.Name, other, "old"), Policies: policy})
		Expect(err).NotTo(HaveOccurred())
		// Labelled for another scope, so that its creation alone does not
		// start the migration before the claim holds zones.
		legacy := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{
				Namespace: ns, Name: secretName(), Finalizers: []string{controllers.LegacySecretFinalizer},
				Labels: map[string]string{controllers.LabelManagedBy: controllers.ManagedBy, controllers.LabelScope: "elsewhere"},
				Annotations: map[string]string{
					controllers.AnnTokenID: own.ID, controllers.AnnPreviousTokenID: foreign.ID,
					controllers.AnnPreviousRevokeAt: clock.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
				},
			},
			Data: map[string][]byte{controllers.KeyAPIToken: []byte(ownValue), controllers.KeyTSIGSecret: []byte("b2xkLXRzaWctc2VjcmV0")},
		}
		Expect(k8s.Create(ctx, legacy)).To(Succeed())
		c := claimIn(ns)
		waitReady(c, v1alpha1.ConditionReady)

		_, st := secretToken(ns, secretName())
		Expect(st.Token.ID).To(Equal(own.ID), "this namespace's token is adopted")
		Expect(st.PreviousToken).To(BeNil(), "another namespace's token is not")
		Expect(st.SecretUID).To(Equal(legacy.UID))
		// The old Secret's TSIG secret could be one the tenant chose: the
		// gateway key is drawn anew.
		Eventually(func(g Gomega) {
			_, st := secretToken(ns, secretName())
			g.Expect(st.TSIG).NotTo(BeNil())
			g.Expect(vaultData(scope.Name, ns, controllers.KeyTSIGSecret)).NotTo(Or(BeEmpty(), Equal("b2xkLXRzaWctc2VjcmV0")))
		}, 30*time.Second).Should(Succeed())
		Expect(cf.Tokens()).To(ContainElement(HaveField("ID", foreign.ID)), "the foreign token is left alone")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(legacy), legacy)).To(Succeed())
			g.Expect(legacy.Finalizers).NotTo(ContainElement(controllers.LegacySecretFinalizer))
			g.Expect(legacy.Annotations).NotTo(HaveKey(controllers.AnnTokenID))
		}, 30*time.Second).Should(Succeed())
	})

	It("lists DNSCredentials with the audit columns", func() {
		ns := tenant()
		claimIn(ns)
		secretToken(ns, secretName())
		cs, err := kubernetes.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		var table metav1.Table
		Eventually(func(g Gomega) {
			raw, err := cs.RESTClient().Get().AbsPath("/apis/scopedns.io/v1alpha1/dnscredentials", v1alpha1.DNSCredentialName(scope.Name, ns)).
				SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(json.Unmarshal(raw, &table)).To(Succeed())
			var cols []string
			for _, c := range table.ColumnDefinitions {
				if c.Priority == 0 {
					cols = append(cols, c.Name)
				}
			}
			g.Expect(cols).To(Equal([]string{"Name", "Namespace", "Scope", "Kinds", "Zones", "Expires", "Next Rotation", "Ready", "Age"}))
			g.Expect(table.Rows).To(HaveLen(1))
			g.Expect(table.Rows[0].Cells[1:6]).To(HaveExactElements(ns, scope.Name, "token,tsig", BeNumerically("==", 1), Not(BeEmpty())))
			g.Expect(table.Rows[0].Cells[7]).To(Equal("True"))
		}, 30*time.Second).Should(Succeed())
	})
})
