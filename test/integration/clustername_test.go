package integration

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
)

// Another installation that runs with this suite's --cluster-name ("it") on
// the same account marked a zone and wrote records there. The manager must
// say so and take none of them for its own: before the cluster markers it
// adopted the record of a claim with the same namespace and name (rewriting
// its value) and collected the other's records that no claim here holds.
var _ = Describe("Another installation with this cluster name on the account", func() {
	It("is reported on the DNSScope, and nothing of it is adopted or collected in that zone", func() {
		zone := uniq("clash") + ".example"
		_, err := cf.AddZone(zone)
		Expect(err).NotTo(HaveOccurred())
		ns := uniq("tenant")
		web, gone := "web."+ns+"."+zone, "gone."+ns+"."+zone

		By("the other installation's marker and records, under the same cluster name")
		for _, r := range []sim.Record{
			{Name: provider.ClusterMarkerName(zone), Type: "TXT", Content: `"` + provider.ClusterMarkerContent("elsewhere") + `"`, TTL: 3600, Comment: provider.ClusterMarkerComment("it")},
			{Name: web, Type: "A", Content: "198.51.100.1", TTL: 300, Comment: provider.OwnerComment("it", ns, "web")},
			{Name: gone, Type: "A", Content: "198.51.100.2", TTL: 300, Comment: provider.OwnerComment("it", ns, "gone")},
		} {
			_, err := cf.AddRecord(zone, r)
			Expect(err).NotTo(HaveOccurred())
		}

		label := uniq("clash") + ".example.io/dns"
		scope := newScope(uniq("clash"), selecting(map[string]string{label: "true"}),
			withRules(zone, rule(webTypes, 3600, "*.{namespace}."+zone)))
		createScope(scope)
		waitReady(scope, v1alpha1.ConditionReady)
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, clientKey(scope), scope)).To(Succeed())
			c := meta.FindStatusCondition(scope.Status.Conditions, v1alpha1.ConditionClusterNameConflict)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonClusterNameConflict))
			g.Expect(c.Message).To(ContainSubstring("instance elsewhere"))
		}, 30*time.Second).Should(Succeed())
		Expect(conditionTrue(scope.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "the scope's other zones go on")

		By("a claim with the namespace and name of the other installation's record")
		tenantNamespace(ns, map[string]string{label: "true"})
		claim := newClaim(ns, "web", scope.Name, rec(web, v1alpha1.RecordTypeA, "192.0.2.55"))
		Expect(k8s.Create(ctx, claim)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, clientKey(claim), claim)).To(Succeed())
			c := meta.FindStatusCondition(claim.Status.Conditions, v1alpha1.ConditionReady)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonClusterNameConflict), c.Message)
			g.Expect(c.Message).NotTo(ContainSubstring("elsewhere"), "the tenant is not told the other installation's ID")
		}, 30*time.Second).Should(Succeed())

		By("several record GC passes past the grace later, the other installation's records are as it wrote them")
		Consistently(func(g Gomega) {
			g.Expect(recordsNamed(zone, web)).To(ConsistOf(HaveField("Content", "198.51.100.1")))
			g.Expect(recordsNamed(zone, gone)).To(HaveLen(1))
		}, 2*recordGCGrace+time.Second, 200*time.Millisecond).Should(Succeed())
	})
})
