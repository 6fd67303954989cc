package isolation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/testports"
)

// fakeClock is the operator's and the simulator's clock, so specs move time
// past a rotation or a grace period instead of waiting for it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var seq atomic.Int64

// uniq returns a DNS-label-safe name unique within this run.
func uniq(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

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

// serviceAccountUser is what the API server authenticates a ServiceAccount
// token as; impersonating it gives exactly that account's RBAC.
func serviceAccountUser(namespace, name string) rest.ImpersonationConfig {
	return rest.ImpersonationConfig{
		UserName: "system:serviceaccount:" + namespace + ":" + name,
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
}

// --- RBAC and admission policies from config/ ---

// installRBAC applies config/rbac as kustomize would (the operator's
// ClusterRole, ServiceAccount and binding, and the aggregated roles that let
// `edit` write claims), then aggregates the default roles.
func installRBAC() {
	GinkgoHelper()
	files, err := filepath.Glob(filepath.Join(root, "config", "rbac", "*.yaml"))
	Expect(err).NotTo(HaveOccurred())
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		for _, o := range readObjects(f) {
			if o.GetNamespace() == "" && namespaced(o.GetKind()) {
				o.SetNamespace(operatorNamespace) // kustomize's namespace: in config/default
			}
			Expect(admin.Create(ctx, o)).To(Succeed(), "%s: %s %s", f, o.GetKind(), o.GetName())
		}
	}
	aggregateClusterRoles()
}

func namespaced(kind string) bool {
	return kind == "ServiceAccount" || kind == "Role" || kind == "RoleBinding"
}

// installAdmissionPolicies applies every ValidatingAdmissionPolicy (and its
// binding) under config/, wherever kustomize keeps them: the finalizer guard
// may be one.
func installAdmissionPolicies() {
	GinkgoHelper()
	Expect(filepath.WalkDir(filepath.Join(root, "config"), func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || d.Name() == "kustomization.yaml" {
			return err
		}
		for _, o := range readObjects(path) {
			if o.GetKind() == "ValidatingAdmissionPolicy" || o.GetKind() == "ValidatingAdmissionPolicyBinding" {
				Expect(admin.Create(ctx, o)).To(Succeed(), "%s: %s %s", path, o.GetKind(), o.GetName())
			}
		}
		return nil
	})).To(Succeed())
}

func readObjects(path string) []*unstructured.Unstructured {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			Fail(fmt.Sprintf("%s: %v", path, err))
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// aggregateClusterRoles does what kube-controller-manager's
// clusterrole-aggregation controller does (envtest runs no controller
// manager): each ClusterRole with an aggregationRule gets the rules of every
// ClusterRole its selectors match. Repeated to a fixed point, because `edit`
// is itself aggregated into `admin`.
func aggregateClusterRoles() {
	GinkgoHelper()
	Eventually(func() error {
		return admin.Get(ctx, client.ObjectKey{Name: "edit"}, &rbacv1.ClusterRole{})
	}, 30*time.Second).Should(Succeed(), "the API server bootstraps admin, edit and view when RBAC is on")
	for range 3 {
		var roles rbacv1.ClusterRoleList
		Expect(admin.List(ctx, &roles)).To(Succeed())
		for i := range roles.Items {
			r := &roles.Items[i]
			if r.AggregationRule == nil {
				continue
			}
			var rules []rbacv1.PolicyRule
			for _, sel := range r.AggregationRule.ClusterRoleSelectors {
				s, err := metav1.LabelSelectorAsSelector(&sel)
				Expect(err).NotTo(HaveOccurred())
				for j := range roles.Items {
					o := &roles.Items[j]
					if o.Name != r.Name && s.Matches(labels.Set(o.Labels)) {
						rules = append(rules, o.Rules...)
					}
				}
			}
			r.Rules = rules
			Expect(admin.Update(ctx, r)).To(Succeed())
		}
	}
}

// --- tenants ---

// tenant is a namespace and a client that acts as its ServiceAccount, bound
// to the standard `edit` ClusterRole there: it writes claims, Secrets and
// anything else `edit` allows in its own namespace, and nothing else.
type tenant struct {
	ns string
	c  client.Client
}

func newTenant(label string) *tenant {
	GinkgoHelper()
	ns := uniq("team")
	Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{label: "true"}}})).To(Succeed())
	Expect(admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant"}})).To(Succeed())
	Expect(admin.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tenant-edit"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "edit"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "tenant", Namespace: ns}},
	})).To(Succeed())
	c := rest.CopyConfig(cfg)
	c.Impersonate = serviceAccountUser(ns, "tenant")
	tc, err := client.New(c, client.Options{Scheme: app.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	Eventually(func() error {
		return tc.List(ctx, &v1alpha1.DNSRecordClaimList{}, client.InNamespace(ns))
	}, 10*time.Second).Should(Succeed(), "the RoleBinding to edit reaches the authorizer")
	return &tenant{ns: ns, c: tc}
}

// world is one scope and two tenants it selects: a, the attacker, and b,
// who must not notice.
type world struct {
	label string
	scope *v1alpha1.DNSScope
	a, b  *tenant
}

func newWorld() *world {
	GinkgoHelper()
	w := &world{label: uniq("iso") + ".example.io/dns"}
	w.scope = newScope(uniq("iso"), w.label)
	Expect(admin.Create(ctx, w.scope)).To(Succeed())
	waitCondition(w.scope, v1alpha1.ConditionReady)
	w.a, w.b = newTenant(w.label), newTenant(w.label)
	return w
}

var webTypes = []v1alpha1.RecordType{v1alpha1.RecordTypeA, v1alpha1.RecordTypeAAAA, v1alpha1.RecordTypeCNAME, v1alpha1.RecordTypeTXT}

// newScope grants each selected namespace names under
// <namespace>.apps.example.com, and every namespace the challenge names
// under shared.example.com (so two tenants can contend for one), with both
// kinds of credentials.
func newScope(name, label string) *v1alpha1.DNSScope {
	return &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.DNSScopeSpec{
			Provider: v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{
				AccountID:         account,
				APITokenSecretRef: v1alpha1.SecretKeySelector{Name: "cloudflare-master", Key: "api-token"},
				BaseURL:           cfURL,
			}},
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{label: "true"}},
			Zones: []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{
				{Types: webTypes, MaxTTL: ptr.To[int32](3600), Names: []string{
					"{namespace}.apps.example.com", "*.{namespace}.apps.example.com",
					"_acme-challenge.{namespace}.apps.example.com", "_acme-challenge.*.{namespace}.apps.example.com",
				}},
				{Types: []v1alpha1.RecordType{v1alpha1.RecordTypeTXT}, MaxTTL: ptr.To[int32](3600), Names: []string{"_acme-challenge.*.shared.example.com"}},
			}}},
			Credentials: v1alpha1.CredentialsSpec{
				ProviderToken: &v1alpha1.CredentialToggle{Enabled: true},
				RFC2136:       &v1alpha1.CredentialToggle{Enabled: true},
				// Fake time moves about 15 h in the whole suite: no token
				// of another spec expires under it.
				Rotation:    v1alpha1.RotationSpec{Schedule: "@every 12h", Overlap: &metav1.Duration{Duration: 10 * time.Minute}},
				ExpireAfter: &metav1.Duration{Duration: 48 * time.Hour},
			},
		},
	}
}

func (w *world) secretName() string { return controllers.CredentialsSecretName(w.scope) }

func newClaim(namespace, name, scope string, records ...v1alpha1.RecordSpec) *v1alpha1.DNSRecordClaim {
	return &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       v1alpha1.DNSRecordClaimSpec{ScopeName: scope, Records: records},
	}
}

func rec(name string, typ v1alpha1.RecordType, values ...string) v1alpha1.RecordSpec {
	return v1alpha1.RecordSpec{Name: name, Type: typ, TTL: 300, Values: values}
}

// claim creates a claim as the tenant and returns it.
func (t *tenant) claim(w *world, records ...v1alpha1.RecordSpec) *v1alpha1.DNSRecordClaim {
	GinkgoHelper()
	c := newClaim(t.ns, uniq("claim"), w.scope.Name, records...)
	Expect(t.c.Create(ctx, c)).To(Succeed())
	return c
}

// waitCondition waits, as admin, for a scope's or claim's condition to be True.
func waitCondition(obj client.Object, condType string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		var conds []metav1.Condition
		switch o := obj.(type) {
		case *v1alpha1.DNSScope:
			conds = o.Status.Conditions
		case *v1alpha1.DNSRecordClaim:
			conds = o.Status.Conditions
		}
		c := meta.FindStatusCondition(conds, condType)
		g.Expect(c).NotTo(BeNil(), "%s: no %s condition yet", obj.GetName(), condType)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s: %s: %s", obj.GetName(), c.Reason, c.Message)
	}, 30*time.Second).Should(Succeed())
}

// credentials waits for the tenant's credentials Secret to hold a provider
// token and a TSIG key, and returns it (read as admin).
func (w *world) credentials(t *tenant) *corev1.Secret {
	GinkgoHelper()
	var s corev1.Secret
	Eventually(func(g Gomega) {
		g.Expect(admin.Get(ctx, client.ObjectKey{Namespace: t.ns, Name: w.secretName()}, &s)).To(Succeed())
		g.Expect(s.Data[controllers.KeyAPIToken]).NotTo(BeEmpty())
		g.Expect(s.Data[controllers.KeyTSIGSecret]).NotTo(BeEmpty())
		g.Expect(s.Annotations[controllers.AnnMinting]).To(BeEmpty())
	}, 30*time.Second).Should(Succeed())
	return &s
}

// expectWorking is what every spec asks of tenant b while a attacks: a new
// claim becomes Ready, the provider token verifies at the simulator, and the
// TSIG key writes its reserved name through the gateway with a real DNS
// UPDATE.
func (w *world) expectWorking(t *tenant) {
	GinkgoHelper()
	host := uniq("w")
	challenge := "_acme-challenge." + host + "." + t.ns + ".apps.example.com"
	c := t.claim(w, rec(host+"."+t.ns+".apps.example.com", v1alpha1.RecordTypeA, "203.0.113.10"), rec(challenge, v1alpha1.RecordTypeTXT))
	waitCondition(c, v1alpha1.ConditionReady)
	s := w.credentials(t)
	Expect(verifyToken(string(s.Data[controllers.KeyAPIToken]))).To(Equal("active"), "tenant %s's provider token works", t.ns)
	Eventually(func() int {
		return update(keyOf(s), addTXT(challenge, "b-works"))
	}, 20*time.Second).Should(Equal(dns.RcodeSuccess), "tenant %s's TSIG key writes its reserved name through the gateway", t.ns)
	Expect(recordsNamed(challenge)).To(ContainElement(HaveField("Content", ContainSubstring("b-works"))))
	Expect(update(keyOf(s), deleteRRset(challenge, dns.TypeTXT))).To(Equal(dns.RcodeSuccess))
}

// poke makes the operator look at a namespace's credentials again now, for
// specs that moved the fake clock (requeues run on the real one).
func poke(t *tenant) {
	GinkgoHelper()
	Eventually(func() error {
		var ns corev1.Namespace
		if err := admin.Get(ctx, client.ObjectKey{Name: t.ns}, &ns); err != nil {
			return err
		}
		if ns.Annotations == nil {
			ns.Annotations = map[string]string{}
		}
		ns.Annotations["test.scopedns.io/poke"] = clock.Now().String()
		return admin.Update(ctx, &ns)
	}).Should(Succeed())
}

// updateSecret edits a Secret as the tenant, retrying on conflicts with the
// operator's own writes.
func (t *tenant) updateSecret(name string, edit func(*corev1.Secret)) {
	GinkgoHelper()
	Eventually(func() error {
		var s corev1.Secret
		if err := t.c.Get(ctx, client.ObjectKey{Namespace: t.ns, Name: name}, &s); err != nil {
			return err
		}
		edit(&s)
		return t.c.Update(ctx, &s)
	}, 10*time.Second).Should(Succeed())
}

// --- DNSCredential, read without its Go type so the suite compiles on any
// revision; the contract is the API's, not a struct's. ---

var dnsCredentialGVK = schema.GroupVersionKind{Group: "scopedns.io", Version: "v1alpha1", Kind: "DNSCredential"}

// credentialCondition returns the condition of DNSCredential <scope>.<ns>.
func credentialCondition(scope, ns, condType string) (metav1.Condition, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(dnsCredentialGVK)
	if err := admin.Get(ctx, client.ObjectKey{Name: scope + "." + ns}, u); err != nil {
		return metav1.Condition{}, err
	}
	raw, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	data, err := json.Marshal(raw)
	if err != nil {
		return metav1.Condition{}, err
	}
	var conds []metav1.Condition
	if err := json.Unmarshal(data, &conds); err != nil {
		return metav1.Condition{}, err
	}
	if c := meta.FindStatusCondition(conds, condType); c != nil {
		return *c, nil
	}
	return metav1.Condition{}, fmt.Errorf("DNSCredential %s.%s has no %s condition", scope, ns, condType)
}

// --- the simulator, as the admin sees it ---

// tokensOf returns the live tokens this cluster minted for a namespace
// under a scope (their names say so).
func tokensOf(scope, ns string) []sim.TokenInfo {
	prefix := provider.TokenNamePrefix(clusterName) + scope + "/" + ns + "/"
	var out []sim.TokenInfo
	for _, t := range cf.Tokens() {
		if strings.HasPrefix(t.Name, prefix) {
			out = append(out, t)
		}
	}
	return out
}

func tokenIDs(ts []sim.TokenInfo) []string {
	ids := make([]string, 0, len(ts))
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return ids
}

func hasToken(id string) bool {
	return slices.ContainsFunc(cf.Tokens(), func(t sim.TokenInfo) bool { return t.ID == id })
}

// verifyToken asks the simulator's verify endpoint about a token value and
// returns its status ("active"), or the error's text.
func verifyToken(value string) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfURL+"accounts/"+account+"/tokens/verify", nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var body struct {
		Success bool `json:"success"`
		Result  struct {
			Status string `json:"status"`
		} `json:"result"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || !body.Success {
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return body.Result.Status
}

func recordsNamed(name string) []sim.Record {
	var out []sim.Record
	for _, r := range cf.Records("example.com") {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// recordsOwnedBy returns the records carrying this cluster's owner marker
// for a namespace, whoever wrote them (a claim or the gateway).
func recordsOwnedBy(ns string) []sim.Record {
	var out []sim.Record
	for _, r := range cf.Records("example.com") {
		if o, ok := provider.ParseOwner(r.Comment); ok && o.IsCluster(clusterName) && o.Namespace == ns {
			out = append(out, r)
		}
	}
	return out
}

// --- RFC 2136 through the gateway ---

type tsigKey struct{ name, secret string }

func keyOf(s *corev1.Secret) tsigKey {
	return tsigKey{name: dns.Fqdn(string(s.Data[controllers.KeyTSIGName])), secret: string(s.Data[controllers.KeyTSIGSecret])}
}

func addTXT(name, value string) func(*dns.Msg) {
	return func(m *dns.Msg) {
		rr, err := dns.NewRR(fmt.Sprintf("%s 120 IN TXT %q", dns.Fqdn(name), value))
		Expect(err).NotTo(HaveOccurred())
		m.Insert([]dns.RR{rr})
	}
}

func deleteRRset(name string, typ uint16) func(*dns.Msg) {
	return func(m *dns.Msg) {
		m.RemoveRRset([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: dns.Fqdn(name), Rrtype: typ, Class: dns.ClassANY}}})
	}
}

// updateMsg is one DNS UPDATE of example.com carrying changes, signed with
// key unless its name is empty.
func updateMsg(key tsigKey, changes ...func(*dns.Msg)) (*dns.Msg, *dns.Client) {
	m := new(dns.Msg)
	m.SetUpdate("example.com.")
	for _, ch := range changes {
		ch(m)
	}
	c := &dns.Client{Net: "tcp", Timeout: 15 * time.Second}
	if key.name != "" {
		c.TsigSecret = map[string]string{key.name: key.secret}
		m.SetTsig(key.name, dns.HmacSHA256, 300, time.Now().Unix())
	}
	return m, c
}

// update sends one DNS UPDATE over a new TCP connection to the gateway and
// returns the answer's rcode (-1 when no answer came).
func update(key tsigKey, changes ...func(*dns.Msg)) int {
	m, c := updateMsg(key, changes...)
	r, _, err := c.ExchangeContext(ctx, m, gatewayAddr)
	if err != nil || r == nil {
		return -1
	}
	return r.Rcode
}

// flooder sends UPDATEs back to back over one TCP connection, as a client
// pipelining its messages would, dialling again when the gateway closes it;
// a connection per message would run out of loopback ports first.
type flooder struct {
	key  tsigKey
	conn *dns.Conn
}

func (f *flooder) send(changes ...func(*dns.Msg)) int {
	m, c := updateMsg(f.key, changes...)
	if f.conn == nil {
		conn, err := c.DialContext(ctx, gatewayAddr)
		if err != nil {
			return -1
		}
		f.conn = conn
	}
	r, _, err := c.ExchangeWithConnContext(ctx, m, f.conn)
	if err != nil || r == nil {
		_ = f.conn.Close()
		f.conn = nil
		return -1
	}
	return r.Rcode
}

func (f *flooder) close() {
	if f.conn != nil {
		_ = f.conn.Close()
	}
}

func rcodeName(rc int) string {
	if n, ok := dns.RcodeToString[rc]; ok {
		return n
	}
	return fmt.Sprint(rc)
}
