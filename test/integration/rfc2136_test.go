package integration

import (
	"encoding/base64"
	"fmt"
	"net"
	"os/exec"
	"slices"
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
	"github.com/scopedns/scopedns/internal/testdns"
)

// selfHostedMaster is the master TSIG key the self-hosted servers know.
var selfHostedMaster = testdns.Key{Name: "scopedns-master", Secret: base64.StdEncoding.EncodeToString([]byte("integration-master-tsig-secret!!"))}

// rfc2136Scope is a scope on a self-hosted server: each selected namespace
// may hold names under <namespace>.apps.<zone>, with the gateway's TSIG keys
// as its credentials (an RFC 2136 server mints no tokens).
func rfc2136Scope(name, label, zone string, s *testdns.Server, secretName string) *v1alpha1.DNSScope {
	scope := newScope(name, selecting(map[string]string{label: "true"}),
		withRules(zone, rule(webTypes, 3600, "{namespace}.apps."+zone, "*.{namespace}.apps."+zone, "_acme-challenge.*.{namespace}.apps."+zone)))
	scope.Spec.Provider = v1alpha1.ProviderSpec{RFC2136: &v1alpha1.RFC2136Provider{
		Server:           s.Addr,
		TSIGKeyName:      selfHostedMaster.Name,
		TSIGKeySecretRef: v1alpha1.SecretKeySelector{Name: secretName, Key: "tsig-secret"},
		TSIGAlgorithm:    v1alpha1.TSIGAlgorithmHMACSHA256,
	}}
	scope.Spec.Credentials = v1alpha1.CredentialsSpec{
		ProviderToken: &v1alpha1.CredentialToggle{Enabled: false},
		RFC2136:       &v1alpha1.CredentialToggle{Enabled: true},
	}
	return scope
}

// masterNsupdate writes to a self-hosted server as its admin would, outside
// the operator: nsupdate with the master key.
func masterNsupdate(s *testdns.Server, zone string, commands ...string) {
	script := fmt.Sprintf("server %s %s\nzone %s.\n%s\nsend\n", s.Host(), s.Port(), zone, strings.Join(commands, "\n"))
	cmd := exec.CommandContext(ctx, "nsupdate", "-y", "hmac-sha256:"+selfHostedMaster.Name+":"+selfHostedMaster.Secret, "-t", "5")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	ExpectWithOffset(1, err).NotTo(HaveOccurred(), string(out))
}

// tenantNsupdate writes through the operator's gateway with a namespace's
// credentials Secret.
func tenantNsupdate(sec *corev1.Secret, zone string, commands ...string) (string, error) {
	host, port, err := net.SplitHostPort(string(sec.Data[controllers.KeyNameserver]))
	Expect(err).NotTo(HaveOccurred())
	script := fmt.Sprintf("server %s %s\nzone %s.\n%s\nsend\n", host, port, zone, strings.Join(commands, "\n"))
	key := fmt.Sprintf("hmac-sha256:%s:%s", sec.Data[controllers.KeyTSIGName], sec.Data[controllers.KeyTSIGSecret])
	cmd := exec.CommandContext(ctx, "nsupdate", "-y", key, "-t", "5")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func sortedDig(s *testdns.Server, name, typ string) []string {
	got := testdns.Dig(GinkgoT(), s, name, typ)
	slices.Sort(got)
	return got
}

// serial is the zone's SOA serial as the server answers it: every UPDATE
// that changes the zone moves it.
func serial(s *testdns.Server, zone string) string {
	soa := testdns.Dig(GinkgoT(), s, zone, "SOA")
	ExpectWithOffset(1, soa).To(HaveLen(1))
	return strings.Fields(soa[0])[2]
}

var _ = Describe("Controllers on self-hosted DNS over RFC 2136", func() {
	for _, srv := range []struct {
		name  string
		start func(testdns.T, testdns.Config) *testdns.Server
	}{
		{"BIND", testdns.StartBIND},
		{"Knot", testdns.StartKnot},
	} {
		It("on "+srv.name+": claims write, a second reconcile writes nothing, a foreign record is left alone, delete removes exactly what was owned, and the gateway writes through", func() {
			testdns.Binary(GinkgoT(), "nsupdate", "bind9-dnsutils")
			zone := strings.ToLower(srv.name) + ".test"
			s := srv.start(GinkgoT(), testdns.Config{Zones: []string{zone}, Master: selfHostedMaster})
			secretName := uniq("rfc2136-master")
			Expect(k8s.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: secretName},
				Data:       map[string][]byte{"tsig-secret": []byte(selfHostedMaster.Secret)},
			})).To(Succeed())
			label := uniq("selfhosted") + ".example.io/dns"
			scope := rfc2136Scope(uniq("selfhosted"), label, zone, s, secretName)
			createScope(scope)
			waitReady(scope, v1alpha1.ConditionReady)
			ns := uniq("team")
			tenantNamespace(ns, map[string]string{label: "true"})
			apps := ns + ".apps." + zone

			By("someone writes a record by hand, at a name a claim will ask for")
			legacy := "legacy." + apps
			masterNsupdate(s, zone, "update add "+legacy+". 120 A 198.51.100.7")

			By("claims write their records, checked with dig against the server's own answers")
			web := newClaim(ns, "web", scope.Name,
				rec(apps, v1alpha1.RecordTypeA, "203.0.113.10", "203.0.113.11"),
				rec("www."+apps, v1alpha1.RecordTypeCNAME, apps),
				rec("_acme-challenge.www."+apps, v1alpha1.RecordTypeTXT))
			Expect(k8s.Create(ctx, web)).To(Succeed())
			waitReady(web, v1alpha1.ConditionReady)
			Expect(sortedDig(s, apps, "A")).To(Equal([]string{"203.0.113.10", "203.0.113.11"}))
			Expect(sortedDig(s, "www."+apps, "CNAME")).To(Equal([]string{apps + "."}))
			Expect(sortedDig(s, "_scopedns."+apps, "TXT")).To(HaveLen(2), "one registry entry per owned record")

			taken := newClaim(ns, "legacy", scope.Name, rec(legacy, v1alpha1.RecordTypeA, "203.0.113.20"))
			Expect(k8s.Create(ctx, taken)).To(Succeed())
			Eventually(func(g Gomega) {
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(taken), taken)).To(Succeed())
				ready := meta.FindStatusCondition(taken.Status.Conditions, v1alpha1.ConditionReady)
				g.Expect(ready).NotTo(BeNil())
				g.Expect(ready.Reason).To(Equal(v1alpha1.ReasonRecordNotOwned))
			}, 30*time.Second).Should(Succeed())
			Expect(sortedDig(s, legacy, "A")).To(Equal([]string{"198.51.100.7"}), "the foreign record is left as it was")

			By("a second reconcile of the claim writes nothing: the zone's serial stays")
			before := serial(s, zone)
			poke(web)
			Consistently(func() string { return serial(s, zone) }, 3*time.Second, 300*time.Millisecond).Should(Equal(before))

			By("the gateway writes through the RFC 2136 upstream, nsupdate as the client")
			var sec corev1.Secret
			Eventually(func(g Gomega) {
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: scope.Name + "-dns-credentials"}, &sec)).To(Succeed())
				g.Expect(sec.Data[controllers.KeyTSIGSecret]).NotTo(BeEmpty())
				g.Expect(sec.Data).NotTo(HaveKey(controllers.KeyAPIToken), "an RFC 2136 scope mints no provider token")
			}, 30*time.Second).Should(Succeed())
			challenge := "_acme-challenge.www." + apps
			Eventually(func() error {
				_, err := tenantNsupdate(&sec, zone, "update add "+challenge+". 120 TXT \"token-1\"")
				return err
			}, 15*time.Second).Should(Succeed())
			Expect(sortedDig(s, challenge, "TXT")).To(Equal([]string{`"token-1"`}))
			out, err := tenantNsupdate(&sec, zone, "update add other."+apps+". 120 TXT \"nope\"")
			Expect(err).To(HaveOccurred())
			Expect(out).To(ContainSubstring("REFUSED"))
			Expect(sortedDig(s, "other."+apps, "TXT")).To(BeEmpty())
			_, err = tenantNsupdate(&sec, zone, "update delete "+challenge+". TXT")
			Expect(err).NotTo(HaveOccurred())
			Expect(sortedDig(s, challenge, "TXT")).To(BeEmpty())

			By("deleting the claims removes exactly what they owned")
			Expect(k8s.Delete(ctx, web)).To(Succeed())
			Expect(k8s.Delete(ctx, taken)).To(Succeed())
			for _, c := range []*v1alpha1.DNSRecordClaim{web, taken} {
				Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(c), c) }, 30*time.Second).Should(Satisfy(apierrors.IsNotFound))
			}
			Expect(sortedDig(s, apps, "A")).To(BeEmpty())
			Expect(sortedDig(s, "www."+apps, "CNAME")).To(BeEmpty())
			Expect(sortedDig(s, "_scopedns."+apps, "TXT")).To(BeEmpty(), "the registry entries go with their records")
			Expect(sortedDig(s, legacy, "A")).To(Equal([]string{"198.51.100.7"}), "the foreign record stays")
			Expect(sortedDig(s, "ns."+zone, "A")).To(Equal([]string{"127.0.0.1"}), "the zone's own records stay")

			Expect(k8s.Delete(ctx, scope)).To(Succeed())
			Eventually(func() error { return k8s.Get(ctx, client.ObjectKeyFromObject(scope), scope) }, 30*time.Second).Should(Satisfy(apierrors.IsNotFound))
		})
	}

	It("shows an unreachable server and a refused key in the scope's conditions", func() {
		s := testdns.StartBIND(GinkgoT(), testdns.Config{Zones: []string{"refused.test"}, Master: selfHostedMaster,
			Keys: []testdns.Key{{Name: "powerless", Secret: base64.StdEncoding.EncodeToString([]byte("a-key-with-no-rights-at-all-here"))}}})
		secretName := uniq("rfc2136-powerless")
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: secretName},
			Data:       map[string][]byte{"tsig-secret": []byte(base64.StdEncoding.EncodeToString([]byte("a-key-with-no-rights-at-all-here")))},
		})).To(Succeed())
		reason := func(scope *v1alpha1.DNSScope) func(g Gomega) string {
			return func(g Gomega) string {
				g.Expect(k8s.Get(ctx, client.ObjectKeyFromObject(scope), scope)).To(Succeed())
				c := meta.FindStatusCondition(scope.Status.Conditions, v1alpha1.ConditionReady)
				g.Expect(c).NotTo(BeNil())
				return c.Reason + ": " + c.Message
			}
		}

		powerless := rfc2136Scope(uniq("powerless"), uniq("p")+".example.io/dns", "refused.test", s, secretName)
		powerless.Spec.Provider.RFC2136.TSIGKeyName = "powerless"
		createScope(powerless)
		Eventually(reason(powerless), 30*time.Second).Should(And(HavePrefix(v1alpha1.ReasonZoneNotWritable+":"), ContainSubstring("REFUSED")))

		unreachable := rfc2136Scope(uniq("unreachable"), uniq("u")+".example.io/dns", "refused.test", &testdns.Server{Addr: freeAddr()}, secretName)
		createScope(unreachable)
		Eventually(reason(unreachable), 60*time.Second).Should(And(HavePrefix(v1alpha1.ReasonProviderUnreachable+":"), ContainSubstring("did not answer")))

		for _, sc := range []*v1alpha1.DNSScope{powerless, unreachable} {
			Expect(k8s.Delete(ctx, sc)).To(Succeed())
		}
	})
})

var _ = Describe("Admission of an rfc2136 DNSScope", func() {
	It("refuses providerToken.enabled, naming the field and the rule, and refuses two providers", func() {
		s := &testdns.Server{Addr: "127.0.0.1:53"}
		scope := rfc2136Scope(uniq("tokens"), uniq("t")+".example.io/dns", "tokens.test", s, "any")
		scope.Spec.Credentials.ProviderToken = &v1alpha1.CredentialToggle{Enabled: true}
		err := k8s.Create(ctx, scope)
		Expect(err).To(HaveOccurred())
		Expect(statusMessage(err)).To(And(ContainSubstring("spec.credentials.providerToken.enabled must be false with spec.provider.rfc2136"), ContainSubstring("no API tokens to mint")))

		scope = rfc2136Scope(uniq("tokens"), uniq("t")+".example.io/dns", "tokens.test", s, "any")
		scope.Spec.Credentials.ProviderToken = nil
		err = k8s.Create(ctx, scope)
		Expect(err).To(HaveOccurred(), "unset, providerToken is enabled, so it is refused too")
		Expect(statusMessage(err)).To(ContainSubstring("providerToken.enabled must be false"))

		both := newScope(uniq("both"), selecting(map[string]string{"x": "y"}), withRules("both.test", rule(webTypes, 0, "a.both.test")))
		both.Spec.Provider.RFC2136 = rfc2136Scope("x", "x", "both.test", s, "any").Spec.Provider.RFC2136
		both.Spec.Credentials.ProviderToken = &v1alpha1.CredentialToggle{Enabled: false}
		both.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
		err = k8s.Create(ctx, both)
		Expect(err).To(HaveOccurred())
		Expect(statusMessage(err)).To(ContainSubstring("exactly one provider must be set: cloudflare or rfc2136"))
	})
})
