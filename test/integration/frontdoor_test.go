package integration

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	cloudflare "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/dns"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/zones"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/frontcreds"
)

var _ = Describe("The HTTP front doors' credentials", func() {
	It("delivers acmedns.json and the dyndns2 login for the reserved names, which the front doors take, and takes them back when the scope turns them off", func() {
		label := uniq("fd") + ".example.io/dns"
		scope := tenantScope(uniq("fd"), label)
		scope.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
		scope.Spec.Credentials.ACMEDNS = &v1alpha1.CredentialToggle{Enabled: true}
		scope.Spec.Credentials.DynDNS = &v1alpha1.CredentialToggle{Enabled: true}
		createScope(scope)
		ns := uniq("team")
		tenantNamespace(ns, map[string]string{label: "true"})
		web := "web." + ns + ".apps.example.com"
		claim := newClaim(ns, "front", scope.Name,
			rec("_acme-challenge."+web, v1alpha1.RecordTypeTXT),
			rec("home."+ns+".apps.example.com", v1alpha1.RecordTypeA))
		Expect(k8s.Create(ctx, claim)).To(Succeed())
		waitReady(claim, v1alpha1.ConditionReady)

		key := client.ObjectKey{Namespace: ns, Name: scope.Name + "-dns-credentials"}
		var s corev1.Secret
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, key, &s)).To(Succeed())
			g.Expect(s.Data).To(HaveKey(controllers.KeyACMEDNS))
			g.Expect(s.Data).To(HaveKey(controllers.KeyDynDNSPassword))
		}, 30*time.Second).Should(Succeed())
		var accounts map[string]frontcreds.ACMEDNSEntry
		Expect(json.Unmarshal(s.Data[controllers.KeyACMEDNS], &accounts)).To(Succeed())
		Expect(accounts).To(HaveLen(1))
		Expect(accounts).To(HaveKey(web))
		Expect(accounts[web].FullDomain).To(Equal("_acme-challenge." + web))
		Expect(accounts[web].ServerURL).To(Equal(httpGatewayURL))
		Expect(accounts[web].Password).To(HaveLen(frontcreds.PasswordLength))
		Expect(string(s.Data[controllers.KeyDynDNSUsername])).To(Equal(ns + "." + scope.Name))

		// The status is written after the Secret it reports on: a reader
		// that has seen the Secret may still see the status before it.
		Eventually(func(g Gomega) {
			var cred v1alpha1.DNSCredential
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: v1alpha1.DNSCredentialName(scope.Name, ns)}, &cred)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(cred.Status.Conditions, v1alpha1.ConditionFrontDoorsReady)).To(BeTrue())
		}, 15*time.Second).Should(Succeed())

		By("the dyndns2 front door takes the Secret's login, and refuses a wrong password with nothing written")
		home := "home." + ns + ".apps.example.com"
		update := func(user, password string) string {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, httpGatewayURL+"/nic/update?hostname="+home+"&myip=192.0.2.7", nil)
			Expect(err).NotTo(HaveOccurred())
			req.SetBasicAuth(user, password)
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			Expect(err).NotTo(HaveOccurred())
			return strings.TrimSpace(string(b))
		}
		user, password := string(s.Data[controllers.KeyDynDNSUsername]), string(s.Data[controllers.KeyDynDNSPassword])
		Expect(update(user, wrongPassword(password))).To(Equal("badauth"))
		Expect(recordsNamed("example.com", home)).To(BeEmpty())
		Eventually(func() string { return update(user, password) }, 15*time.Second).Should(Equal("good 192.0.2.7"),
			"the login reaches the front door's store shortly after the Secret is written")
		Expect(recordsNamed("example.com", home)).To(ConsistOf(HaveField("Content", "192.0.2.7")))

		By("the acme-dns front door takes the Secret's acmedns.json account, and refuses a wrong password with nothing written")
		acct, challenge := accounts[web], "LHDhK3oGRvkiefQnx7OOczTY5Tic_xZ6HcMOc_gmtoM"
		acmeUpdate := func(key string) (int, string) {
			body := `{"subdomain":"` + acct.Subdomain + `","txt":"` + challenge + `"}`
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, acct.ServerURL+"/update", strings.NewReader(body))
			Expect(err).NotTo(HaveOccurred())
			req.Header.Set("X-Api-User", acct.Username)
			req.Header.Set("X-Api-Key", key)
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			Expect(err).NotTo(HaveOccurred())
			return resp.StatusCode, string(b)
		}
		code, body := acmeUpdate(wrongPassword(acct.Password))
		Expect(code).To(Equal(http.StatusUnauthorized))
		Expect(body).To(Equal(`{"error": "forbidden"}`))
		Expect(recordsNamed("example.com", acct.FullDomain)).To(BeEmpty())
		Eventually(func() string { _, b := acmeUpdate(acct.Password); return b }, 15*time.Second).
			Should(Equal(`{"txt": "`+challenge+`"}`), "the account reaches the front door's store shortly after the Secret is written")
		Expect(recordsNamed("example.com", acct.FullDomain)).To(ConsistOf(HaveField("Content", challenge)))

		By("the listener answers on its paths, and nothing else")
		resp, err := http.Get("http://" + httpGatewayAddr + "/metrics")
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.Body.Close()).To(Succeed())
		Expect(resp.StatusCode).To(Equal(http.StatusNotFound))

		By("turning the front doors off takes the keys out of the Secret")
		// The scope controller writes the scope's status meanwhile: read
		// again on a conflict.
		Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(scope), scope); err != nil {
				return err
			}
			scope.Spec.Credentials.ACMEDNS.Enabled, scope.Spec.Credentials.DynDNS.Enabled = false, false
			return k8s.Update(ctx, scope)
		}, 10*time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, key, &s)).To(Succeed())
			g.Expect(s.Data).NotTo(HaveKey(controllers.KeyACMEDNS))
			g.Expect(s.Data).NotTo(HaveKey(controllers.KeyDynDNSUsername))
			g.Expect(s.Data).To(HaveKey(controllers.KeyTSIGSecret))
		}, 30*time.Second).Should(Succeed())
	})

	It("delivers a Cloudflare API token that sees and writes only the namespace's reserved names, and stops taking it when the scope turns it off", func() {
		label := uniq("cf") + ".example.io/dns"
		scope := tenantScope(uniq("cf"), label)
		scope.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
		scope.Spec.Credentials.CloudflareAPI = &v1alpha1.CredentialToggle{Enabled: true}
		createScope(scope)
		nsA, nsB := uniq("team"), uniq("team")
		tenantNamespace(nsA, map[string]string{label: "true"})
		tenantNamespace(nsB, map[string]string{label: "true"})
		appA, appB := "app."+nsA+".apps.example.com", "app."+nsB+".apps.example.com"
		for ns, name := range map[string]string{nsA: appA, nsB: appB} {
			claim := newClaim(ns, "api", scope.Name, rec(name, v1alpha1.RecordTypeA))
			Expect(k8s.Create(ctx, claim)).To(Succeed())
			waitReady(claim, v1alpha1.ConditionReady)
		}
		key := client.ObjectKey{Namespace: nsA, Name: scope.Name + "-dns-credentials"}
		var s corev1.Secret
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, key, &s)).To(Succeed())
			g.Expect(s.Data).To(HaveKey(controllers.KeyCloudflareAPIToken))
		}, 30*time.Second).Should(Succeed())
		Expect(string(s.Data[controllers.KeyCloudflareAPIURL])).To(Equal(httpGatewayURL + "/client/v4"))
		cf := cloudflare.NewClient(option.WithBaseURL(string(s.Data[controllers.KeyCloudflareAPIURL])+"/"),
			option.WithAPIToken(string(s.Data[controllers.KeyCloudflareAPIToken])), option.WithMaxRetries(0))

		By("the token sees its zone, and writes its name")
		var zoneID string
		Eventually(func(g Gomega) {
			page, err := cf.Zones.List(ctx, zones.ZoneListParams{Name: cloudflare.F("example.com")})
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(page.Result).To(HaveLen(1))
			zoneID = page.Result[0].ID
		}, 15*time.Second).Should(Succeed(), "the token reaches the front door's store shortly after the Secret is written")
		newA := func(name string) error {
			_, err := cf.DNS.Records.New(ctx, dns.RecordNewParams{ZoneID: cloudflare.F(zoneID), Body: dns.ARecordParam{
				Name: cloudflare.F(name), Type: cloudflare.F(dns.ARecordTypeA), Content: cloudflare.F("192.0.2.44"), TTL: cloudflare.F(dns.TTL1),
			}})
			return err
		}
		Expect(newA(appA)).To(Succeed())
		Expect(recordsNamed("example.com", appA)).To(ConsistOf(HaveField("Content", "192.0.2.44")))

		By("another namespace's name is refused with 403 and nothing written")
		err := newA(appB)
		var apiErr *cloudflare.Error
		Expect(errors.As(err, &apiErr)).To(BeTrue(), "error %v", err)
		Expect(apiErr.StatusCode).To(Equal(http.StatusForbidden))
		Expect(recordsNamed("example.com", appB)).To(BeEmpty())

		By("turning cloudflareAPI off takes the token out of the Secret and the front door")
		Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(scope), scope); err != nil {
				return err
			}
			scope.Spec.Credentials.CloudflareAPI.Enabled = false
			return k8s.Update(ctx, scope)
		}, 10*time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8s.Get(ctx, key, &s)).To(Succeed())
			g.Expect(s.Data).NotTo(HaveKey(controllers.KeyCloudflareAPIToken))
		}, 30*time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			_, err := cf.Zones.List(ctx, zones.ZoneListParams{})
			g.Expect(errors.As(err, &apiErr)).To(BeTrue(), "error %v", err)
			g.Expect(apiErr.StatusCode).To(Equal(http.StatusUnauthorized))
		}, 15*time.Second).Should(Succeed())
	})
})

// wrongPassword is p with its last character changed: a password whose last
// character already was the replacement made CI's "wrong" password right.
func wrongPassword(p string) string {
	last := byte('x')
	if p[len(p)-1] == last {
		last = 'y'
	}
	return p[:len(p)-1] + string(last)
}
