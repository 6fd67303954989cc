package integration

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

var webTypes = []v1alpha1.RecordType{v1alpha1.RecordTypeA, v1alpha1.RecordTypeAAAA, v1alpha1.RecordTypeCNAME, v1alpha1.RecordTypeTXT}

// appsScope is DESIGN.md's example grant: each tenant gets names under
// <namespace>.apps.example.com and their ACME challenge names.
func appsScope(name, tenantLabel string) *v1alpha1.DNSScope {
	return newScope(name,
		selecting(map[string]string{tenantLabel: "true"}),
		withRules("example.com", rule(webTypes, 3600,
			"{namespace}.apps.example.com", "*.{namespace}.apps.example.com",
			"_acme-challenge.{namespace}.apps.example.com", "_acme-challenge.*.{namespace}.apps.example.com")))
}

// createScope creates a scope and waits until the manager's cache sees it,
// because the webhook answers from that cache.
func createScope(s *v1alpha1.DNSScope) {
	ExpectWithOffset(1, k8s.Create(ctx, s)).To(Succeed())
	EventuallyWithOffset(1, func() error {
		return mgrCache.Get(ctx, client.ObjectKeyFromObject(s), &v1alpha1.DNSScope{})
	}).Should(Succeed())
}

func statusMessage(err error) string {
	var st apierrors.APIStatus
	if s, ok := err.(apierrors.APIStatus); ok {
		st = s
		return st.Status().Message
	}
	return fmt.Sprint(err)
}

var _ = Describe("Admission", func() {
	var label string

	BeforeEach(func() {
		label = uniq("tenant") + ".example.io/dns"
	})

	Context("CEL validation in the CRD schema", func() {
		It("refuses a scope without a provider", func() {
			s := appsScope(uniq("no-provider"), label)
			s.Spec.Provider.Cloudflare = nil
			err := k8s.Create(ctx, s)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(ContainSubstring("exactly one provider must be set"))
		})

		It("refuses token expiry shorter than one rotation period plus overlap", func() {
			s := appsScope(uniq("short-expiry"), label)
			s.Spec.Credentials.Rotation = v1alpha1.RotationSpec{Schedule: "@every 24h", Overlap: &metav1.Duration{Duration: time.Hour}}
			s.Spec.Credentials.ExpireAfter = &metav1.Duration{Duration: 24 * time.Hour}
			err := k8s.Create(ctx, s)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(ContainSubstring("expireAfter must be longer than the rotation period plus overlap"))
		})

		It("refuses acmeDNS and dynDNS without rfc2136, whose key their passwords come from", func() {
			for _, set := range []func(*v1alpha1.CredentialsSpec){
				func(c *v1alpha1.CredentialsSpec) { c.ACMEDNS = &v1alpha1.CredentialToggle{Enabled: true} },
				func(c *v1alpha1.CredentialsSpec) { c.DynDNS = &v1alpha1.CredentialToggle{Enabled: true} },
			} {
				s := appsScope(uniq("frontdoor-no-tsig"), label)
				s.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: false}
				set(&s.Spec.Credentials)
				err := k8s.Create(ctx, s)
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
				Expect(statusMessage(err)).To(ContainSubstring("needs rfc2136 enabled"))
			}
		})

		It("refuses a rule listed twice in one zone", func() {
			r := rule(webTypes, 0, "{namespace}.apps.example.com")
			s := newScope(uniq("dup-rules"), selecting(map[string]string{label: "true"}), withRules("example.com", r, r))
			err := k8s.Create(ctx, s)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(ContainSubstring("rules must be unique"))
		})

		It("refuses an A record whose value is not an IPv4 address, naming the field", func() {
			ns := uniq("cel-a")
			tenantNamespace(ns, nil)
			err := k8s.Create(ctx, newClaim(ns, "web", "any", rec("web."+ns+".apps.example.com", v1alpha1.RecordTypeA, "2001:db8::1")))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(And(ContainSubstring("spec.records[0]"), ContainSubstring("A values must be IPv4 addresses")))
		})

		It("refuses a CNAME with two values and a TTL below 60", func() {
			ns := uniq("cel-cname")
			tenantNamespace(ns, nil)
			r := rec("www."+ns+".apps.example.com", v1alpha1.RecordTypeCNAME, "a.example.net", "b.example.net")
			r.TTL = 30
			err := k8s.Create(ctx, newClaim(ns, "web", "any", r))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(And(ContainSubstring("a CNAME has at most one value"), ContainSubstring("ttl must be 1 (automatic) or between 60 and 86400")))
		})

		It("refuses the same name and type twice in one claim", func() {
			ns := uniq("cel-dup")
			tenantNamespace(ns, nil)
			name := "web." + ns + ".apps.example.com"
			err := k8s.Create(ctx, newClaim(ns, "web", "any", rec(name, v1alpha1.RecordTypeA, "203.0.113.1"), rec(name, v1alpha1.RecordTypeA, "203.0.113.2")))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(ContainSubstring("Duplicate value"))
		})
	})

	Context("the DNSScope webhook", func() {
		It("refuses a pattern outside its zone with the field that holds it", func() {
			s := newScope(uniq("bad-pattern"), selecting(map[string]string{label: "true"}),
				withRules("example.com", rule(webTypes, 0, "{namespace}.example.net")))
			err := k8s.Create(ctx, s)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(ContainSubstring("spec.zones[0].rules[0].names[0]"))
		})

		It("refuses a cron schedule whose longest gap outlasts token expiry", func() {
			s := appsScope(uniq("monthly"), label)
			s.Spec.Credentials.Rotation = v1alpha1.RotationSpec{Schedule: "0 0 1 * *", Overlap: &metav1.Duration{Duration: time.Hour}}
			s.Spec.Credentials.ExpireAfter = &metav1.Duration{Duration: 30 * 24 * time.Hour}
			err := k8s.Create(ctx, s)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(And(ContainSubstring("spec.credentials.expireAfter"), ContainSubstring("longest rotation period")))
		})

		It("accepts a grant of a whole zone with a warning", func() {
			warnings.take()
			s := newScope(uniq("broad"), selecting(map[string]string{label: "true"}),
				withRules("example.org", rule(webTypes, 0, "**.example.org")))
			Expect(k8s.Create(ctx, s)).To(Succeed())
			Expect(warnings.take()).To(ContainElement(ContainSubstring(`grants names across the whole zone "example.org"`)))
		})
	})

	Context("the DNSRecordClaim webhook", func() {
		var scope *v1alpha1.DNSScope

		BeforeEach(func() {
			scope = appsScope(uniq("apps"), label)
			createScope(scope)
		})

		It("accepts a claim inside the grant", func() {
			ns := uniq("team")
			tenantNamespace(ns, map[string]string{label: "true"})
			c := newClaim(ns, "web", scope.Name,
				rec("web."+ns+".apps.example.com", v1alpha1.RecordTypeA, "203.0.113.10"),
				rec("_acme-challenge.web."+ns+".apps.example.com", v1alpha1.RecordTypeTXT))
			Expect(k8s.Create(ctx, c)).To(Succeed())
		})

		// The API server asks the webhook only about claims whose spec
		// changes: the controller's finalizer updates, labels and
		// annotations never leave the API server (matchConditions), which
		// at 10,000 claims is 10,000 webhook calls saved while converging.
		It("is not asked about an update that leaves the spec alone, and is asked about one that changes it", func() {
			ns := uniq("team")
			tenantNamespace(ns, map[string]string{label: "true"})
			c := newClaim(ns, "web", scope.Name, rec("web."+ns+".apps.example.com", v1alpha1.RecordTypeA, "203.0.113.10"))
			Expect(k8s.Create(ctx, c)).To(Succeed())
			before := webhookRequests(claimWebhookPath)
			Expect(k8s.Patch(ctx, c, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"team":"web"}}}`)))).To(Succeed())
			Expect(webhookRequests(claimWebhookPath)).To(Equal(before), "a label-only update reached the webhook")
			Expect(k8s.Patch(ctx, c, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"records":[{"name":"web.`+ns+`.apps.example.com","type":"A","ttl":300,"values":["203.0.113.11"]}]}}`)))).To(Succeed())
			Expect(webhookRequests(claimWebhookPath)).To(BeNumerically(">", before), "a spec change did not reach the webhook")
		})

		It("refuses a name outside every rule and says which record, which rules and why", func() {
			ns := uniq("team")
			tenantNamespace(ns, map[string]string{label: "true"})
			c := newClaim(ns, "web", scope.Name,
				rec("web."+ns+".apps.example.com", v1alpha1.RecordTypeA, "203.0.113.10"),
				rec("payroll.example.com", v1alpha1.RecordTypeA, "203.0.113.66"))
			err := k8s.Create(ctx, c)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			msg := statusMessage(err)
			Expect(msg).To(ContainSubstring("spec.records[1]"))
			Expect(msg).To(ContainSubstring("payroll.example.com"))
			Expect(msg).To(ContainSubstring(ns + ".apps.example.com")) // the rule, expanded for this namespace
			Expect(msg).NotTo(ContainSubstring("spec.records[0]"))
		})

		It("refuses another tenant's names", func() {
			ns := uniq("team")
			tenantNamespace(ns, map[string]string{label: "true"})
			err := k8s.Create(ctx, newClaim(ns, "steal", scope.Name, rec("web.someone-else.apps.example.com", v1alpha1.RecordTypeA, "203.0.113.10")))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(ContainSubstring("web.someone-else.apps.example.com"))
		})

		It("refuses a type the rule does not allow", func() {
			ns := uniq("team")
			tenantNamespace(ns, map[string]string{label: "true"})
			err := k8s.Create(ctx, newClaim(ns, "mx", scope.Name, rec(ns+".apps.example.com", v1alpha1.RecordTypeMX, "10 mail.example.com")))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(ContainSubstring("MX"))
		})

		It("refuses a TTL above the rule's maxTTL", func() {
			ns := uniq("team")
			tenantNamespace(ns, map[string]string{label: "true"})
			r := rec("web."+ns+".apps.example.com", v1alpha1.RecordTypeA, "203.0.113.10")
			r.TTL = 7200
			err := k8s.Create(ctx, newClaim(ns, "web", scope.Name, r))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(ContainSubstring("3600"))
		})

		It("refuses a claim in a namespace the scope does not select", func() {
			ns := uniq("outsider")
			tenantNamespace(ns, nil)
			err := k8s.Create(ctx, newClaim(ns, "web", scope.Name, rec("web."+ns+".apps.example.com", v1alpha1.RecordTypeA, "203.0.113.10")))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(And(ContainSubstring("does not grant names to namespace"), ContainSubstring(ns)))
		})

		It("refuses a claim under a scope that does not exist", func() {
			ns := uniq("team")
			tenantNamespace(ns, map[string]string{label: "true"})
			err := k8s.Create(ctx, newClaim(ns, "web", "no-such-scope", rec("web."+ns+".apps.example.com", v1alpha1.RecordTypeA, "203.0.113.10")))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(ContainSubstring("spec.scopeName: Not found"))
		})

		It("refuses a name and type another namespace already claimed, naming the holder", func() {
			// A grant where two tenants may write the same shared names (not
			// *.shared.example.net, which tenantScope's *.{namespace}.example.net
			// gives a namespace named "shared": the claim path refuses it).
			shared := newScope(uniq("shared"), selecting(map[string]string{label: "true"}),
				withRules("example.net", rule(webTypes, 0, "*.shared.svc.example.net")))
			createScope(shared)
			first, second := uniq("team"), uniq("team")
			tenantNamespace(first, map[string]string{label: "true"})
			tenantNamespace(second, map[string]string{label: "true"})
			holder := newClaim(first, "www", shared.Name, rec("www.shared.svc.example.net", v1alpha1.RecordTypeCNAME, "lb.example.net"))
			Expect(k8s.Create(ctx, holder)).To(Succeed())
			Eventually(func() error {
				return mgrCache.Get(ctx, client.ObjectKeyFromObject(holder), &v1alpha1.DNSRecordClaim{})
			}).Should(Succeed())

			err := k8s.Create(ctx, newClaim(second, "www", shared.Name, rec("www.shared.svc.example.net", v1alpha1.RecordTypeTXT, "hello")))
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "got %v", err)
			Expect(statusMessage(err)).To(And(ContainSubstring("conflicts with www.shared.svc.example.net CNAME"), ContainSubstring(first)))

		})
	})
})

const claimWebhookPath = "/validate-scopedns-io-v1alpha1-dnsrecordclaim"

// webhookRequests is how many admission requests the manager in this
// process has served on path.
func webhookRequests(path string) float64 {
	families, err := metrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_webhook_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "webhook" && l.GetValue() == path {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return total
}
