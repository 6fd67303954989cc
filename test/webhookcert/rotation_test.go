package webhookcert

import (
	"fmt"
	"net"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

const tenant = "team-a"

var _ = Describe("Webhook serving certificate rotation", Ordered, func() {
	var a, b *replica
	var claims int

	// admits shows that the API server reaches the webhooks over TLS with the
	// injected CA: a claim outside the grant is refused by the webhook (an
	// unreachable or untrusted webhook fails differently), one inside the
	// grant is accepted.
	admits := func() {
		GinkgoHelper()
		claims++
		outside := claim(fmt.Sprintf("outside-%d", claims), "payroll.example.com")
		Eventually(func(g Gomega) {
			err := k8s.Create(ctx, outside)
			g.Expect(err).To(HaveOccurred(), "a claim outside the grant was admitted")
			g.Expect(statusMessage(err)).To(And(
				ContainSubstring(`admission webhook "vdnsrecordclaim.scopedns.io" denied the request`),
				ContainSubstring("payroll.example.com")))
		}).Should(Succeed())
		inside := claim(fmt.Sprintf("inside-%d", claims), fmt.Sprintf("web%d.%s.apps.example.com", claims, tenant))
		Eventually(func() error { return k8s.Create(ctx, inside) }).Should(Succeed())
	}

	// serve waits until both replicas serve the Secret's certificate c,
	// verified against its CA.
	serve := func(c certs) {
		GinkgoHelper()
		for _, r := range []*replica{a, b} {
			Eventually(func(g Gomega) {
				leaf, err := r.served(c.caPEM)
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(fingerprint(leaf.Raw)).To(Equal(c.leaf), "replica %s serves another certificate than the Secret's", r.name)
			}).Should(Succeed())
		}
	}

	// injected waits until every webhook's caBundle is the Secret's CA c.
	injected := func(c certs) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			bundles, err := caBundles()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(bundles).NotTo(BeEmpty())
			g.Expect(bundles).To(HaveEach(c.ca))
		}).Should(Succeed())
	}

	// editSecret changes the Secret as an admin or a broken tool might.
	editSecret := func(edit func(*corev1.Secret)) {
		GinkgoHelper()
		Eventually(func() error {
			var s corev1.Secret
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: opNS, Name: certSecret}, &s); err != nil {
				return err
			}
			edit(&s)
			return k8s.Update(ctx, &s)
		}).Should(Succeed())
	}

	BeforeAll(func() {
		// The Secret as a chart would create it before the manager ever ran:
		// no certificate in it yet.
		Expect(k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: opNS, Name: certSecret},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: {}, corev1.TLSPrivateKeyKey: {}},
		})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant, Labels: map[string]string{"tenant": "true"}}})).To(Succeed())
		a, b = newReplica("a"), newReplica("b")
		// Claims go to replica a, scopes to replica b: admission needs both.
		Expect(k8s.Create(ctx, webhookConfiguration(map[string]string{
			"vdnsrecordclaim.scopedns.io": "https://localhost:" + port(a.webhookAddr),
			"vdnsscope.scopedns.io":       "https://localhost:" + port(b.webhookAddr),
		}))).To(Succeed())
		bundles, err := caBundles()
		Expect(err).NotTo(HaveOccurred())
		Expect(bundles).To(HaveEach(BeEmpty()), "the test must start from an empty caBundle")
		// The configuration is in force: with nothing serving, claims fail.
		err = k8s.Create(ctx, claim("before", "web0."+tenant+".apps.example.com"))
		Expect(err).To(HaveOccurred())
		Expect(statusMessage(err)).To(ContainSubstring(`failed calling webhook "vdnsrecordclaim.scopedns.io"`))
		// Started here, not in an It, so that they run through every spec.
		a.start()
		b.start()
	})

	It("issues a certificate, injects its CA into the empty caBundle, and serves it from every replica, leader or not", func() {
		c := issued("", "")
		injected(c)
		serve(c)
		for _, r := range []*replica{a, b} {
			Eventually(r.ready).Should(Succeed(), "replica %s is not ready", r.name)
		}
		// One leader: the other replica serves without being elected.
		Eventually(func() int { return elected(a) + elected(b) }).Should(Equal(1))
	})

	It("admits through the API server with the issued certificate", func() {
		Eventually(func() error { return k8s.Create(ctx, scope()) }).Should(Succeed())
		admits()
	})

	It("replaces a broken serving certificate, keeps the CA, and every replica serves the new one", func() {
		before, err := secretCerts()
		Expect(err).NotTo(HaveOccurred())
		editSecret(func(s *corev1.Secret) { s.Data[corev1.TLSCertKey] = []byte("not a certificate") })
		after := issued(before.leaf, "")
		Expect(after.ca).To(Equal(before.ca), "a new serving certificate must not need a new CA")
		serve(after)
		injected(after)
		admits()
	})

	It("replaces the CA when its key is lost, injects the new CA, and every replica serves a certificate it signed", func() {
		before, err := secretCerts()
		Expect(err).NotTo(HaveOccurred())
		editSecret(func(s *corev1.Secret) { delete(s.Data, "ca.key") })
		after := issued(before.leaf, before.ca)
		injected(after)
		serve(after)
		admits()
		for _, r := range []*replica{a, b} {
			Expect(r.ready()).To(Succeed(), "replica %s", r.name)
		}
	})
})

func elected(r *replica) int {
	select {
	case <-r.mgr.Elected():
		return 1
	default:
		return 0
	}
}

func port(addr string) string {
	_, p, err := net.SplitHostPort(addr)
	Expect(err).NotTo(HaveOccurred())
	return p
}

func scope() *v1alpha1.DNSScope {
	return &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: "apps"},
		Spec: v1alpha1.DNSScopeSpec{
			Provider: v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{
				AccountID:         "0123456789abcdef0123456789abcdef",
				APITokenSecretRef: v1alpha1.SecretKeySelector{Name: "cloudflare-master", Key: "api-token"},
			}},
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}},
			Zones: []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{{
				Names: []string{"*.{namespace}.apps.example.com"}, Types: []v1alpha1.RecordType{v1alpha1.RecordTypeA},
			}}}},
		},
	}
}

func claim(name, record string) *v1alpha1.DNSRecordClaim {
	return &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: name},
		Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: "apps", Records: []v1alpha1.RecordSpec{
			{Name: record, Type: v1alpha1.RecordTypeA, TTL: 300, Values: []string{"203.0.113.10"}},
		}},
	}
}
