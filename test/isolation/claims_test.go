package isolation

import (
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
)

// removeWebhooks takes the admission webhooks away, as a cluster whose
// webhook is down with failurePolicy Ignore (or an admin bypassing it)
// would, and returns the function that puts them back (once, however often
// called).
func removeWebhooks() func() {
	GinkgoHelper()
	var hooks admissionv1.ValidatingWebhookConfigurationList
	Expect(admin.List(ctx, &hooks)).To(Succeed())
	Expect(hooks.Items).NotTo(BeEmpty())
	for i := range hooks.Items {
		Expect(admin.Delete(ctx, &hooks.Items[i])).To(Succeed())
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for i := range hooks.Items {
				h := hooks.Items[i].DeepCopy()
				h.ResourceVersion, h.UID = "", ""
				Expect(admin.Create(ctx, h)).To(Succeed())
			}
		})
	}
}

// forget deletes a claim as the admin, removing its finalizer too (the
// admin is the finalizer guard's break glass).
func forget(c *v1alpha1.DNSRecordClaim) {
	GinkgoHelper()
	Expect(client.IgnoreNotFound(admin.Delete(ctx, c))).To(Succeed())
	Eventually(func() error {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(c), c); err != nil {
			return client.IgnoreNotFound(err)
		}
		c.Finalizers = nil
		return admin.Update(ctx, c)
	}, 10*time.Second).Should(Succeed())
}

// youngerThan returns once a claim created now is younger than c: creation
// times have whole seconds.
func youngerThan(c *v1alpha1.DNSRecordClaim) {
	GinkgoHelper()
	next := c.CreationTimestamp.Add(time.Second)
	Eventually(func() bool { return !time.Now().Before(next) }, 2*time.Second, 50*time.Millisecond).Should(BeTrue())
}

// webhookBack waits until the claim webhook answers again.
func webhookBack(w *world) {
	GinkgoHelper()
	probe := newClaim(w.a.ns, "probe", w.scope.Name, rec("payroll.example.com", v1alpha1.RecordTypeA, "203.0.113.66"))
	Eventually(func() error { return admin.Create(ctx, probe.DeepCopy(), client.DryRunAll) }, 10*time.Second).
		Should(MatchError(ContainSubstring("denied")), "the webhook is back")
}

func describeClaims() {
	Describe("A tenant's claims", func() {
		It("keep their finalizer: a tenant may not remove scopedns.io/records, the operator may", func() {
			w := newWorld()
			host := "fin." + w.a.ns + ".apps.example.com"
			c := w.a.claim(w, rec(host, v1alpha1.RecordTypeA, "203.0.113.20"))
			waitCondition(c, v1alpha1.ConditionReady)
			Expect(c.Finalizers).To(ContainElement(controllers.ClaimFinalizer))

			By("A removing the finalizer")
			var mine v1alpha1.DNSRecordClaim
			Expect(w.a.c.Get(ctx, client.ObjectKeyFromObject(c), &mine)).To(Succeed())
			mine.Finalizers = slices.DeleteFunc(mine.Finalizers, func(f string) bool { return f == controllers.ClaimFinalizer })
			err := w.a.c.Update(ctx, &mine)
			Expect(err).To(HaveOccurred(), "removing the records finalizer is the operator's alone")
			Expect(err.Error()).To(ContainSubstring(controllers.ClaimFinalizer))
			Expect(admin.Get(ctx, client.ObjectKeyFromObject(c), c)).To(Succeed())
			Expect(c.Finalizers).To(ContainElement(controllers.ClaimFinalizer))

			By("A deleting the claim: the operator removes the records, then its finalizer")
			Expect(w.a.c.Delete(ctx, c)).To(Succeed())
			Eventually(func() bool {
				return apierrors.IsNotFound(admin.Get(ctx, client.ObjectKeyFromObject(c), &v1alpha1.DNSRecordClaim{}))
			}, 30*time.Second).Should(BeTrue())
			Expect(recordsNamed(host)).To(BeEmpty())
			w.expectWorking(w.b)
		})

		It("get nothing from claim status: tenants cannot write it, and a forged one grants the gateway key nothing", func() {
			w := newWorld()
			shared := "_acme-challenge." + uniq("s") + ".shared.example.com"
			bClaim := w.b.claim(w, rec(shared, v1alpha1.RecordTypeTXT))
			waitCondition(bClaim, v1alpha1.ConditionReady)
			aClaim := w.a.claim(w, rec("_acme-challenge."+w.a.ns+".apps.example.com", v1alpha1.RecordTypeTXT))
			waitCondition(aClaim, v1alpha1.ConditionReady)
			aKey := keyOf(w.credentials(w.a))

			By("A writing its claim's status: Forbidden")
			var mine v1alpha1.DNSRecordClaim
			Expect(w.a.c.Get(ctx, client.ObjectKeyFromObject(aClaim), &mine)).To(Succeed())
			mine.Status.Records = append(mine.Status.Records, v1alpha1.RecordStatus{Name: "payroll.example.com", Type: v1alpha1.RecordTypeTXT, Zone: "example.com", State: v1alpha1.RecordReserved})
			err := w.a.c.Status().Update(ctx, &mine)
			Expect(apierrors.IsForbidden(err)).To(BeTrue(), "tenants have no RBAC on dnsrecordclaims/status: %v", err)

			By("A claiming B's name with the webhook bypassed: the controller refuses it")
			restore := removeWebhooks()
			DeferCleanup(func() { restore() })
			steal := newClaim(w.a.ns, uniq("steal"), w.scope.Name, rec(shared, v1alpha1.RecordTypeTXT))
			// Creation times have whole seconds, and claims created in the
			// same second are ordered by namespace/name: B's claim is older
			// only once the clock has left its second.
			youngerThan(bClaim)
			Eventually(func() error { return w.a.c.Create(ctx, steal) }, 10*time.Second).Should(Succeed(), "admitted without the webhook")
			Expect(steal.CreationTimestamp.After(bClaim.CreationTimestamp.Time)).To(BeTrue(), "B's claim is the older")
			restore()
			webhookBack(w)
			Eventually(func(g Gomega) {
				g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(steal), steal)).To(Succeed())
				g.Expect(steal.Status.Records).To(ContainElement(And(HaveField("Name", shared), HaveField("State", Not(Equal(v1alpha1.RecordReserved))))))
			}, 30*time.Second).Should(Succeed())

			By("an admin forging its status: Reserved for B's name and for a name outside A's grant")
			steal.Status.Records = []v1alpha1.RecordStatus{
				{Name: shared, Type: v1alpha1.RecordTypeTXT, Zone: "example.com", State: v1alpha1.RecordReserved},
				{Name: "payroll.example.com", Type: v1alpha1.RecordTypeTXT, Zone: "example.com", State: v1alpha1.RecordReserved},
			}
			Expect(admin.Status().Update(ctx, steal)).To(Succeed())
			// Polled slower than the gateway's per-key limit (10/s), so a REFUSED
			// is the grant's answer, not the rate limit's.
			Consistently(func() string { return rcodeName(update(aKey, addTXT(shared, "stolen"))) }, 3*time.Second, 300*time.Millisecond).
				Should(Equal("REFUSED"), "A's key gets no grant for B's name from a status")
			Expect(rcodeName(update(aKey, addTXT("payroll.example.com", "stolen")))).To(Equal("REFUSED"))
			Expect(recordsNamed(shared)).To(BeEmpty())
			Expect(recordsNamed("payroll.example.com")).To(BeEmpty())
			w.expectWorking(w.b)
		})

		It("learn that a name is taken, not who took it: admission and the claim's status say another namespace (--conceal-conflict-holders)", func() {
			w := newWorld()
			shared := "_acme-challenge." + uniq("h") + ".shared.example.com"
			bClaim := w.b.claim(w, rec(shared, v1alpha1.RecordTypeTXT))
			waitCondition(bClaim, v1alpha1.ConditionReady)
			// A's own claim, so that A has a gateway key to try B's name with.
			waitCondition(w.a.claim(w, rec("_acme-challenge."+w.a.ns+".apps.example.com", v1alpha1.RecordTypeTXT)), v1alpha1.ConditionReady)

			By("admission refusing A's claim of B's name without naming B")
			take := func() *v1alpha1.DNSRecordClaim {
				return newClaim(w.a.ns, "take", w.scope.Name, rec(shared, v1alpha1.RecordTypeTXT))
			}
			err := w.a.c.Create(ctx, take())
			Expect(err).To(HaveOccurred(), "%s is B's", shared)
			Expect(err.Error()).To(And(ContainSubstring(shared), ContainSubstring("already claimed by another namespace")))
			Expect(err.Error()).NotTo(Or(ContainSubstring(w.b.ns), ContainSubstring(bClaim.Name)), "the answer names the holder")

			By("the webhook bypassed: the claim's status refusing it without naming B")
			restore := removeWebhooks()
			DeferCleanup(func() { restore() })
			DeferCleanup(func() { forget(take()) })
			youngerThan(bClaim)
			Eventually(func() error { return w.a.c.Create(ctx, take()) }, 10*time.Second).Should(Succeed(), "admitted without the webhook")
			restore()
			webhookBack(w)
			var mine v1alpha1.DNSRecordClaim
			Eventually(func(g Gomega) {
				g.Expect(w.a.c.Get(ctx, client.ObjectKeyFromObject(take()), &mine)).To(Succeed())
				g.Expect(meta.FindStatusCondition(mine.Status.Conditions, v1alpha1.ConditionAccepted)).To(And(
					Not(BeNil()), HaveField("Reason", v1alpha1.ReasonConflict), HaveField("Message", ContainSubstring("already claimed by another namespace"))))
			}, 30*time.Second).Should(Succeed())
			for _, c := range mine.Status.Conditions {
				Expect(c.Message).NotTo(Or(ContainSubstring(w.b.ns), ContainSubstring(bClaim.Name)), "condition %s names the holder", c.Type)
			}
			for _, r := range mine.Status.Records {
				Expect(r.Message).NotTo(Or(ContainSubstring(w.b.ns), ContainSubstring(bClaim.Name)), "the status of %s %s names the holder", r.Name, r.Type)
			}
			var events eventsv1.EventList
			Expect(admin.List(ctx, &events, client.InNamespace(w.a.ns))).To(Succeed())
			for _, e := range events.Items {
				Expect(e.Note).NotTo(ContainSubstring(w.b.ns), "event %s in A's namespace names the holder", e.Reason)
			}

			By("A's gateway key refused at B's name, and B's record untouched")
			Expect(rcodeName(update(keyOf(w.credentials(w.a)), addTXT(shared, "taken")))).To(Equal("REFUSED"))
			Expect(recordsNamed(shared)).To(BeEmpty(), "B reserved the name; nothing was written there")
			w.expectWorking(w.b)
		})

		It("fail alone: what the provider would refuse in one claim is refused at admission, and with the webhook bypassed the other namespace's claim in the zone still lands", func() {
			w := newWorld()
			x := uniq("bad") + "." + w.a.ns + ".apps.example.com"
			dup := uniq("dup") + "." + w.a.ns + ".apps.example.com"
			cnameBesideTXT := func() *v1alpha1.DNSRecordClaim {
				return newClaim(w.a.ns, "cname-beside-txt", w.scope.Name,
					rec(x, v1alpha1.RecordTypeCNAME, "target.example.org"), rec(x, v1alpha1.RecordTypeTXT, "v=1"))
			}
			twice := func() *v1alpha1.DNSRecordClaim {
				return newClaim(w.a.ns, "twice", w.scope.Name,
					rec(dup, v1alpha1.RecordTypeA, "203.0.113.1"), rec(strings.ToUpper(dup)+".", v1alpha1.RecordTypeA, "203.0.113.2"))
			}

			By("admission refusing a CNAME beside another type at one name, naming the record and the rule")
			err := w.a.c.Create(ctx, cnameBesideTXT())
			Expect(err).To(HaveOccurred(), "a CNAME beside a TXT at %s is refused by the provider, so by admission", x)
			Expect(err.Error()).To(And(ContainSubstring(x), ContainSubstring("CNAME")))
			By("admission refusing the same record twice after normalisation")
			err = w.a.c.Create(ctx, twice())
			Expect(err).To(HaveOccurred(), "%s and %s. are one record", dup, strings.ToUpper(dup))
			Expect(err.Error()).To(ContainSubstring(dup))

			By("the webhook bypassed: both bad claims stored beside B's good one in the same zone")
			restore := removeWebhooks()
			DeferCleanup(func() { restore() })
			// An operator whose batches fail whole would stall every later
			// spec's claims in example.com: take them away, finalizer and all.
			DeferCleanup(func() {
				for _, name := range []string{"cname-beside-txt", "twice"} {
					forget(&v1alpha1.DNSRecordClaim{ObjectMeta: metav1.ObjectMeta{Namespace: w.a.ns, Name: name}})
				}
			})
			Eventually(func() error { return w.a.c.Create(ctx, cnameBesideTXT()) }, 10*time.Second).Should(Succeed())
			Expect(w.a.c.Create(ctx, twice())).To(Succeed())
			good := "good." + w.b.ns + ".apps.example.com"
			goodClaim := w.b.claim(w, rec(good, v1alpha1.RecordTypeA, "203.0.113.30"))
			restore()
			waitCondition(goodClaim, v1alpha1.ConditionReady)
			Expect(recordsNamed(good)).To(ConsistOf(HaveField("Content", "203.0.113.30")))
			w.expectWorking(w.b)
		})
	})
}

// signedAdds is one UPDATE adding a TXT at every name.
func signedAdds(names []string, value string) []func(*dns.Msg) {
	out := make([]func(*dns.Msg), 0, len(names))
	for _, n := range names {
		out = append(out, addTXT(n, value))
	}
	return out
}
