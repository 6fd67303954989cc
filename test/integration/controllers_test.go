package integration

import (
	"context"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

// tenantScope grants each selected namespace names under
// <namespace>.apps.example.com and *.<namespace>.example.net.
func tenantScope(name, tenantLabel string) *v1alpha1.DNSScope {
	return newScope(name,
		selecting(map[string]string{tenantLabel: "true"}),
		withRules("example.com", rule(webTypes, 3600,
			"{namespace}.apps.example.com", "*.{namespace}.apps.example.com",
			"_acme-challenge.{namespace}.apps.example.com", "_acme-challenge.*.{namespace}.apps.example.com")),
		withRules("example.net", rule(webTypes, 3600, "*.{namespace}.example.net", "_acme-challenge.*.{namespace}.example.net")))
}

func waitReady(obj client.Object, condType string) {
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		var conds []metav1.Condition
		switch o := obj.(type) {
		case *v1alpha1.DNSScope:
			conds = o.Status.Conditions
		case *v1alpha1.DNSRecordClaim:
			conds = o.Status.Conditions
		}
		c := meta.FindStatusCondition(conds, condType)
		g.Expect(c).NotTo(BeNil(), "no %s condition yet", condType)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s: %s", c.Reason, c.Message)
	}, 30*time.Second).Should(Succeed())
}

// secretToken waits for the namespace's credentials Secret to hold a token
// and returns it with the DNSCredential's status (the secret name is
// "<scope>-dns-credentials").
func secretToken(ns, name string) (provider.Secret, v1alpha1.DNSCredentialStatus) {
	scope := strings.TrimSuffix(name, "-dns-credentials")
	var s corev1.Secret
	var dc v1alpha1.DNSCredential
	EventuallyWithOffset(1, func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName(scope, ns)}, &dc)).To(Succeed())
		g.Expect(dc.Status.Token).NotTo(BeNil())
		g.Expect(dc.Status.Minting).To(BeEmpty())
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)).To(Succeed())
		g.Expect(s.Data[controllers.KeyAPIToken]).NotTo(BeEmpty())
		g.Expect(s.UID).To(Equal(dc.Status.SecretUID))
		if exp := dc.Status.Token.ExpiresAt; exp != nil {
			g.Expect(s.Annotations[controllers.AnnTokenExpires]).To(Equal(exp.UTC().Format(time.RFC3339)), "the Secret is rendered from the token the status holds")
		}
	}, 30*time.Second).Should(Succeed())
	return provider.Secret(s.Data[controllers.KeyAPIToken]), dc.Status
}

// tokenID is the ID of a held token, or "" when there is none.
func tokenID(t *v1alpha1.HeldToken) string {
	if t == nil {
		return ""
	}
	return t.ID
}

// vaultData reads a key of a DNSCredential's vault Secret in the operator's namespace.
func vaultData(scope, ns, key string) string {
	var s corev1.Secret
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Namespace: operatorNamespace, Name: "dnscredential." + v1alpha1.DNSCredentialName(scope, ns)}, &s)).To(Succeed())
	return string(s.Data[key])
}

// writeTXT writes (and removes) a TXT record with a tenant's token, the way
// a DNS-01 solver would, and returns the provider's error.
func writeTXT(token provider.Secret, zone, name string) error {
	p, err := cloudflare.New(cloudflare.Options{AccountID: account, APIToken: token, BaseURL: cfURL, MaxRetries: -1, RateLimit: -1})
	Expect(err).NotTo(HaveOccurred())
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := p.ApplyChanges(c, cf.ZoneID(zone), provider.Changes{Create: []provider.Record{{Name: name, Type: "TXT", Content: uniq("challenge"), TTL: 60}}})
	if err != nil {
		return err
	}
	_, err = p.ApplyChanges(c, cf.ZoneID(zone), provider.Changes{Delete: res.Created})
	return err
}

func recordsNamed(zone, name string) []sim.Record {
	var out []sim.Record
	for _, r := range cf.Records(zone) {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// poke makes the operator look at a claim again now, for specs that moved
// the fake clock (RequeueAfter runs on the real one).
func poke(c *v1alpha1.DNSRecordClaim) {
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations["test.scopedns.io/poke"] = clock.Now().String()
	ExpectWithOffset(1, k8s.Update(ctx, c)).To(Succeed())
}

var _ = Describe("Controllers on the Cloudflare simulator", func() {
	var label string

	BeforeEach(func() { label = uniq("ctl") + ".example.io/dns" })

	It("writes each tenant's records with ownership and hands it a token for its own zones only", func() {
		scope := tenantScope(uniq("prod"), label)
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)
		Expect(scope.Status.Zones).To(ContainElement(v1alpha1.ZoneStatus{Name: "example.com", ID: cf.ZoneID("example.com")}))

		a, b := uniq("team"), uniq("team")
		tenantNamespace(a, map[string]string{label: "true"})
		tenantNamespace(b, map[string]string{label: "true"})
		claimA := newClaim(a, "web", scope.Name,
			rec("web."+a+".apps.example.com", v1alpha1.RecordTypeA, "203.0.113.10", "203.0.113.11"),
			rec("_acme-challenge.web."+a+".apps.example.com", v1alpha1.RecordTypeTXT))
		claimB := newClaim(b, "api", scope.Name, rec("api."+b+".example.net", v1alpha1.RecordTypeCNAME, "lb.example.org"))
		Expect(k8s.Create(ctx, claimA)).To(Succeed())
		Expect(k8s.Create(ctx, claimB)).To(Succeed())
		waitReady(claimA, v1alpha1.ConditionReady)
		waitReady(claimB, v1alpha1.ConditionReady)

		recs := recordsNamed("example.com", "web."+a+".apps.example.com")
		Expect(recs).To(HaveLen(2))
		for _, r := range recs {
			Expect(r.Comment).To(Equal(provider.OwnerComment("it", a, "web")))
		}
		Expect(recordsNamed("example.net", "api."+b+".example.net")).To(ConsistOf(HaveField("Content", "lb.example.org")))
		Expect(claimA.Status.Records).To(ContainElements(
			HaveField("State", v1alpha1.RecordWritten), HaveField("State", v1alpha1.RecordReserved)))
		Expect(claimA.Status.CredentialsSecretName).To(Equal(scope.Name + "-dns-credentials"))

		tokenA, stA := secretToken(a, scope.Name+"-dns-credentials")
		tokenB, _ := secretToken(b, scope.Name+"-dns-credentials")
		Expect(stA.Token.ZoneIDs).To(Equal([]string{cf.ZoneID("example.com")}))
		Expect(stA.Zones).To(BeEquivalentTo(1))
		Expect(writeTXT(tokenA, "example.com", "_acme-challenge.web."+a+".apps.example.com")).To(Succeed())
		Expect(provider.IsForbidden(writeTXT(tokenA, "example.net", "_acme-challenge.x."+a+".example.net"))).To(BeTrue())
		Expect(writeTXT(tokenB, "example.net", "_acme-challenge.api."+b+".example.net")).To(Succeed())
		Expect(provider.IsForbidden(writeTXT(tokenB, "example.com", "_acme-challenge.web."+a+".apps.example.com"))).To(BeTrue())

		By("deleting a claim: its records go and the token narrows")
		claimA2 := newClaim(a, "net", scope.Name, rec("x."+a+".example.net", v1alpha1.RecordTypeTXT, "hello"))
		Expect(k8s.Create(ctx, claimA2)).To(Succeed())
		waitReady(claimA2, v1alpha1.ConditionReady)
		Eventually(func() []string {
			_, st := secretToken(a, scope.Name+"-dns-credentials")
			return st.Token.ZoneIDs
		}, 30*time.Second).Should(ContainElement(cf.ZoneID("example.net")))
		Expect(writeTXT(tokenA, "example.net", "_acme-challenge.x."+a+".example.net")).To(Succeed(), "widened in place: same value")

		Expect(k8s.Delete(ctx, claimA2)).To(Succeed())
		Eventually(func() []sim.Record { return recordsNamed("example.net", "x."+a+".example.net") }, 30*time.Second).Should(BeEmpty())
		Eventually(func() bool {
			return provider.IsForbidden(writeTXT(tokenA, "example.net", "_acme-challenge.x."+a+".example.net"))
		}, 30*time.Second).Should(BeTrue())

		By("deleting the namespace: the DNSCredential stays until the token is revoked, then it and the Secret go")
		var nsB corev1.Namespace
		Expect(k8s.Get(ctx, client.ObjectKey{Name: b}, &nsB)).To(Succeed())
		Expect(k8s.Delete(ctx, &nsB)).To(Succeed())
		Eventually(func() error { return writeTXT(tokenB, "example.net", "_acme-challenge.api."+b+".example.net") }, 30*time.Second).
			Should(Satisfy(provider.IsForbidden))
		Eventually(func() bool {
			err := k8s.Get(ctx, client.ObjectKey{Namespace: b, Name: scope.Name + "-dns-credentials"}, &corev1.Secret{})
			return apierrors.IsNotFound(err)
		}, 30*time.Second).Should(BeTrue())
		Eventually(func() error {
			return k8s.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName(scope.Name, b)}, &v1alpha1.DNSCredential{})
		}, 30*time.Second).Should(Satisfy(apierrors.IsNotFound))
	})

	It("never touches a record it did not write and says so", func() {
		scope := tenantScope(uniq("prod"), label)
		createScope(scope)
		ns := uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})
		name := "legacy." + ns + ".apps.example.com"
		pre, err := cf.AddRecord("example.com", sim.Record{Name: name, Type: "A", Content: "198.51.100.7", TTL: 120, Comment: "hand-made"})
		Expect(err).NotTo(HaveOccurred())
		// Zone snapshots older than a minute are listed again before a
		// claim creates records; earlier specs may have listed this zone.
		clock.Advance(2 * time.Minute)

		c := newClaim(ns, "legacy", scope.Name, rec(name, v1alpha1.RecordTypeA, "203.0.113.20"))
		Expect(k8s.Create(ctx, c)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
			ready := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonRecordNotOwned))
		}, 30*time.Second).Should(Succeed())
		Expect(recordsNamed("example.com", name)).To(ConsistOf(And(HaveField("ID", pre.ID), HaveField("Content", "198.51.100.7"), HaveField("Comment", "hand-made"))))

		Expect(k8s.Delete(ctx, c)).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(c), c) }, 30*time.Second).Should(Satisfy(apierrors.IsNotFound))
		Expect(recordsNamed("example.com", name)).To(ConsistOf(HaveField("ID", pre.ID)), "deleting the claim leaves the foreign record")
	})

	It("rotates on the schedule: the new token is written, the old one works until the overlap ends", func() {
		scope := tenantScope(uniq("rot"), label)
		scope.Spec.Credentials.Rotation = v1alpha1.RotationSpec{Schedule: "@every 1h", Overlap: &metav1.Duration{Duration: 10 * time.Minute}}
		scope.Spec.Credentials.ExpireAfter = &metav1.Duration{Duration: 2 * time.Hour}
		scope.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
		createScope(scope)
		ns := uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})
		c := newClaim(ns, "web", scope.Name, rec("_acme-challenge."+ns+".apps.example.com", v1alpha1.RecordTypeTXT))
		Expect(k8s.Create(ctx, c)).To(Succeed())
		waitReady(c, v1alpha1.ConditionReady)
		secretName := scope.Name + "-dns-credentials"
		oldToken, oldSt := secretToken(ns, secretName)
		oldTSIG := tsigSecret(ns, secretName)
		Expect(oldTSIG).NotTo(BeEmpty())

		clock.Advance(65 * time.Minute) // past the rotation and its spread (at most 3 minutes)
		poke(c)
		var newToken provider.Secret
		var newSt v1alpha1.DNSCredentialStatus
		Eventually(func() string {
			newToken, newSt = secretToken(ns, secretName)
			return newSt.Token.ID
		}, 30*time.Second).ShouldNot(Equal(oldSt.Token.ID))
		Expect(tokenID(newSt.PreviousToken)).To(Equal(oldSt.Token.ID))
		Expect(newSt.TSIG.PreviousValidUntil).NotTo(BeNil())
		Expect(writeTXT(newToken, "example.com", "_acme-challenge."+ns+".apps.example.com")).To(Succeed())
		Expect(writeTXT(oldToken, "example.com", "_acme-challenge."+ns+".apps.example.com")).To(Succeed(), "the old token works during the overlap")
		Expect(tsigSecret(ns, secretName)).NotTo(Equal(oldTSIG), "the TSIG key rotates with the token")
		Expect(vaultData(scope.Name, ns, controllers.KeyTSIGPrevious)).To(Equal(oldTSIG), "the previous TSIG secret is kept in the vault for the overlap")
		Expect(secretData(ns, secretName, controllers.KeyTSIGPrevious)).To(BeEmpty(), "the tenant gets only the current secret")

		clock.Advance(11 * time.Minute)
		poke(c)
		Eventually(func() error { return writeTXT(oldToken, "example.com", "_acme-challenge."+ns+".apps.example.com") }, 30*time.Second).
			ShouldNot(Succeed())
		Expect(writeTXT(newToken, "example.com", "_acme-challenge."+ns+".apps.example.com")).To(Succeed())
		Eventually(func() string {
			_, st := secretToken(ns, secretName)
			return tokenID(st.PreviousToken)
		}, 30*time.Second).Should(BeEmpty())
		Eventually(func() string { return vaultData(scope.Name, ns, controllers.KeyTSIGPrevious) }, 30*time.Second).
			Should(BeEmpty(), "the previous TSIG secret is dropped when the overlap ends")
	})

	It("leaks no token when the answer to a mint is lost, and still hands out a working one", func() {
		scope := tenantScope(uniq("lost"), label)
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)
		before := len(tokensNamedFor(scope.Name))
		cf.SetFaults(sim.Faults{LoseResponses: map[string]int{"tokens.create": 1}})
		DeferCleanup(func() { cf.SetFaults(sim.Faults{}) })

		ns := uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})
		c := newClaim(ns, "web", scope.Name, rec("_acme-challenge."+ns+".apps.example.com", v1alpha1.RecordTypeTXT))
		Expect(k8s.Create(ctx, c)).To(Succeed())
		token, st := secretToken(ns, scope.Name+"-dns-credentials")
		Expect(writeTXT(token, "example.com", "_acme-challenge."+ns+".apps.example.com")).To(Succeed())
		Eventually(func() []sim.TokenInfo { return tokensNamedFor(scope.Name) }, 30*time.Second).
			Should(ConsistOf(HaveField("ID", st.Token.ID)), "the token of the lost answer was revoked (had %d before)", before)
	})
})

// tokensNamedFor lists the simulator's live tokens minted by this cluster for a scope.
func tokensNamedFor(scope string) []sim.TokenInfo {
	var out []sim.TokenInfo
	for _, t := range cf.Tokens() {
		parts, ok := provider.ParseTokenName(t.Name)
		if ok && parts.Scope == scope {
			out = append(out, t)
		}
	}
	return out
}

var _ = Describe("Deleting a DNSScope", func() {
	It("removes the records of its claims and revokes every namespace's token before it goes", func() {
		label := uniq("del") + ".example.io/dns"
		scope := tenantScope(uniq("doomed"), label)
		createScope(scope)
		ns := uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})
		name := "web." + ns + ".apps.example.com"
		c := newClaim(ns, "web", scope.Name, rec(name, v1alpha1.RecordTypeA, "203.0.113.40"),
			rec("_acme-challenge."+ns+".apps.example.com", v1alpha1.RecordTypeTXT))
		Expect(k8s.Create(ctx, c)).To(Succeed())
		waitReady(c, v1alpha1.ConditionReady)
		token, _ := secretToken(ns, scope.Name+"-dns-credentials")
		Expect(recordsNamed("example.com", name)).To(HaveLen(1))

		Expect(k8s.Delete(ctx, scope)).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(scope), &v1alpha1.DNSScope{}) }, 60*time.Second).
			Should(Satisfy(apierrors.IsNotFound), "the scope's finalizer is released once everything it granted is gone")
		Expect(recordsNamed("example.com", name)).To(BeEmpty())
		Expect(writeTXT(token, "example.com", "_acme-challenge."+ns+".apps.example.com")).NotTo(Succeed())
		Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: scope.Name + "-dns-credentials"}, &corev1.Secret{}))).To(BeTrue())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
		Expect(meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionAccepted).Reason).To(Equal(v1alpha1.ReasonScopeNotFound))
	})
})

func secretData(ns, name, key string) string {
	var s corev1.Secret
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s)).To(Succeed())
	return string(s.Data[key])
}

func tsigSecret(ns, name string) string {
	var v string
	EventuallyWithOffset(1, func() string { v = secretData(ns, name, controllers.KeyTSIGSecret); return v }, 30*time.Second).ShouldNot(BeEmpty())
	return v
}
