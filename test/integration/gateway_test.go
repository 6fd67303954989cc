package integration

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
)

// nsupdate runs BIND's nsupdate with the key from a credentials Secret and
// returns its combined output and error.
func nsupdate(s *corev1.Secret, commands ...string) (string, error) {
	host, port, err := net.SplitHostPort(string(s.Data[controllers.KeyNameserver]))
	Expect(err).NotTo(HaveOccurred())
	// Naming the zone skips nsupdate's SOA discovery query, so a refused
	// key shows the UPDATE's own answer.
	script := fmt.Sprintf("server %s %s\nzone example.com.\n%s\nsend\n", host, port, strings.Join(commands, "\n"))
	key := fmt.Sprintf("hmac-sha256:%s:%s", s.Data[controllers.KeyTSIGName], s.Data[controllers.KeyTSIGSecret])
	cmd := exec.CommandContext(ctx, "nsupdate", "-y", key, "-t", "5")
	cmd.Stdin = strings.NewReader(script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

var _ = Describe("The RFC 2136 gateway", func() {
	It("lets a namespace's TSIG key write exactly the names it reserved, and nothing else", func() {
		if _, err := exec.LookPath("nsupdate"); err != nil {
			Skip("nsupdate not installed: run hack/setup.sh")
		}
		label := uniq("gw") + ".example.io/dns"
		scope := tenantScope(uniq("gw"), label)
		scope.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
		createScope(scope)
		ns := uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})
		challenge := "_acme-challenge.web." + ns + ".apps.example.com"
		claim := newClaim(ns, "acme", scope.Name, rec(challenge, v1alpha1.RecordTypeTXT))
		Expect(k8s.Create(ctx, claim)).To(Succeed())
		waitReady(claim, v1alpha1.ConditionReady)

		var s corev1.Secret
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: scope.Name + "-dns-credentials"}, &s)).To(Succeed())
			g.Expect(s.Data[controllers.KeyTSIGSecret]).NotTo(BeEmpty())
		}, 30*time.Second).Should(Succeed())
		Expect(string(s.Data[controllers.KeyTSIGAlgorithm])).To(Equal("HMACSHA256"))
		Expect(string(s.Data[controllers.KeyTSIGName])).To(Equal(ns + "." + scope.Name + ".scopedns."))
		Expect(string(s.Data[controllers.KeyNameserver])).To(Equal(gatewayAddr))

		By("adding the reserved TXT: NOERROR, and the record is at the provider")
		Eventually(func() error {
			_, err := nsupdate(&s, "update add "+challenge+". 120 TXT \"token-1\"")
			return err
		}, 15*time.Second).Should(Succeed(), "the key reaches the gateway's store shortly after the Secret is written")
		Expect(recordsNamed("example.com", challenge)).To(ConsistOf(HaveField("Content", ContainSubstring("token-1"))))

		By("a name outside the grant: REFUSED, nothing written")
		out, err := nsupdate(&s, "update add www."+ns+".apps.example.com. 120 TXT \"nope\"")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("REFUSED"))
		Expect(recordsNamed("example.com", "www."+ns+".apps.example.com")).To(BeEmpty())

		By("a wrong key: NOTAUTH")
		bad := s.DeepCopy()
		bad.Data[controllers.KeyTSIGSecret] = []byte("d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw==")
		out, err = nsupdate(bad, "update add "+challenge+". 120 TXT \"evil\"")
		Expect(err).To(HaveOccurred())
		Expect(out).To(Or(ContainSubstring("NOTAUTH"), ContainSubstring("BADSIG"), ContainSubstring("tsig verify failure")))

		By("deleting it again")
		_, err = nsupdate(&s, "update delete "+challenge+". TXT")
		Expect(err).NotTo(HaveOccurred())
		Expect(recordsNamed("example.com", challenge)).To(BeEmpty())

		By("deleting the claim takes the key's grant away at once")
		Expect(k8s.Delete(ctx, claim)).To(Succeed())
		Eventually(func() string {
			out, _ := nsupdate(&s, "update add "+challenge+". 120 TXT \"late\"")
			return out
		}, 30*time.Second).Should(Or(ContainSubstring("NOTAUTH"), ContainSubstring("REFUSED")))
		Expect(recordsNamed("example.com", challenge)).To(BeEmpty())
	})
})
