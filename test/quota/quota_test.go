package quota

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/frontcreds"
	"github.com/scopedns/scopedns/internal/testports"
)

const (
	scopeName   = "quota"
	tenantLabel = "quota.example.io/tenant"
	// settle is how long waiting is watched for provider requests and
	// reconciles: longer than several of the manager's error backoffs.
	settle = 10 * time.Second
	// prompt is how soon freed tokens reach the waiters: far less than the
	// quota interval (controllers.DefaultQuotaRetryInterval, 5 minutes), so
	// only the wake-up on release can do it.
	prompt = 60 * time.Second
)

var _ = Describe("Past the token quota", Ordered, ContinueOnFailure, func() {
	var names []string

	BeforeAll(func() {
		Expect(k8s.Create(ctx, quotaScope())).To(Succeed())
		Eventually(func(g Gomega) {
			var s v1alpha1.DNSScope
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: scopeName}, &s)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue(), "%+v", s.Status.Conditions)
		}, 30*time.Second).Should(Succeed())
		for i := range tenants {
			names = append(names, fmt.Sprintf("t%03d", i))
		}
		start := time.Now()
		createTenants(names)
		GinkgoWriter.Printf("created %d namespaces and claims in %s\n", tenants, time.Since(start))
	})

	It("gives the first namespaces tokens up to the quota and the others QuotaExceeded with the count, and an event", func() {
		start := time.Now()
		Eventually(func(g Gomega) {
			s := survey(g)
			g.Expect(s.holders).To(HaveLen(tokenQuota))
			g.Expect(s.waiting).To(HaveLen(tenants - tokenQuota))
		}, 3*time.Minute, time.Second).Should(Succeed())
		GinkgoWriter.Printf("%d tokens and %d waiters after %s\n", tokenQuota, tenants-tokenQuota, time.Since(start))
		Expect(clusterTokens()).To(Equal(tokenQuota), "the provider holds exactly the cluster's tokens")

		s := survey(Default)
		for _, dc := range s.waiting {
			c := meta.FindStatusCondition(dc.Status.Conditions, v1alpha1.ConditionQuotaExceeded)
			Expect(c.Reason).To(Equal(v1alpha1.ReasonQuotaExceeded))
			Expect(c.Message).To(ContainSubstring("MintToken for %s/%s postponed: %d provider tokens held, quota %d", dc.Spec.Namespace, scopeName, tokenQuota, tokenQuota))
			ready := meta.FindStatusCondition(dc.Status.Conditions, v1alpha1.ConditionReady)
			Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			Expect(ready.Reason).To(Equal(v1alpha1.ReasonQuotaExceeded))
		}
		Eventually(func(g Gomega) {
			warned := quotaEvents(g)
			for name := range s.waiting {
				g.Expect(warned).To(HaveKey(v1alpha1.DNSCredentialName(scopeName, name)))
			}
		}, 30*time.Second).Should(Succeed())

		By("the gauges say how many of the quota are held")
		Expect(gauge("scopedns_provider_tokens_held")).To(BeEquivalentTo(tokenQuota))
		Expect(gauge("scopedns_provider_token_quota")).To(BeEquivalentTo(tokenQuota))
	})

	It("delivers every waiting namespace's TSIG key and acme-dns account, which the gateway and the acme-dns front door take", func() {
		s := survey(Default)
		var some string
		for ns := range s.waiting {
			sec := tenantSecret(ns)
			Expect(sec.Data).NotTo(HaveKey(controllers.KeyAPIToken))
			Expect(sec.Data).To(HaveKey(controllers.KeyTSIGSecret))
			Expect(sec.Data).To(HaveKey(controllers.KeyACMEDNS))
			some = ns
		}
		sec := tenantSecret(some)
		name := challengeName(some)
		Eventually(func() int {
			return signedUpdate(sec, name, "quota-waiter-tsig")
		}, 15*time.Second).Should(Equal(dns.RcodeSuccess), "the gateway's key store holds the waiting namespace's key")

		var accounts map[string]frontcreds.ACMEDNSEntry
		Expect(json.Unmarshal(sec.Data[controllers.KeyACMEDNS], &accounts)).To(Succeed())
		acct := accounts[strings.TrimPrefix(name, "_acme-challenge.")]
		Expect(acct.Username).NotTo(BeEmpty())
		challenge := "LHDhK3oGRvkiefQnx7OOczTY5Tic_xZ6HcMOc_gmtoM"
		Eventually(func() string { return acmeDNSUpdate(acct, challenge) }, 15*time.Second).
			Should(Equal(`{"txt": "` + challenge + `"}`))
	})

	It("costs the provider nothing and runs no reconciles while the namespaces wait", func() {
		quiesce()
		cf.ResetRequests()
		before := reconciles()
		Consistently(func() map[string]int { return cf.Requests() }, settle, time.Second).Should(BeEmpty(),
			"a refusal for the quota is decided from the cache")
		// On an error backoff capped at 2s, each waiter would be retried
		// about five times here.
		Expect(reconciles() - before).To(BeNumerically("<", 10))
		Expect(survey(Default).waiting).To(HaveLen(tenants - tokenQuota))
	})

	It("hands the tokens of leaving namespaces to the waiting ones within one interval", func() {
		s := survey(Default)
		waiting := s.waiting
		var gone []string
		for ns := range s.holders {
			if len(gone) == leavers {
				break
			}
			gone = append(gone, ns)
		}
		start := time.Now()
		deleteClaims(gone)
		Eventually(func(g Gomega) {
			now := survey(g)
			for ns := range waiting {
				g.Expect(now.holders).To(HaveKey(ns))
			}
			g.Expect(now.holders).To(HaveLen(tenants - leavers))
			g.Expect(now.waiting).To(BeEmpty())
		}, prompt, 500*time.Millisecond).Should(Succeed())
		GinkgoWriter.Printf("the %d waiters held tokens %s after %d claims were deleted\n", tenants-tokenQuota, time.Since(start), leavers)
		Expect(clusterTokens()).To(Equal(tenants - leavers))
		Expect(gauge("scopedns_provider_tokens_held")).To(BeEquivalentTo(tenants - leavers))
	})

	It("stops at the provider's own quota when --token-quota is above it, as QuotaExceeded, at no cost while waiting", func() {
		held := tenants - leavers                 // 450 of 500
		providerRoom := tokenQuota / 50           // 10: the provider takes 460
		newcomers := tokenQuota * 3 / 25          // 60
		cf.SetTokenQuota(held + providerRoom + 1) // +1: the master token
		more := make([]string, 0, newcomers)
		for i := range newcomers {
			more = append(more, fmt.Sprintf("u%03d", i))
		}
		createTenants(more)
		Eventually(func(g Gomega) {
			s := survey(g)
			g.Expect(s.holders).To(HaveLen(held + providerRoom))
			g.Expect(s.waiting).To(HaveLen(len(more) - providerRoom))
		}, 2*time.Minute, time.Second).Should(Succeed())
		s := survey(Default)
		for _, dc := range s.waiting {
			c := meta.FindStatusCondition(dc.Status.Conditions, v1alpha1.ConditionQuotaExceeded)
			// The count is what this cluster held when the provider said
			// no, mints of other workers still in flight included: at
			// least what the provider took, never less.
			Expect(c.Message).To(Or(
				MatchRegexp(`the provider refused it for its own token quota, with (\d+) provider tokens held by this cluster`),
				MatchRegexp(`(\d+) provider tokens held, and the provider refused the last mint at (\d+) \(--token-quota %d\)`, tokenQuota)))
			Expect(heldIn(c.Message)).To(BeNumerically(">=", held+providerRoom), c.Message)
			Expect(dc.Status.Minting).To(BeEmpty(), "a mint the provider refused leaves no intent to look for")
			Expect(tenantSecret(dc.Spec.Namespace).Data).To(HaveKey(controllers.KeyTSIGSecret))
		}

		quiesce()
		cf.ResetRequests()
		before := reconciles()
		Consistently(func() map[string]int { return cf.Requests() }, settle, time.Second).Should(BeEmpty(),
			"the provider's refusal is remembered, not asked again by every waiter")
		Expect(reconciles() - before).To(BeNumerically("<", 10))

		leaving := tokenQuota / 25 // 20
		By(fmt.Sprintf("%d namespaces leave, and as many waiters take their tokens", leaving))
		var gone []string
		for ns := range s.holders {
			if len(gone) == leaving {
				break
			}
			gone = append(gone, ns)
		}
		deleteClaims(gone)
		Eventually(func(g Gomega) {
			now := survey(g)
			g.Expect(now.holders).To(HaveLen(held + providerRoom))
			g.Expect(now.waiting).To(HaveLen(len(more) - providerRoom - leaving))
		}, prompt, 500*time.Millisecond).Should(Succeed())
		Expect(clusterTokens()).To(Equal(held + providerRoom))
	})
})

func quotaScope() *v1alpha1.DNSScope {
	return &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: scopeName},
		Spec: v1alpha1.DNSScopeSpec{
			Provider: v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{
				AccountID:         account,
				APITokenSecretRef: v1alpha1.SecretKeySelector{Name: "cloudflare-master", Key: "api-token"},
				BaseURL:           cfHTTP.URL + "/client/v4/",
			}},
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{tenantLabel: "true"}},
			Zones: []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{{
				Names: []string{"_acme-challenge.{namespace}.apps.example.com"},
				Types: []v1alpha1.RecordType{v1alpha1.RecordTypeTXT},
			}}}},
			Credentials: v1alpha1.CredentialsSpec{
				ProviderToken: &v1alpha1.CredentialToggle{Enabled: true},
				RFC2136:       &v1alpha1.CredentialToggle{Enabled: true},
				ACMEDNS:       &v1alpha1.CredentialToggle{Enabled: true},
			},
		},
	}
}

func challengeName(ns string) string { return "_acme-challenge." + ns + ".apps.example.com" }

// createTenants creates a selected namespace and one claim reserving its
// _acme-challenge TXT for each name, in parallel.
func createTenants(names []string) {
	GinkgoHelper()
	work := make(chan string)
	var wg sync.WaitGroup
	errs := make(chan error, len(names))
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ns := range work {
				if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{tenantLabel: "true"}}}); err != nil {
					errs <- err
					continue
				}
				c := &v1alpha1.DNSRecordClaim{
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"},
					Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: scopeName, Records: []v1alpha1.RecordSpec{
						{Name: challengeName(ns), Type: v1alpha1.RecordTypeTXT},
					}},
				}
				if err := k8s.Create(ctx, c); err != nil {
					errs <- err
				}
			}
		}()
	}
	for _, ns := range names {
		work <- ns
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		Expect(err).NotTo(HaveOccurred())
	}
}

func deleteClaims(namespaces []string) {
	GinkgoHelper()
	for _, ns := range namespaces {
		Expect(k8s.Delete(ctx, &v1alpha1.DNSRecordClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"}})).To(Succeed())
	}
}

// census is the DNSCredentials of the scope by namespace: those holding a
// token, and those waiting for one (QuotaExceeded=True).
type census struct {
	holders, waiting map[string]v1alpha1.DNSCredential
}

func survey(g Gomega) census {
	var list v1alpha1.DNSCredentialList
	g.Expect(k8s.List(ctx, &list)).To(Succeed())
	s := census{holders: map[string]v1alpha1.DNSCredential{}, waiting: map[string]v1alpha1.DNSCredential{}}
	for _, dc := range list.Items {
		if dc.Spec.ScopeName != scopeName {
			continue
		}
		if dc.Status.Token != nil {
			s.holders[dc.Spec.Namespace] = dc
		}
		if meta.IsStatusConditionTrue(dc.Status.Conditions, v1alpha1.ConditionQuotaExceeded) {
			s.waiting[dc.Spec.Namespace] = dc
		}
	}
	return s
}

// clusterTokens counts the tokens at the provider other than the master.
func clusterTokens() int {
	n := 0
	for _, t := range cf.Tokens() {
		if t.Name != "cfsim-master" {
			n++
		}
	}
	return n
}

// quotaEvents returns the objects that got a QuotaExceeded Warning event.
func quotaEvents(g Gomega) map[string]bool {
	var list eventsv1.EventList
	g.Expect(k8s.List(ctx, &list)).To(Succeed())
	out := map[string]bool{}
	for _, e := range list.Items {
		if e.Reason == v1alpha1.ReasonQuotaExceeded && e.Type == corev1.EventTypeWarning && e.Regarding.Kind == "DNSCredential" {
			g.Expect(e.Note).To(ContainSubstring("this cluster holds %d provider tokens and the quota is %d", tokenQuota, tokenQuota))
			out[e.Regarding.Name] = true
		}
	}
	return out
}

func tenantSecret(ns string) *corev1.Secret {
	GinkgoHelper()
	var s corev1.Secret
	Eventually(func(g Gomega) {
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: scopeName + "-dns-credentials"}, &s)).To(Succeed())
		g.Expect(s.Data).To(HaveKey(controllers.KeyTSIGSecret))
	}, 30*time.Second).Should(Succeed())
	return &s
}

// signedUpdate adds a TXT at name through the gateway with the Secret's
// TSIG key and returns the rcode (-1 when no answer came).
func signedUpdate(s *corev1.Secret, name, value string) int {
	key := dns.Fqdn(string(s.Data[controllers.KeyTSIGName]))
	m := new(dns.Msg)
	m.SetUpdate("example.com.")
	rr, err := dns.NewRR(fmt.Sprintf("%s 120 IN TXT %q", dns.Fqdn(name), value))
	Expect(err).NotTo(HaveOccurred())
	m.Insert([]dns.RR{rr})
	c := &dns.Client{Net: "tcp", Timeout: 15 * time.Second, TsigSecret: map[string]string{key: string(s.Data[controllers.KeyTSIGSecret])}}
	m.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
	r, _, err := c.ExchangeContext(ctx, m, gatewayAddr)
	if err != nil || r == nil {
		return -1
	}
	return r.Rcode
}

func acmeDNSUpdate(acct frontcreds.ACMEDNSEntry, txt string) string {
	body := `{"subdomain":"` + acct.Subdomain + `","txt":"` + txt + `"}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, acct.ServerURL+"/update", strings.NewReader(body))
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("X-Api-User", acct.Username)
	req.Header.Set("X-Api-Key", acct.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// freeAddr is a 127.0.0.1 address whose port is free for both TCP and UDP
// (the gateway listens on both), picked below the ephemeral range so no
// client connection takes it before the server binds it.
func freeAddr() string {
	addr, err := testports.TCPAndUDP()
	if err != nil {
		panic(err)
	}
	return addr
}

// quiesce waits until every DNSCredential of the scope has its Secret and
// the credentials controller has nothing queued and nothing running, three
// looks in a row: the convergence is over (each object's own writes echo
// back as events for a while), and what runs after is what waiting costs.
func quiesce() {
	GinkgoHelper()
	idle := 0
	Eventually(func() int {
		var list v1alpha1.DNSCredentialList
		Expect(k8s.List(ctx, &list)).To(Succeed())
		delivered := true
		for _, dc := range list.Items {
			delivered = delivered && dc.Status.SecretUID != ""
		}
		if delivered && metricSum("workqueue_depth", "name", "credentials") == 0 &&
			metricSum("controller_runtime_active_workers", "controller", "credentials") == 0 {
			idle++
		} else {
			idle = 0
		}
		return idle
	}, time.Minute, 500*time.Millisecond).Should(BeNumerically(">=", 3))
}

// reconciles is how many reconciles the credentials controller has run, from
// the manager's own metrics registry (this process).
func reconciles() float64 {
	GinkgoHelper()
	return metricSum("controller_runtime_reconcile_total", "controller", "credentials")
}

// gauge is the value of one of this cluster's gauges.
func gauge(name string) float64 {
	GinkgoHelper()
	return metricSum(name, "cluster", clusterName)
}

func metricSum(name, label, value string) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return sum
}

// heldIn is the first count in a QuotaExceeded message.
func heldIn(msg string) int {
	m := regexp.MustCompile(`(\d+) provider tokens held`).FindStringSubmatch(msg)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
