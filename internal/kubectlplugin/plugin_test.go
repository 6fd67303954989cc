package kubectlplugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/yaml"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func demoScope() *v1alpha1.DNSScope {
	return &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", Generation: 1},
		Spec: v1alpha1.DNSScopeSpec{
			Provider:          v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{AccountID: "acct"}},
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "true"}},
			Zones: []v1alpha1.ZoneGrant{{Name: "example.com", Rules: []v1alpha1.GrantRule{{
				Names: []string{"{namespace}.apps.example.com", "*.{namespace}.apps.example.com"},
				Types: []v1alpha1.RecordType{"A", "TXT"}, MaxTTL: ptr.To[int32](3600),
			}}}},
			Credentials: v1alpha1.CredentialsSpec{RFC2136: &v1alpha1.CredentialToggle{Enabled: true}, DynDNS: &v1alpha1.CredentialToggle{Enabled: true}, CloudflareAPI: &v1alpha1.CredentialToggle{Enabled: true}},
		},
		Status: v1alpha1.DNSScopeStatus{Zones: []v1alpha1.ZoneStatus{{Name: "example.com", ID: "zone-1"}}},
	}
}

func ns(name string, tenant bool) *corev1.Namespace {
	n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if tenant {
		n.Labels = map[string]string{"tenant": "true"}
	}
	return n
}

func claim(namespace, name string, created time.Time, records ...string) *v1alpha1.DNSRecordClaim {
	c := &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, CreationTimestamp: metav1.NewTime(created)},
		Spec:       v1alpha1.DNSRecordClaimSpec{ScopeName: "demo"},
	}
	for _, r := range records {
		n, typ, _ := strings.Cut(r, " ")
		c.Spec.Records = append(c.Spec.Records, v1alpha1.RecordSpec{Name: n, Type: v1alpha1.RecordType(typ)})
	}
	return c
}

func fakeClient(objs ...client.Object) client.WithWatch {
	return fake.NewClientBuilder().WithScheme(scheme()).WithObjects(objs...).WithStatusSubresource(&v1alpha1.DNSRecordClaim{}).Build()
}

// run runs the plugin's command line on c and returns what it printed.
func run(t *testing.T, c client.Client, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := newCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, func() (client.Client, error) { return c, nil })
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestCanICommand(t *testing.T) {
	c := fakeClient(demoScope(), ns("team-a", true), ns("team-b", true), ns("outsider", false),
		claim("team-b", "web", t0, "web.team-a.apps.example.com TXT"), // outside team-b's grant: holds nothing
		claim("team-a", "old", t0, "old.team-a.apps.example.com A"))
	cases := map[string]struct {
		args    []string
		allowed bool
		want    []string
	}{
		"names the scope, zone, rule and pattern that allow a name": {
			args: []string{"can-i", "web.team-a.apps.example.com", "A", "-n", "team-a"}, allowed: true,
			want: []string{"allowed: web.team-a.apps.example.com A for namespace team-a", "SCOPE   ANSWER", "demo    allowed   example.com   rules[0]   pattern *.team-a.apps.example.com, maxTTL 3600"},
		},
		"says why a name outside the rules is denied": {
			args: []string{"can-i", "payroll.example.com", "A", "-n", "team-a"},
			want: []string{"denied: payroll.example.com A for namespace team-a", "OutsideRules: record \"payroll.example.com\" type \"A\" denied for namespace \"team-a\": name matches no rule pattern"},
		},
		"checks the TTL against maxTTL": {
			args: []string{"can-i", "web.team-a.apps.example.com", "A", "-n", "team-a", "--ttl", "7200"},
			want: []string{"TTLAboveMax"},
		},
		"checks values": {
			args: []string{"can-i", "web.team-a.apps.example.com", "A", "-n", "team-a", "--value", "not-an-ip"},
			want: []string{"InvalidValues"},
		},
		"refuses a name this namespace's older claim holds, naming it": {
			args: []string{"can-i", "old.team-a.apps.example.com", "A", "-n", "team-a"},
			want: []string{"Conflict: old.team-a.apps.example.com A conflicts with old.team-a.apps.example.com A already claimed by namespace \"team-a\" (DNSRecordClaim \"old\")"},
		},
		"says for each scope why a namespace it does not select gets nothing": {
			args: []string{"can-i", "web.outsider.apps.example.com", "A", "-n", "outsider"},
			want: []string{"NamespaceNotInScope: DNSScope \"demo\" does not grant names to namespace \"outsider\""},
		},
		"refuses under a scope that does not exist": {
			args: []string{"can-i", "web.team-a.apps.example.com", "A", "-n", "team-a", "--scope", "nope"},
			want: []string{"nope    denied", "ScopeNotFound: DNSScope \"nope\" does not exist"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := run(t, c, tc.args...)
			if tc.allowed && err != nil || !tc.allowed && !errors.Is(err, ErrAnswerNo) {
				t.Fatalf("error %v, allowed %v\n%s", err, tc.allowed, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestCanIPrintsJSONAndYAML(t *testing.T) {
	c := fakeClient(demoScope(), ns("team-a", true))
	out, err := run(t, c, "can-i", "web.team-a.apps.example.com", "A", "-n", "team-a", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var a Answer
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if !a.Allowed || len(a.Scopes) != 1 || a.Scopes[0].Pattern != "*.team-a.apps.example.com" || a.Scopes[0].Rule != "rules[0]" {
		t.Fatalf("answer %+v", a)
	}
	out, err = run(t, c, "can-i", "x.example.com", "A", "-n", "team-a", "-o", "yaml")
	if !errors.Is(err, ErrAnswerNo) {
		t.Fatalf("error %v", err)
	}
	if err := yaml.Unmarshal([]byte(out), &a); err != nil || a.Allowed || a.Scopes[0].Reason != "OutsideRules" {
		t.Fatalf("yaml %v: %+v\n%s", err, a, out)
	}
	if _, err := run(t, c, "can-i", "a", "A", "-o", "wide"); err == nil || !strings.Contains(err.Error(), `--output "wide": must be one of table, yaml, json`) {
		t.Fatalf("an unknown output format gave %v", err)
	}
}

func TestCanISaysWhenOtherNamespacesCouldNotBeChecked(t *testing.T) {
	base := fakeClient(demoScope(), ns("team-a", true))
	forbidding := interceptor.NewClient(base, interceptor.Funcs{List: func(ctx context.Context, cl client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		lo := (&client.ListOptions{}).ApplyOptions(opts)
		if _, ok := list.(*v1alpha1.DNSRecordClaimList); ok && lo.Namespace == "" {
			return apierrors.NewForbidden(schema.GroupResource{Group: "scopedns.io", Resource: "dnsrecordclaims"}, "", errors.New("no"))
		}
		return cl.List(ctx, list, opts...)
	}})
	out, err := run(t, forbidding, "can-i", "web.team-a.apps.example.com", "A", "-n", "team-a")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "only namespace team-a's claims were checked for conflicts") {
		t.Fatalf("no note that other namespaces went unchecked:\n%s", out)
	}
}

func TestGrantsCommand(t *testing.T) {
	c := fakeClient(demoScope(), ns("team-a", true), ns("outsider", false))
	out, err := run(t, c, "grants", "-n", "team-a")
	if err != nil {
		t.Fatal(err)
	}
	want := "SCOPE   ZONE          RULE       NAMES                                               TYPES   MAXTTL   CREDENTIALS\n" +
		"demo    example.com   rules[0]   team-a.apps.example.com,*.team-a.apps.example.com   A,TXT   3600     provider-token,tsig,dyndns2,cloudflare-api\n"
	if out != want {
		t.Fatalf("grants printed\n%s\nwant\n%s", out, want)
	}
	out, err = run(t, c, "grants", "-n", "outsider")
	if err != nil || out != "No DNSScope selects namespace outsider: it may claim no names.\n" {
		t.Fatalf("grants of an unselected namespace: %v\n%s", err, out)
	}
}

func cred(namespace string, st v1alpha1.DNSCredentialStatus) v1alpha1.DNSCredential {
	return v1alpha1.DNSCredential{
		ObjectMeta: metav1.ObjectMeta{Name: "demo." + namespace},
		Spec:       v1alpha1.DNSCredentialSpec{ScopeName: "demo", Namespace: namespace},
		Status:     st,
	}
}

func ready(types ...string) []metav1.Condition {
	var out []metav1.Condition
	for _, t := range types {
		out = append(out, metav1.Condition{Type: t, Status: metav1.ConditionTrue, Reason: "Reconciled"})
	}
	return out
}

func TestAudit(t *testing.T) {
	scope := demoScope()
	scope.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionSharedZoneTokens, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonZoneWideTokens,
		Message: "Cloudflare tokens are zone-wide: ...; zone example.com: held by 2 namespaces (team-a, team-b) of 2 selected. Use rfc2136"}}
	expiresSoon, expiresLate := metav1.NewTime(t0.Add(48*time.Hour)), metav1.NewTime(t0.Add(700*time.Hour))
	next := metav1.NewTime(t0.Add(24 * time.Hour))
	creds := []v1alpha1.DNSCredential{
		cred("team-b", v1alpha1.DNSCredentialStatus{
			Token: &v1alpha1.HeldToken{ID: "t2", ZoneIDs: []string{"zone-1"}, ExpiresAt: &expiresLate}, NextRotation: &next,
			TSIG:       &v1alpha1.TSIGKeyStatus{KeyName: "k", PreviousValidUntil: ptr.To(metav1.NewTime(t0))},
			Conditions: append(ready(v1alpha1.ConditionReady), metav1.Condition{Type: v1alpha1.ConditionFrontDoorsReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonHTTPGatewayNotConfigured}),
		}),
		cred("team-a", v1alpha1.DNSCredentialStatus{
			Token: &v1alpha1.HeldToken{ID: "t1", ZoneIDs: []string{"zone-1"}, ExpiresAt: &expiresSoon}, NextRotation: &next,
			TSIG:       &v1alpha1.TSIGKeyStatus{KeyName: "k"},
			Conditions: ready(v1alpha1.ConditionReady, v1alpha1.ConditionFrontDoorsReady),
		}),
	}
	claims := []v1alpha1.DNSRecordClaim{
		*claim("team-a", "web", t0, "web.team-a.apps.example.com A", "WEB.team-a.apps.example.com. TXT", "api.team-a.apps.example.com A"),
	}
	scopes := map[string]*v1alpha1.DNSScope{"demo": scope}

	all := AuditOf(creds, scopes, claims, AuditFilter{Now: t0})
	var b bytes.Buffer
	if err := printResult(&b, outputTable, all); err != nil {
		t.Fatal(err)
	}
	want := `NAMESPACE   SCOPE   KIND             SCOPED TO         EXPIRES                NEXT ROTATION          LAST ROTATION          STATE
team-a      demo    provider-token   1 zone (shared)   2026-12-03T12:00:00Z   2026-12-02T12:00:00Z   2026-11-01T12:00:00Z   Ready
team-a      demo    tsig             2 names           <none>                 2026-12-02T12:00:00Z   <none>                 Ready
team-a      demo    dyndns2          2 names           <none>                 2026-12-02T12:00:00Z   <none>                 Ready
team-a      demo    cloudflare-api   2 names           <none>                 2026-12-02T12:00:00Z   <none>                 Ready
team-b      demo    provider-token   1 zone (shared)   2026-12-30T16:00:00Z   2026-12-02T12:00:00Z   2026-11-28T16:00:00Z   Ready
team-b      demo    tsig             0 names           <none>                 2026-12-02T12:00:00Z   2026-12-01T11:00:00Z   Ready
team-b      demo    dyndns2          0 names           <none>                 2026-12-02T12:00:00Z   2026-12-01T11:00:00Z   HTTPGatewayNotConfigured
team-b      demo    cloudflare-api   0 names           <none>                 2026-12-02T12:00:00Z   2026-12-01T11:00:00Z   HTTPGatewayNotConfigured
`
	if b.String() != want {
		t.Fatalf("audit printed\n%s\nwant\n%s", b.String(), want)
	}

	soon := AuditOf(creds, scopes, claims, AuditFilter{Now: t0, ExpiringWithin: 72 * time.Hour})
	if len(soon.Credentials) != 1 || soon.Credentials[0].Namespace != "team-a" || soon.Credentials[0].Kind != "provider-token" {
		t.Fatalf("--expiring-within 72h kept %+v, want team-a's token alone", soon.Credentials)
	}
	broad := AuditOf(creds, scopes, claims, AuditFilter{Now: t0, Broad: true})
	if len(broad.Credentials) != 2 || !broad.Credentials[0].Broad || broad.Credentials[0].Kind != "provider-token" {
		t.Fatalf("--broad kept %+v, want the two provider tokens", broad.Credentials)
	}
	scope.Status.Conditions[0].Status = metav1.ConditionFalse
	if narrow := AuditOf(creds, scopes, claims, AuditFilter{Now: t0, Broad: true}); len(narrow.Credentials) != 0 {
		t.Fatalf("--broad kept %+v with SharedZoneTokens false", narrow.Credentials)
	}
	one := AuditOf(creds, map[string]*v1alpha1.DNSScope{}, claims, AuditFilter{Now: t0, Namespace: "team-a"})
	if len(one.Credentials) != 2 || one.Credentials[0].State != v1alpha1.ReasonScopeGone {
		t.Fatalf("a credential whose scope is gone: %+v", one.Credentials)
	}
}

func TestAuditCommandPrintsJSON(t *testing.T) {
	c := fakeClient(demoScope(), ns("team-a", true))
	out, err := run(t, c, "audit", "-A", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "{\n    \"credentials\": []\n}" {
		t.Fatalf("audit of nothing printed %q", out)
	}
	if out, _ := run(t, c, "audit", "-A"); out != "No credentials found.\n" {
		t.Fatalf("audit table of nothing printed %q", out)
	}
}

func TestDoctor(t *testing.T) {
	dnsAddr := serveDNS(t)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
		}
	}))
	defer web.Close()

	scope := demoScope()
	scope.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionProviderReady, Status: metav1.ConditionTrue, Reason: "Reconciled", Message: "1 zone resolved", ObservedGeneration: 1}}
	bad := demoScope()
	bad.Name = "broken"
	bad.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionProviderReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonCredentialInvalid, Message: "the token does not verify", ObservedGeneration: 1}}
	stuck := claim("team-a", "stuck", t0.Add(-time.Hour), "web.team-a.apps.example.com A")
	stuck.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonRecordNotOwned, LastTransitionTime: metav1.NewTime(t0.Add(-time.Hour))}}
	fresh := claim("team-a", "fresh", t0.Add(-time.Minute), "x.team-a.apps.example.com A")
	held := cred("team-a", v1alpha1.DNSCredentialStatus{Token: &v1alpha1.HeldToken{ID: "1"}, PreviousToken: &v1alpha1.HeldToken{ID: "0"}})
	manager := managerDeployment("--token-quota=2", "--gateway-nameserver="+dnsAddr)

	webhookRefuses := interceptor.Funcs{Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		return apierrors.NewInvalid(schema.GroupKind{Group: "scopedns.io", Kind: "DNSRecordClaim"}, "x", field.ErrorList{field.NotFound(field.NewPath("spec", "scopeName"), doctorScope)})
	}}
	healthy := interceptor.NewClient(fakeClient(scope, ns("team-a", true), fresh, manager), webhookRefuses)
	sick := fakeClient(scope, bad, ns("team-a", true), stuck, &held, manager)

	opts := DoctorOptions{Namespace: "team-a", OperatorNamespace: "scopedns-system", HTTPGateway: web.URL, StuckAfter: 10 * time.Minute, Now: t0,
		Resources: func(context.Context) ([]string, error) { return crdResources, nil }}
	d := RunDoctor(context.Background(), healthy, opts)
	if !d.Passed {
		t.Fatalf("a healthy cluster fails:\n%s", render(t, d))
	}
	if got := results(d); got != "crds=pass webhook=pass master-credential/demo=pass quota=pass gateway=pass front-doors=pass claims=pass" {
		t.Fatalf("healthy: %s", got)
	}

	opts.Resources = func(context.Context) ([]string, error) { return []string{"dnsscopes"}, nil }
	opts.HTTPGateway = "http://127.0.0.1:1"
	d = RunDoctor(context.Background(), sick, opts)
	if d.Passed {
		t.Fatal("a sick cluster passes")
	}
	if got := results(d); got != "crds=fail webhook=fail master-credential/broken=fail master-credential/demo=pass quota=fail gateway=pass front-doors=fail claims=fail" {
		t.Fatalf("sick: %s", got)
	}
	out := render(t, d)
	for _, w := range []string{
		"scopedns.io/v1alpha1 does not serve dnsrecordclaims, dnscredentials",
		"no claim webhook answered",
		"ProviderReady=False CredentialInvalid: the token does not verify",
		"2 of 2 provider tokens held in the fullest account (acct)",
		"1 claims not Ready for more than 10m0s: team-a/stuck (RecordNotOwned for 1h0m0s)",
		"FIX",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("doctor output lacks %q:\n%s", w, out)
		}
	}
}

func managerDeployment(args ...string) client.Object {
	d := &appsv1.Deployment{}
	d.Name, d.Namespace = "scopedns", "scopedns-system"
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "manager", Args: args}}
	return d
}

func results(d Doctor) string {
	var parts []string
	for _, c := range d.Checks {
		parts = append(parts, c.Name+"="+c.Result)
	}
	return strings.Join(parts, " ")
}

func render(t *testing.T, r result) string {
	t.Helper()
	var b bytes.Buffer
	if err := printResult(&b, outputTable, r); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// serveDNS answers every question REFUSED over TCP, as the gateway does
// for a question outside every grant.
func serveDNS(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: l, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeRefused)
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return l.Addr().String()
}

func TestTableKeepsCellsOnOneLineAndEscapesOutOfTheTerminal(t *testing.T) {
	var b bytes.Buffer
	tb := table{title: "a\x1b]0;title\x07", header: []string{"A", "B"}, rows: [][]string{{"x\ty", "line\nbreak"}, {"", "z\x1b[2J"}}}
	if err := tb.write(&b); err != nil {
		t.Fatal(err)
	}
	if want := "a ]0;title \nA        B\nx y      line break\n<none>   z [2J\n"; b.String() != want {
		t.Fatalf("table %q, want %q", b.String(), want)
	}
}

// TestCanIWithAdminRightsNamesAnotherNamespacesHolder: whatever the
// manager's --conceal-conflict-holders, can-i reads the claims itself, so
// run by someone who may list every namespace's claims it names the holder
// (the admins' way to see who holds a name a tenant was refused).
func TestCanIWithAdminRightsNamesAnotherNamespacesHolder(t *testing.T) {
	scope := demoScope()
	scope.Spec.Zones[0].Rules = append(scope.Spec.Zones[0].Rules, v1alpha1.GrantRule{
		Names: []string{"shared.example.com"}, Types: []v1alpha1.RecordType{"TXT"},
	})
	c := fakeClient(scope, ns("team-a", true), ns("team-b", true), claim("team-a", "verify", t0, "shared.example.com TXT"))
	out, err := run(t, c, "can-i", "shared.example.com", "TXT", "-n", "team-b")
	if !errors.Is(err, ErrAnswerNo) {
		t.Fatalf("error %v\n%s", err, out)
	}
	if want := `already claimed by namespace "team-a" (DNSRecordClaim "verify")`; !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}
