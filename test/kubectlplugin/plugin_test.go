package kubectlplugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/kubectlplugin"
)

// run runs `kubectl args...` and returns stdout, stderr and the exit code.
func run(args ...string) (string, string, int) {
	GinkgoHelper()
	cmd := exec.CommandContext(ctx, kubectl, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		Expect(err).NotTo(HaveOccurred())
	}
	return out.String(), errOut.String(), code
}

// canI asks the plugin through kubectl, as JSON.
func canI(ns, name, typ string, extra ...string) kubectlplugin.Answer {
	GinkgoHelper()
	out, errOut, code := run(append([]string{"scopedns", "can-i", name, typ, "-n", ns, "-o", "json"}, extra...)...)
	var a kubectlplugin.Answer
	Expect(json.Unmarshal([]byte(out), &a)).To(Succeed(), "stdout %q stderr %q", out, errOut)
	Expect(code == 0).To(Equal(a.Allowed), "kubectl scopedns can-i exits 0 exactly when it allows; stderr %q", errOut)
	return a
}

// dryRun creates the claim can-i would stand for, server-side and not
// persisted, through the API server and the operator's webhook.
func dryRun(ns, name, typ string, ttl int32, values ...string) error {
	c := &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "dry-", Namespace: ns},
		Spec:       v1alpha1.DNSRecordClaimSpec{ScopeName: "it", Records: []v1alpha1.RecordSpec{{Name: name, Type: v1alpha1.RecordType(typ), TTL: ttl, Values: values}}},
	}
	return k8s.Create(ctx, c, client.DryRunAll)
}

func tenantNS(name string, selected bool) *corev1.Namespace {
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if selected {
		n.Labels = map[string]string{"scopedns.io/tenant": "true"}
	}
	return n
}

var _ = Describe("kubectl scopedns", Ordered, func() {
	BeforeAll(func() {
		for _, n := range []*corev1.Namespace{tenantNS("team-a", true), tenantNS("team-b", true), tenantNS("outsider", false)} {
			Expect(k8s.Create(ctx, n)).To(Succeed())
		}
		scope := &v1alpha1.DNSScope{
			ObjectMeta: metav1.ObjectMeta{Name: "it"},
			Spec: v1alpha1.DNSScopeSpec{
				Provider: v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{
					AccountID: account, APITokenSecretRef: v1alpha1.SecretKeySelector{Name: "cloudflare-master", Key: "api-token"}, BaseURL: cfURL,
				}},
				NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"scopedns.io/tenant": "true"}},
				Zones: []v1alpha1.ZoneGrant{
					{Name: "example.com", Rules: []v1alpha1.GrantRule{{
						Names: []string{"{namespace}.apps.example.com", "*.{namespace}.apps.example.com", "_acme-challenge.*.{namespace}.apps.example.com"},
						Types: []v1alpha1.RecordType{"A", "TXT", "CNAME"}, MaxTTL: ptr.To[int32](3600),
					}}},
					{Name: "example.org", Rules: []v1alpha1.GrantRule{{Names: []string{"shared.example.org"}, Types: []v1alpha1.RecordType{"TXT"}}}},
				},
				Credentials: v1alpha1.CredentialsSpec{RFC2136: &v1alpha1.CredentialToggle{Enabled: true}},
			},
		}
		Expect(k8s.Create(ctx, scope)).To(Succeed())
		holder := &v1alpha1.DNSRecordClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "holder", Namespace: "team-b"},
			Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: "it", Records: []v1alpha1.RecordSpec{
				{Name: "shared.example.org", Type: "TXT"},
				{Name: "www.team-b.apps.example.com", Type: "A", TTL: 300, Values: []string{"203.0.113.7"}},
			}},
		}
		// The webhook answers from the manager's cache: it admits the
		// holder once it sees the scope and the namespace.
		Eventually(func() error { return k8s.Create(ctx, holder) }).Should(Succeed())
		// ... and refuses a rival once it sees the holder.
		Eventually(func() error { return dryRun("team-a", "shared.example.org", "TXT", 0) }).ShouldNot(Succeed())
	})

	It("is found by kubectl on PATH", func() {
		out, errOut, code := run("plugin", "list")
		Expect(code).To(Equal(0), errOut)
		Expect(out).To(ContainSubstring("kubectl-scopedns"))
		out, _, code = run("scopedns", "--help")
		Expect(code).To(Equal(0))
		Expect(out).To(ContainSubstring("kubectl scopedns [command]"), "cobra names the command as kubectl runs it")
	})

	DescribeTable("can-i answers as the webhook does on a dry-run create",
		func(ns, name, typ string, ttl int32, values []string, allowed bool, reason string) {
			extra := []string{}
			if ttl != 0 {
				extra = append(extra, "--ttl", strconv.Itoa(int(ttl)))
			}
			for _, v := range values {
				extra = append(extra, "--value", v)
			}
			a := canI(ns, name, typ, extra...)
			err := dryRun(ns, name, typ, ttl, values...)
			Expect(err == nil).To(Equal(a.Allowed), "webhook: %v; can-i: %+v", err, a)
			Expect(a.Allowed).To(Equal(allowed), "%+v", a)
			Expect(a.Scopes).To(HaveLen(1))
			Expect(a.Scopes[0].Reason).To(Equal(reason))
			if allowed {
				Expect(a.Scopes[0].Zone).NotTo(BeEmpty())
				Expect(a.Scopes[0].Rule).To(Equal("rules[0]"))
			}
		},
		Entry("a name of the namespace's own", "team-a", "web.team-a.apps.example.com", "A", int32(300), []string{"203.0.113.10"}, true, ""),
		Entry("a challenge name, reserved without values", "team-a", "_acme-challenge.web.team-a.apps.example.com", "TXT", int32(0), nil, true, ""),
		Entry("another namespace's name", "team-a", "web.team-b.apps.example.com", "A", int32(0), nil, false, "OutsideRules"),
		Entry("a name outside every zone", "team-a", "payroll.example.net", "A", int32(0), nil, false, "OutsideZones"),
		Entry("a TTL above maxTTL", "team-a", "web.team-a.apps.example.com", "A", int32(7200), nil, false, "TTLAboveMax"),
		Entry("a type the rule does not allow", "team-a", "web.team-a.apps.example.com", "MX", int32(0), nil, false, "TypeNotAllowed"),
		Entry("a look-alike name", "team-a", "web.team-a.apps.ex\u0430mple.com", "A", int32(0), nil, false, "InvalidName"),
		Entry("a name another namespace's claim holds", "team-a", "shared.example.org", "TXT", int32(0), nil, false, "Conflict"),
		Entry("a namespace the scope does not select", "outsider", "web.outsider.apps.example.com", "A", int32(0), nil, false, "NamespaceNotInScope"),
	)

	It("names the claim that holds a contested name", func() {
		a := canI("team-a", "shared.example.org", "TXT")
		Expect(a.Scopes[0].Conflicts).To(ConsistOf(kubectlplugin.ConflictAnswer{Namespace: "team-b", Claim: "holder", Name: "shared.example.org", Type: "TXT"}))
		out, _, code := run("scopedns", "can-i", "shared.example.org", "TXT", "-n", "team-a")
		Expect(code).To(Equal(1))
		Expect(out).To(HavePrefix("denied: shared.example.org TXT for namespace team-a\n"))
		Expect(out).To(ContainSubstring(`already claimed by namespace "team-b" (DNSRecordClaim "holder")`))
	})

	It("lists the grants of a namespace, expanded for it", func() {
		out, errOut, code := run("scopedns", "grants", "-n", "team-a")
		Expect(code).To(Equal(0), errOut)
		Expect(out).To(ContainSubstring("team-a.apps.example.com,*.team-a.apps.example.com,_acme-challenge.*.team-a.apps.example.com"))
		Expect(out).To(ContainSubstring("provider-token,tsig"))
	})

	It("audits the credentials the operator issued", func() {
		Eventually(func(g Gomega) {
			var cred v1alpha1.DNSCredential
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: "it.team-b"}, &cred)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(cred.Status.Conditions, v1alpha1.ConditionReady)).To(BeTrue())
		}).Should(Succeed())
		out, errOut, code := run("scopedns", "audit", "-A", "-o", "json")
		Expect(code).To(Equal(0), errOut)
		var a kubectlplugin.Audit
		Expect(json.Unmarshal([]byte(out), &a)).To(Succeed())
		kinds := map[string]kubectlplugin.CredentialRow{}
		for _, r := range a.Credentials {
			Expect(r.Namespace).To(Equal("team-b"))
			kinds[r.Kind] = r
		}
		Expect(kinds).To(HaveKey("provider-token"))
		Expect(kinds).To(HaveKey("tsig"))
		Expect(kinds["provider-token"].Zones).To(Equal(int32(2)))
		Expect(kinds["provider-token"].ExpiresAt).NotTo(BeNil())
		Expect(kinds["provider-token"].State).To(Equal("Ready"))
		Expect(kinds["tsig"].Names).To(Equal(2))
		out, _, _ = run("scopedns", "audit", "-n", "team-a")
		Expect(out).To(Equal("No credentials found.\n"))
	})

	It("passes doctor on a healthy operator", func() {
		Eventually(func(g Gomega) {
			out, errOut, code := run("scopedns", "doctor", "--gateway", gatewayAddr, "--http-gateway", httpGatewayURL, "-n", "team-a")
			g.Expect(code).To(Equal(0), "%s%s", out, errOut)
			g.Expect(out).To(ContainSubstring("webhook"))
			g.Expect(out).NotTo(ContainSubstring("FAIL"))
		}).Should(Succeed())
	})

	It("answers a tenant bound to config/kubectl-plugin's reader role, and says what it could not check", func() {
		var role rbacv1.ClusterRole
		b, err := os.ReadFile(filepath.Join("..", "..", "config", "kubectl-plugin", "reader-clusterrole.yaml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(yaml.Unmarshal(b, &role)).To(Succeed())
		Expect(k8s.Create(ctx, &role)).To(Succeed())
		Expect(k8s.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "dev-a-plugin"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "dev-a"}},
		})).To(Succeed())
		// What `view` gives a team on its claims (config/rbac/claims_roles.yaml).
		Expect(k8s.Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "claims-view", Namespace: "team-a"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupVersion.Group}, Resources: []string{"dnsrecordclaims"}, Verbs: []string{"get", "list", "watch"}}},
		})).To(Succeed())
		Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "dev-a-claims-view", Namespace: "team-a"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "claims-view"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "dev-a"}},
		})).To(Succeed())
		user, err := testEnv.AddUser(envtest.User{Name: "dev-a"}, nil)
		Expect(err).NotTo(HaveOccurred())
		kc, err := user.KubeConfig()
		Expect(err).NotTo(HaveOccurred())
		devA := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(os.WriteFile(devA, kc, 0o600)).To(Succeed())

		Eventually(func(g Gomega) {
			out, errOut, code := run("scopedns", "--kubeconfig", devA, "can-i", "web.team-a.apps.example.com", "A", "-n", "team-a")
			g.Expect(code).To(Equal(0), "%s%s", out, errOut)
			g.Expect(out).To(HavePrefix("allowed: "))
		}).Should(Succeed(), "RBAC follows the bindings")
		out, errOut, code := run("scopedns", "--kubeconfig", devA, "grants", "-n", "team-a")
		Expect(code).To(Equal(0), errOut)
		Expect(out).To(ContainSubstring("*.team-a.apps.example.com"))
		// team-b's claim holds the name, and dev-a may not list it: can-i
		// says it checked team-a's claims only; the webhook refuses.
		out, _, _ = run("scopedns", "--kubeconfig", devA, "can-i", "shared.example.org", "TXT", "-n", "team-a")
		Expect(out).To(ContainSubstring("only namespace team-a's claims were checked for conflicts"))
		Expect(dryRun("team-a", "shared.example.org", "TXT", 0)).NotTo(Succeed())
		// The reader role does not reach the admins' view.
		_, errOut, code = run("scopedns", "--kubeconfig", devA, "audit", "-A")
		Expect(code).To(Equal(1))
		Expect(errOut).To(ContainSubstring("forbidden"))
	})

	It("fails doctor, with the fix, when the gateway does not answer", func() {
		out, _, code := run("scopedns", "doctor", "--gateway", freeAddr(), "--http-gateway", httpGatewayURL, "-n", "team-a")
		Expect(code).To(Equal(1))
		Expect(out).To(MatchRegexp(`gateway\s+FAIL\s+the RFC 2136 gateway at \S+ does not answer over TCP`))
	})
})
