package integration

import (
	"os/exec"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
)

// sharedScope grants every labelled namespace its own names, and one name
// that any of them may claim: the older claim of it wins.
func sharedScope(label, shared string) *v1alpha1.DNSScope {
	s := newScope(uniq("verdict"), selecting(map[string]string{label: "true"}),
		withRules("example.com", rule(webTypes, 3600,
			"{namespace}.apps.example.com", "*.{namespace}.apps.example.com",
			"_acme-challenge.*.{namespace}.apps.example.com", shared)))
	s.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
	return s
}

// expectRefused waits for the controller to refuse a claim with reason,
// naming each of msgs in the Accepted condition.
func expectRefused(c *v1alpha1.DNSRecordClaim, reason string, msgs ...string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
		acc := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionAccepted)
		g.Expect(acc).NotTo(BeNil())
		g.Expect(acc.Reason).To(Equal(reason), acc.Message)
		for _, m := range msgs {
			g.Expect(acc.Message).To(ContainSubstring(m))
		}
	}, 30*time.Second).Should(Succeed())
}

// forgeStatus writes every record of a claim's status in state, as a tenant
// given status rights by a broad role could, until the manager's cache (what
// the webhook reads) shows it. The operator puts its own status back when it
// next reconciles the claim, so the write is made again whenever the cache
// shows anything else.
func forgeStatus(c *v1alpha1.DNSRecordClaim, state v1alpha1.RecordState) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		var seen v1alpha1.DNSRecordClaim
		g.Expect(mgrCache.Get(ctx, client.ObjectKeyFromObject(c), &seen)).To(Succeed())
		if len(seen.Status.Records) > 0 && seen.Status.Records[0].State == state {
			return
		}
		g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
		c.Status.Records = nil
		for _, r := range c.Spec.Records {
			c.Status.Records = append(c.Status.Records, v1alpha1.RecordStatus{Name: r.Name, Type: r.Type, State: state})
		}
		g.Expect(k8s.Status().Update(ctx, c)).To(Succeed())
		g.Expect(seen.Status.Records).To(HaveEach(HaveField("State", state)), "the manager's cache does not show the forged status yet")
	}, 10*time.Second, 50*time.Millisecond).Should(Succeed(), "the manager's cache sees the forged status")
}

var _ = Describe("Records one claim cannot hold together", func() {
	var scope *v1alpha1.DNSScope
	var ns string

	BeforeEach(func() {
		label := uniq("inclaim") + ".example.io/dns"
		scope = tenantScope(uniq("inclaim"), label)
		createScope(scope)
		ns = uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})
	})

	bad := func() map[string]struct {
		records []v1alpha1.RecordSpec
		index   string
		msg     string
	} {
		base := ns + ".apps.example.com"
		return map[string]struct {
			records []v1alpha1.RecordSpec
			index   string
			msg     string
		}{
			"mix": {[]v1alpha1.RecordSpec{rec("mix."+base, v1alpha1.RecordTypeTXT, `"v=1"`), rec("mix."+base, v1alpha1.RecordTypeCNAME, "lb.example.org")},
				"[1]", "mix." + base + " CNAME is at the same name as the TXT at spec.records[0]; a CNAME excludes every other type at its name"},
			"dup": {[]v1alpha1.RecordSpec{rec("dup."+base, v1alpha1.RecordTypeTXT, `"one"`), rec("DUP."+base+".", v1alpha1.RecordTypeTXT, `"two"`)},
				"[1]", "dup." + base + " TXT is listed twice (first at spec.records[0]"},
			"self": {[]v1alpha1.RecordSpec{rec("self."+base, v1alpha1.RecordTypeCNAME, "SELF."+base+".")},
				"[0]", "self." + base + " CNAME points at its own name"},
		}
	}

	It("are refused at admission, naming the record and the rule", func() {
		for name, tc := range bad() {
			err := k8s.Create(ctx, newClaim(ns, name, scope.Name, tc.records...))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%s: got %v", name, err)
			Expect(statusMessage(err)).To(ContainSubstring("spec.records"+tc.index+": Forbidden: "+tc.msg), name)
		}
	})

	It("are refused by the controller with the webhook off, and nothing of them is written", func() {
		waitReady(scope, v1alpha1.ConditionReady)
		DeferCleanup(removeWebhooks())
		for name, tc := range bad() {
			c := newClaim(ns, name, scope.Name, tc.records...)
			Eventually(func() error { return k8s.Create(ctx, c) }, 10*time.Second).Should(Succeed(), "admitted without the webhook")
			expectRefused(c, v1alpha1.ReasonInvalidRecords, "spec.records"+tc.index+": "+tc.msg)
			Expect(c.Status.Records).To(HaveEach(HaveField("State", v1alpha1.RecordRefused)))
		}
		base := ns + ".apps.example.com"
		Consistently(func() int {
			return len(recordsNamed("example.com", "mix."+base)) + len(recordsNamed("example.com", "dup."+base)) +
				len(recordsNamed("example.com", "self."+base))
		}, 2*time.Second).Should(BeZero())
	})
})

var _ = Describe("Claim status is no input to any decision", func() {
	var scope *v1alpha1.DNSScope
	var older, younger, shared string

	BeforeEach(func() {
		label := uniq("status") + ".example.io/dns"
		shared = "_acme-challenge." + uniq("shared") + ".example.com"
		scope = sharedScope(label, shared)
		createScope(scope)
		older, younger = uniq("status-a"), uniq("status-b")
		tenantNamespace(older, map[string]string{label: "true"})
		tenantNamespace(younger, map[string]string{label: "true"})
	})

	It("a status saying Reserved gives the gateway key no grant the verdict refuses", func() {
		if _, err := exec.LookPath("nsupdate"); err != nil {
			Skip("nsupdate not installed: run hack/setup.sh")
		}
		first := newClaim(older, "first", scope.Name, rec(shared, v1alpha1.RecordTypeTXT))
		Expect(k8s.Create(ctx, first)).To(Succeed())
		waitReady(first, v1alpha1.ConditionReady)

		restore := removeWebhooks()
		DeferCleanup(func() { restore() })
		own := "_acme-challenge.web." + younger + ".apps.example.com"
		outside := "_acme-challenge.web." + older + ".apps.example.com"
		mine := newClaim(younger, "own", scope.Name, rec(own, v1alpha1.RecordTypeTXT))
		steal := newClaim(younger, "steal", scope.Name, rec(shared, v1alpha1.RecordTypeTXT))
		reach := newClaim(younger, "reach", scope.Name, rec(outside, v1alpha1.RecordTypeTXT))
		for _, c := range []*v1alpha1.DNSRecordClaim{mine, steal, reach} {
			Eventually(func() error { return k8s.Create(ctx, c) }, 10*time.Second).Should(Succeed(), "admitted without the webhook")
		}
		waitReady(mine, v1alpha1.ConditionReady)
		expectRefused(steal, v1alpha1.ReasonConflict, older)
		expectRefused(reach, v1alpha1.ReasonOutsideGrant, outside)
		restore()

		var s corev1.Secret
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: younger, Name: scope.Name + "-dns-credentials"}, &s)).To(Succeed())
			g.Expect(s.Data[controllers.KeyTSIGSecret]).NotTo(BeEmpty())
		}, 30*time.Second).Should(Succeed())
		Eventually(func() error {
			_, err := nsupdate(&s, "update add "+own+". 120 TXT \"mine\"")
			return err
		}, 15*time.Second).Should(Succeed(), "the key writes the name its namespace reserved")

		By("writing Reserved into the status of the claim that lost the shared name, and of the one outside its grant")
		forgeStatus(steal, v1alpha1.RecordReserved)
		forgeStatus(reach, v1alpha1.RecordReserved)
		Consistently(func(g Gomega) {
			out, err := nsupdate(&s, "update add "+shared+". 120 TXT \"stolen\"")
			g.Expect(err).To(HaveOccurred())
			g.Expect(out).To(ContainSubstring("REFUSED"))
			out, err = nsupdate(&s, "update add "+outside+". 120 TXT \"stolen\"")
			g.Expect(err).To(HaveOccurred())
			g.Expect(out).To(ContainSubstring("REFUSED"))
		}, 3*time.Second, 500*time.Millisecond).Should(Succeed())
		Expect(recordsNamed("example.com", shared)).To(BeEmpty())
		Expect(recordsNamed("example.com", outside)).To(BeEmpty())
	})

	It("a status saying Refused or Conflict does not free the name for another namespace", func() {
		first := newClaim(older, "first", scope.Name, rec(shared, v1alpha1.RecordTypeTXT))
		Expect(k8s.Create(ctx, first)).To(Succeed())
		waitReady(first, v1alpha1.ConditionReady)
		for _, state := range []v1alpha1.RecordState{v1alpha1.RecordRefused, v1alpha1.RecordConflict} {
			forgeStatus(first, state)
			err := k8s.Create(ctx, newClaim(younger, uniq("take"), scope.Name, rec(shared, v1alpha1.RecordTypeTXT)))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "status %s: got %v", state, err)
			Expect(statusMessage(err)).To(ContainSubstring(shared+" TXT conflicts with "+shared+" TXT already claimed by namespace \""+older+"\""), string(state))
		}
	})
})

var _ = Describe("A claim that lost a name to an older claim", func() {
	It("does not block a third namespace's claim of a name below its refused NS", func() {
		label := uniq("lost") + ".example.io/dns"
		base := uniq("lost") + ".example.com"
		scope := newScope(uniq("lost"), selecting(map[string]string{label: "true"}),
			withRules("example.com",
				rule([]v1alpha1.RecordType{v1alpha1.RecordTypeNS, v1alpha1.RecordTypeTXT}, 0, base),
				rule([]v1alpha1.RecordType{v1alpha1.RecordTypeA}, 0, "*."+base)))
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)
		a, b, c := uniq("lost-a"), uniq("lost-b"), uniq("lost-c")
		for _, n := range []string{a, b, c} {
			tenantNamespace(n, map[string]string{label: "true"})
		}
		txt := newClaim(a, "txt", scope.Name, rec(base, v1alpha1.RecordTypeTXT, `"site-verification"`))
		Expect(k8s.Create(ctx, txt)).To(Succeed())
		waitReady(txt, v1alpha1.ConditionReady)

		restore := removeWebhooks()
		DeferCleanup(func() { restore() })
		deleg := newClaim(b, "deleg", scope.Name, rec(base, v1alpha1.RecordTypeNS, "ns1.example.net"))
		Eventually(func() error { return k8s.Create(ctx, deleg) }, 10*time.Second).Should(Succeed(), "admitted without the webhook")
		expectRefused(deleg, v1alpha1.ReasonConflict, a)
		restore()
		inCache(deleg)
		probe := newClaim(b, "probe", scope.Name, rec("payroll.example.com", v1alpha1.RecordTypeA, "203.0.113.66"))
		Eventually(func() error { return k8s.Create(ctx, probe, client.DryRunAll) }, 10*time.Second).
			Should(MatchError(ContainSubstring("denied")), "the webhook is back")

		www := newClaim(c, "www", scope.Name, rec("www."+base, v1alpha1.RecordTypeA, "203.0.113.30"))
		Expect(k8s.Create(ctx, www)).To(Succeed(), "the NS that lost to an older claim holds nothing against the third namespace")
		waitReady(www, v1alpha1.ConditionReady)
		Expect(recordsNamed("example.com", "www."+base)).To(ConsistOf(HaveField("Content", "203.0.113.30")))
		Expect(recordsNamed("example.com", base)).To(ConsistOf(HaveField("Type", "TXT")))
	})
})
