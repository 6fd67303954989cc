package integration

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
)

var _ = Describe("Convergence under provider faults", func() {
	It("converges with 30% of calls failing, lost answers and rate limiting, with no duplicate and no lost record", func() {
		label := uniq("faults") + ".example.io/dns"
		scope := tenantScope(uniq("faulty"), label)
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)

		// 30% of calls fail with 5xx; bursts of 429 (Retry-After: 1) hit
		// batches, mints and zone lists; two batch answers and one mint
		// answer are lost after the provider acted on them.
		cf.SetFaults(sim.Faults{
			ErrorRate:     0.3,
			Seed:          7,
			FailOps:       map[string]int{"dns_records.batch": 3, "tokens.create": 2, "dns_records.list": 3},
			FailStatus:    429,
			LoseResponses: map[string]int{"dns_records.batch": 2, "tokens.create": 1},
		})
		DeferCleanup(func() { cf.SetFaults(sim.Faults{}) })

		type want struct{ name, content, owner string }
		var wants []want
		var claims []*v1alpha1.DNSRecordClaim
		for n := 0; n < 3; n++ {
			ns := uniq("tenant")
			tenantNamespace(ns, map[string]string{label: "true"})
			for c := 0; c < 2; c++ {
				claimName := fmt.Sprintf("app%d", c)
				var recs []v1alpha1.RecordSpec
				for r := 0; r < 3; r++ {
					name := fmt.Sprintf("r%d-%s.%s.apps.example.com", r, claimName, ns)
					value := fmt.Sprintf("203.0.113.%d", 10*c+r+1)
					recs = append(recs, rec(name, v1alpha1.RecordTypeA, value))
					wants = append(wants, want{name, value, provider.OwnerComment("it", ns, claimName)})
				}
				claim := newClaim(ns, claimName, scope.Name, recs...)
				Expect(k8s.Create(ctx, claim)).To(Succeed())
				claims = append(claims, claim)
			}
		}
		for _, c := range claims {
			waitReadyWithin(c, 3*time.Minute)
		}

		cf.SetFaults(sim.Faults{}) // read the truth without faults
		for _, w := range wants {
			Expect(recordsNamed("example.com", w.name)).To(ConsistOf(And(HaveField("Content", w.content), HaveField("Comment", w.owner))),
				"exactly one record for %s", w.name)
		}
		ids := map[string]bool{}
		for i := 0; i < len(claims); i += 2 { // one claim per namespace
			ns := claims[i].Namespace
			token, ann := secretToken(ns, scope.Name+"-dns-credentials")
			Expect(writeTXT(token, "example.com", "_acme-challenge.x."+ns+".apps.example.com")).To(Succeed())
			ids[ann.Token.ID] = true
		}
		Expect(ids).To(HaveLen(3))
		Eventually(func() []string {
			var live []string
			for _, t := range tokensNamedFor(scope.Name) {
				live = append(live, t.ID)
			}
			return live
		}, 30*time.Second).Should(ConsistOf(keys(ids)), "one token per namespace, none leaked by the lost mint answer")
	})
})

func waitReadyWithin(c *v1alpha1.DNSRecordClaim, d time.Duration) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, clientKey(c), c)).To(Succeed())
		g.Expect(conditionTrue(c.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "%+v", c.Status.Conditions)
	}, d, 200*time.Millisecond).Should(Succeed())
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
