package integration

import (
	"fmt"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
)

// structuredAt describes the simulator's records at the names in zone-file
// form, built from the fields Cloudflare keeps them in (an MX's priority,
// SRV and CAA data), not from their content.
func structuredAt(zone string, names ...string) []string {
	var out []string
	for _, n := range names {
		for _, r := range recordsNamed(zone, n) {
			out = append(out, describeStructured(r))
		}
	}
	return out
}

func describeStructured(r sim.Record) string {
	switch {
	case r.Type == "MX":
		return fmt.Sprintf("%s MX %d %s", r.Name, r.Priority, r.Content)
	case r.Type == "SRV" && r.Data != nil:
		return fmt.Sprintf("%s SRV %d %d %d %s", r.Name, r.Data.Priority, r.Data.Weight, r.Data.Port, r.Data.Target)
	case r.Type == "CAA" && r.Data != nil:
		return fmt.Sprintf("%s CAA %d %s %s", r.Name, r.Data.Flags, r.Data.Tag, strconv.Quote(r.Data.Value))
	}
	return fmt.Sprintf("%s %s %s", r.Name, r.Type, r.Content)
}

func recordIDs(zone string, names ...string) []string {
	var ids []string
	for _, n := range names {
		for _, r := range recordsNamed(zone, n) {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// recordVersions names each record by its ID and when it was last modified:
// a rewrite, even of the same content, changes it.
func recordVersions(zone string, names ...string) []string {
	var vs []string
	for _, n := range names {
		for _, r := range recordsNamed(zone, n) {
			vs = append(vs, r.ID+"@"+r.ModifiedOn.Format(time.RFC3339Nano))
		}
	}
	return vs
}

var _ = Describe("MX, SRV and CAA records", func() {
	It("are written, left alone when nothing changed, updated in place and removed with their claim", func() {
		label := uniq("rdata") + ".example.io/dns"
		scope := newScope(uniq("mail"), selecting(map[string]string{label: "true"}),
			withRules("example.com", rule([]v1alpha1.RecordType{v1alpha1.RecordTypeMX, v1alpha1.RecordTypeSRV, v1alpha1.RecordTypeCAA}, 3600,
				"{namespace}.apps.example.com", "_sip._tcp.{namespace}.apps.example.com")))
		createScope(scope)
		ns := uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})
		apex, sip := ns+".apps.example.com", "_sip._tcp."+ns+".apps.example.com"
		claim := newClaim(ns, "mail", scope.Name,
			rec(apex, v1alpha1.RecordTypeMX, "10 Mail.Example.net.", "20 mx2.example.net"),
			rec(sip, v1alpha1.RecordTypeSRV, "10 5 5060 sip.example.net"),
			rec(apex, v1alpha1.RecordTypeCAA, "0 issue letsencrypt.org", `0 iodef "mailto:security@example.net"`))
		Expect(k8s.Create(ctx, claim)).To(Succeed())
		waitReady(claim, v1alpha1.ConditionReady)
		Expect(claim.Status.Records).To(HaveEach(HaveField("State", v1alpha1.RecordWritten)))

		Expect(structuredAt("example.com", apex, sip)).To(ConsistOf(
			apex+" MX 10 mail.example.net",
			apex+" MX 20 mx2.example.net",
			sip+" SRV 10 5 5060 sip.example.net",
			apex+` CAA 0 issue "letsencrypt.org"`,
			apex+` CAA 0 iodef "mailto:security@example.net"`,
		))
		for _, r := range append(recordsNamed("example.com", apex), recordsNamed("example.com", sip)...) {
			Expect(r.Comment).To(Equal(provider.OwnerComment("it", ns, "mail")))
		}
		ids := recordIDs("example.com", apex, sip)
		versions := recordVersions("example.com", apex, sip)

		By("reconciling again after listing the zone afresh: nothing is written")
		before := cf.Requests()
		clock.Advance(11 * time.Minute) // past the drift interval, so the zone is listed again
		poke(claim)
		Eventually(func() int { return cf.Requests()["dns_records.list"] }, 30*time.Second).
			Should(BeNumerically(">", before["dns_records.list"]))
		// This claim's records only: another spec's claim may have a batch
		// of its own to write after the clock moved.
		Consistently(func() []string { return recordVersions("example.com", apex, sip) }, 3*time.Second, 100*time.Millisecond).
			Should(ConsistOf(versions), "records read back from the provider must plan as unchanged")

		By("editing values: the changed records are updated in place")
		Eventually(func() error { // the operator patches the status meanwhile
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(claim), claim); err != nil {
				return err
			}
			claim.Spec.Records[0].Values = []string{"10 mail.example.net", "30 mx3.example.net"}
			claim.Spec.Records[1].Values = []string{"10 5 5061 sip.example.net"}
			return k8s.Update(ctx, claim)
		}, 10*time.Second).Should(Succeed())
		Eventually(func() []string { return structuredAt("example.com", apex, sip) }, 30*time.Second).Should(ConsistOf(
			apex+" MX 10 mail.example.net",
			apex+" MX 30 mx3.example.net",
			sip+" SRV 10 5 5061 sip.example.net",
			apex+` CAA 0 issue "letsencrypt.org"`,
			apex+` CAA 0 iodef "mailto:security@example.net"`,
		))
		Expect(recordIDs("example.com", apex, sip)).To(ConsistOf(ids), "updates keep the record IDs")
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(claim), claim)).To(Succeed())
			g.Expect(claim.Status.ObservedGeneration).To(Equal(claim.Generation))
			g.Expect(conditionTrue(claim.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		}, 30*time.Second).Should(Succeed())

		By("deleting the claim: its records go")
		Expect(k8s.Delete(ctx, claim)).To(Succeed())
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(claim), claim) }, 30*time.Second).
			Should(Satisfy(apierrors.IsNotFound))
		Expect(structuredAt("example.com", apex, sip)).To(BeEmpty())
	})
})
