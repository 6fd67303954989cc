package isolation

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// floodNames is how many names the flooding key holds; each costs the
// provider a records list per message on a gateway that does not charge it.
const floodNames = 20

// describeFlood runs last (suite_test.go): on a gateway that does not charge
// each tenant for its provider calls, the flood spends the account's budget
// for minutes, and every spec after it would fail for that alone.
func describeFlood() {
	Describe("The RFC 2136 gateway under one key's flood", func() {
		It("keeps the other tenant's UPDATEs and claims going, and answers the flooding key REFUSED", func() {
			w := newWorld()
			names := make([]string, floodNames)
			recs := make([]v1alpha1.RecordSpec, floodNames)
			for i := range names {
				names[i] = fmt.Sprintf("_acme-challenge.f%d.%s.apps.example.com", i, w.a.ns)
				recs[i] = rec(names[i], v1alpha1.RecordTypeTXT)
			}
			waitCondition(w.a.claim(w, recs...), v1alpha1.ConditionReady)
			aKey := keyOf(w.credentials(w.a))
			bName := "_acme-challenge." + w.b.ns + ".apps.example.com"
			waitCondition(w.b.claim(w, rec(bName, v1alpha1.RecordTypeTXT)), v1alpha1.ConditionReady)
			bKey := keyOf(w.credentials(w.b))
			Eventually(func() int { return update(aKey, addTXT(names[0], "warm")) }, 20*time.Second).Should(Equal(dns.RcodeSuccess))
			Eventually(func() int { return update(bKey, addTXT(bName, "warm")) }, 20*time.Second).Should(Equal(dns.RcodeSuccess))

			By("A flooding: signed UPDATEs of all its names from 8 connections at once, and unsigned ones from 4")
			var signedRefused, unsignedOK, sent atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					f := &flooder{key: aKey}
					defer f.close()
					for n := 0; ; n++ {
						select {
						case <-stop:
							return
						default:
						}
						sent.Add(1)
						if f.send(signedAdds(names, fmt.Sprint("flood-", n))...) == dns.RcodeRefused {
							signedRefused.Add(1)
						}
					}
				})
			}
			for range 4 {
				wg.Go(func() {
					f := &flooder{}
					defer f.close()
					for {
						select {
						case <-stop:
							return
						default:
						}
						if f.send(addTXT(names[0], "unsigned")) == dns.RcodeSuccess {
							unsignedOK.Add(1)
						}
					}
				})
			}
			stopFlood := sync.OnceFunc(func() { close(stop); wg.Wait() })
			DeferCleanup(stopFlood)

			// B writes at an ACME client's pace, one UPDATE every two seconds
			// (each costs a records list and a batch). At two a second B alone
			// would spend more than the whole account's 1,200 requests per 5
			// minutes, and be refused its fair share without any flood.
			By("B's UPDATEs succeeding throughout the flood")
			Consistently(func() string { return rcodeName(update(bKey, addTXT(bName, uniq("b")))) }, 16*time.Second, 2*time.Second).
				Should(Equal("NOERROR"), func() string {
					return fmt.Sprintf("B's key is not starved by A's (%d messages sent so far)", sent.Load())
				})
			By("B's new claim converging during the flood")
			w.expectWorking(w.b)
			stopFlood()

			Expect(signedRefused.Load()).To(BeNumerically(">", 0), "the flooding key is answered REFUSED")
			Expect(unsignedOK.Load()).To(BeZero(), "an unsigned UPDATE writes nothing")
		})
	})
}

func describeUnselected() {
	Describe("A namespace no longer selected", func() {
		It("keeps none of its tokens or records, whoever wrote them", func() {
			w := newWorld()
			host := "gone." + w.a.ns + ".apps.example.com"
			challenge := "_acme-challenge." + w.a.ns + ".apps.example.com"
			c := w.a.claim(w, rec(host, v1alpha1.RecordTypeA, "203.0.113.40"), rec(challenge, v1alpha1.RecordTypeTXT))
			waitCondition(c, v1alpha1.ConditionReady)
			s := w.credentials(w.a)
			Eventually(func() int { return update(keyOf(s), addTXT(challenge, "a-was-here")) }, 20*time.Second).Should(Equal(dns.RcodeSuccess))
			Expect(recordsOwnedBy(w.a.ns)).To(HaveLen(2), "one record of the claim, one the gateway wrote")
			Expect(tokensOf(w.scope.Name, w.a.ns)).NotTo(BeEmpty())
			bHost := "stays." + w.b.ns + ".apps.example.com"
			waitCondition(w.b.claim(w, rec(bHost, v1alpha1.RecordTypeA, "203.0.113.41")), v1alpha1.ConditionReady)

			By("the admin taking A's namespace out of the scope's selector")
			Eventually(func() error {
				var ns corev1.Namespace
				if err := admin.Get(ctx, client.ObjectKey{Name: w.a.ns}, &ns); err != nil {
					return err
				}
				delete(ns.Labels, w.label)
				return admin.Update(ctx, &ns)
			}).Should(Succeed())
			By("time passing beyond any grace period the record collector keeps")
			clock.Advance(2 * time.Hour)
			poke(w.a)

			Eventually(func() []string { return tokenIDs(tokensOf(w.scope.Name, w.a.ns)) }, 30*time.Second).Should(BeEmpty(),
				"every token of the namespace is revoked")
			Eventually(func() []string {
				var out []string
				for _, r := range recordsOwnedBy(w.a.ns) {
					out = append(out, r.Type+" "+r.Name+" ("+r.Comment+")")
				}
				return out
			}, 60*time.Second).Should(BeEmpty(), "no record with A's owner marker outlives its grant")
			Expect(recordsNamed(bHost)).To(ConsistOf(HaveField("Content", "203.0.113.41")), "B's records stay")
			w.expectWorking(w.b)
		})
	})
}
