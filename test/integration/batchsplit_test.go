package integration

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
)

var _ = Describe("A claim the provider refuses beside other namespaces' claims in one zone batch", func() {
	It("fails alone with the provider's reason while the others are written in the same pass", func() {
		label := uniq("split") + ".example.io/dns"
		scope := tenantScope(uniq("split"), label)
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)
		bad, good := uniq("team"), uniq("team")
		tenantNamespace(bad, map[string]string{label: "true"})
		tenantNamespace(good, map[string]string{label: "true"})

		// A value admission has every reason to admit and the provider
		// refuses: nothing before the provider can know.
		poison := uniq("poison")
		cf.SetFaults(sim.Faults{RefuseContent: []string{poison}})
		DeferCleanup(func() { cf.SetFaults(sim.Faults{}) })

		// Created together, so that the claims' changes join one batch.
		refused := newClaim(bad, "refused", scope.Name, rec("txt."+bad+".apps.example.com", v1alpha1.RecordTypeTXT, poison))
		Expect(k8s.Create(ctx, refused)).To(Succeed())
		var others []*v1alpha1.DNSRecordClaim
		for i := range 4 {
			c := newClaim(good, fmt.Sprintf("web%d", i), scope.Name,
				rec(fmt.Sprintf("web%d.%s.apps.example.com", i, good), v1alpha1.RecordTypeA, fmt.Sprintf("203.0.113.%d", 20+i)))
			Expect(k8s.Create(ctx, c)).To(Succeed())
			others = append(others, c)
		}

		for i, c := range others {
			// A pass is a 250 ms batch window plus the provider's answers,
			// the split included; a refused batch retried on backoff would
			// take several.
			waitReadyWithin(c, 10*time.Second)
			Expect(recordsNamed("example.com", fmt.Sprintf("web%d.%s.apps.example.com", i, good))).
				To(ConsistOf(HaveField("Content", fmt.Sprintf("203.0.113.%d", 20+i))))
		}
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(refused), refused)).To(Succeed())
			ready := meta.FindStatusCondition(refused.Status.Conditions, v1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonProviderError))
			g.Expect(ready.Message).To(ContainSubstring("refused by Faults.RefuseContent"), "the provider's own reason")
			g.Expect(refused.Status.Records).To(ConsistOf(And(
				HaveField("State", v1alpha1.RecordError),
				HaveField("Message", ContainSubstring("refused by Faults.RefuseContent")))))
		}, 10*time.Second).Should(Succeed())
		Expect(recordsNamed("example.com", "txt."+bad+".apps.example.com")).To(BeEmpty())

		// Ready in the end is not enough: the good claims must never have
		// failed for the refused one (today's batch fails them all first).
		Consistently(func() []string {
			var evs eventsv1.EventList
			Expect(k8s.List(ctx, &evs, client.InNamespace(good))).To(Succeed())
			var failed []string
			for _, e := range evs.Items {
				if e.Reason == v1alpha1.ReasonProviderError {
					failed = append(failed, e.Regarding.Name+": "+e.Note)
				}
			}
			return failed
		}, 3*time.Second, 250*time.Millisecond).Should(BeEmpty(), "no claim of namespace %s failed beside the refused claim", good)
	})
})
