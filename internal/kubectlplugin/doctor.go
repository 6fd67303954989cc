package kubectlplugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

// Check is one line of doctor: what was checked, pass, fail or skip, what
// was found, and the fix when it failed.
type Check struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Check results.
const (
	resultPass = "pass"
	resultFail = "fail"
	resultSkip = "skip"
)

// Doctor is every check, in order.
type Doctor struct {
	Passed bool    `json:"passed"`
	Checks []Check `json:"checks"`
}

// DoctorOptions are doctor's settings and what it reaches the cluster with.
type DoctorOptions struct {
	// Namespace is where the webhook's dry-run claim is created.
	Namespace string
	// OperatorNamespace holds the manager's Deployment, whose flags tell
	// the gateway's addresses and the token quota.
	OperatorNamespace string
	// Gateway (host:port) and HTTPGateway (URL) override the addresses
	// read from the manager's flags.
	Gateway, HTTPGateway string
	// TokenQuota overrides the manager's --token-quota; 0 reads it.
	TokenQuota int
	// StuckAfter is how long a claim may stay not Ready.
	StuckAfter time.Duration
	Now        time.Time
	// Resources lists the served resources of scopedns.io/v1alpha1.
	Resources func(ctx context.Context) ([]string, error)
	// Timeout bounds each gateway probe.
	Timeout time.Duration
}

// The manager's flags doctor reads from its Deployment.
const (
	flagGatewayNameserver = "--gateway-nameserver"
	flagHTTPGatewayURL    = "--http-gateway-url"
	flagTokenQuota        = "--token-quota"
	defaultTokenQuota     = 500 // the manager's --token-quota default: Cloudflare's account limit
)

// quotaWarn is where the operator starts warning about the token quota
// (DESIGN: warn at 80 %); doctor fails there too.
const quotaWarn = 0.8

// RunDoctor runs every check. A check that cannot read what it needs fails
// with the error; the others still run.
func RunDoctor(ctx context.Context, c client.Client, o DoctorOptions) Doctor {
	managerFlags := readManagerFlags(ctx, c, o.OperatorNamespace)
	var d Doctor
	d.Checks = append(d.Checks, checkCRDs(ctx, o))
	d.Checks = append(d.Checks, checkWebhook(ctx, c, o.Namespace))
	d.Checks = append(d.Checks, checkMasterCredentials(ctx, c)...)
	d.Checks = append(d.Checks, checkQuota(ctx, c, o.TokenQuota, managerFlags))
	d.Checks = append(d.Checks, checkGateways(ctx, c, o, managerFlags)...)
	d.Checks = append(d.Checks, checkStuckClaims(ctx, c, o.StuckAfter, o.Now))
	d.Passed = true
	for _, ch := range d.Checks {
		if ch.Result == resultFail {
			d.Passed = false
		}
	}
	return d
}

func pass(name, detail string) Check { return Check{Name: name, Result: resultPass, Detail: detail} }
func fail(name, detail, fix string) Check {
	return Check{Name: name, Result: resultFail, Detail: detail, Fix: fix}
}
func skip(name, detail string) Check { return Check{Name: name, Result: resultSkip, Detail: detail} }

var crdResources = []string{"dnsscopes", "dnsrecordclaims", "dnscredentials"}

func checkCRDs(ctx context.Context, o DoctorOptions) Check {
	const name = "crds"
	served, err := o.Resources(ctx)
	if err != nil && !apierrors.IsNotFound(err) {
		return fail(name, fmt.Sprintf("cannot list the resources of %s: %v", v1alpha1.GroupVersion, err), "check the kubeconfig and that you may read API discovery")
	}
	have := map[string]bool{}
	for _, r := range served {
		have[r] = true
	}
	var missing []string
	for _, r := range crdResources {
		if !have[r] {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return fail(name, fmt.Sprintf("%s does not serve %s", v1alpha1.GroupVersion, strings.Join(missing, ", ")),
			"install the CRDs: helm install scopedns charts/scopedns, or kubectl apply -k config/crd")
	}
	return pass(name, fmt.Sprintf("%s serves %s", v1alpha1.GroupVersion, strings.Join(crdResources, ", ")))
}

// doctorScope names a scope that does not exist, so that only the webhook
// can refuse the dry-run claim, and only for that reason.
const doctorScope = "scopedns-doctor-no-such-scope"

// checkWebhook creates a claim in a server-side dry run. The API server's
// schema accepts it; the claim webhook alone refuses a claim of a scope that
// does not exist, naming spec.scopeName: that refusal is the pass.
func checkWebhook(ctx context.Context, c client.Client, namespace string) Check {
	const name = "webhook"
	claim := &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "scopedns-doctor-", Namespace: namespace},
		Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: doctorScope, Records: []v1alpha1.RecordSpec{
			{Name: "doctor.scopedns.example", Type: v1alpha1.RecordTypeTXT},
		}},
	}
	err := c.Create(ctx, claim, client.DryRunAll)
	switch {
	case err == nil:
		return fail(name, fmt.Sprintf("a dry-run claim of the missing DNSScope %q was admitted: no claim webhook answered", doctorScope),
			"install the ValidatingWebhookConfiguration (the chart's webhook.yaml) and run the manager without --disable-webhooks")
	case refusedByWebhook(err):
		return pass(name, fmt.Sprintf("the claim webhook refused a dry-run claim of the missing DNSScope %q in namespace %s, as it should", doctorScope, namespace))
	default:
		return fail(name, fmt.Sprintf("a dry-run claim in namespace %s failed: %v", namespace, err),
			"check the manager's pods and the webhook Service's endpoints in the operator's namespace, and the webhook configuration's caBundle; pass -n for a namespace you may create claims in")
	}
}

func refusedByWebhook(err error) bool {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	for _, cause := range status.Status().Details.Causes {
		if cause.Field == "spec.scopeName" && cause.Type == metav1.CauseTypeFieldValueNotFound {
			return true
		}
	}
	return false
}

// checkMasterCredentials reads each scope's ProviderReady condition: the
// scope controller verifies the master credential and resolves the zones.
// Doctor never reads the Secret itself.
func checkMasterCredentials(ctx context.Context, c client.Client) []Check {
	var scopes v1alpha1.DNSScopeList
	if err := c.List(ctx, &scopes); err != nil {
		return []Check{fail("master-credential", fmt.Sprintf("cannot list DNSScopes: %v", err), "doctor needs list on dnsscopes")}
	}
	if len(scopes.Items) == 0 {
		return []Check{skip("master-credential", "no DNSScope exists")}
	}
	sort.Slice(scopes.Items, func(i, j int) bool { return scopes.Items[i].Name < scopes.Items[j].Name })
	var out []Check
	for _, s := range scopes.Items {
		name := "master-credential/" + s.Name
		cond := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionProviderReady)
		switch {
		case cond == nil:
			out = append(out, fail(name, "the scope has no ProviderReady condition: the scope controller has not checked it", "check that the manager runs (kubectl -n <operator-namespace> get pods) and read its log"))
		case cond.Status != metav1.ConditionTrue:
			out = append(out, fail(name, fmt.Sprintf("ProviderReady=%s %s: %s", cond.Status, cond.Reason, cond.Message),
				"fix spec.provider: the master Secret in the operator's namespace, its key, the account ID and the zones (docs/troubleshooting.md, reason "+cond.Reason+")"))
		case cond.ObservedGeneration != s.Generation:
			out = append(out, fail(name, fmt.Sprintf("ProviderReady is for generation %d, the scope is at %d", cond.ObservedGeneration, s.Generation), "wait for the scope controller, or check that the manager runs"))
		default:
			out = append(out, pass(name, "the master credential verified and the zones resolved: "+cond.Message))
		}
	}
	return out
}

// checkQuota counts the provider tokens held per account, from
// DNSCredential status (the current and the rotated-out token of each).
func checkQuota(ctx context.Context, c client.Client, quota int, flags managerFlags) Check {
	const name = "quota"
	if quota == 0 {
		quota = defaultTokenQuota
		if q, err := strconv.Atoi(flags[flagTokenQuota]); err == nil && q > 0 {
			quota = q
		}
	}
	var creds v1alpha1.DNSCredentialList
	if err := c.List(ctx, &creds); err != nil {
		return fail(name, fmt.Sprintf("cannot list DNSCredentials: %v", err), "doctor needs list on dnscredentials (an admin's role)")
	}
	var scopes v1alpha1.DNSScopeList
	if err := c.List(ctx, &scopes); err != nil {
		return fail(name, fmt.Sprintf("cannot list DNSScopes: %v", err), "doctor needs list on dnsscopes")
	}
	account := map[string]string{}
	for _, s := range scopes.Items {
		if cf := s.Spec.Provider.Cloudflare; cf != nil {
			account[s.Name] = cf.AccountID
		}
	}
	held := map[string]int{}
	var exceeded []string
	for _, cr := range creds.Items {
		st := &cr.Status
		for _, t := range []*v1alpha1.HeldToken{st.Token, st.PreviousToken} {
			if t != nil {
				held[account[cr.Spec.ScopeName]]++
			}
		}
		if meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionQuotaExceeded) {
			exceeded = append(exceeded, cr.Name)
		}
	}
	worst, worstAccount := 0, ""
	for a, n := range held {
		if n > worst {
			worst, worstAccount = n, a
		}
	}
	detail := fmt.Sprintf("%d of %d provider tokens held in the fullest account", worst, quota)
	if worstAccount != "" {
		detail += " (" + worstAccount + ")"
	}
	switch {
	case len(exceeded) > 0:
		return fail(name, fmt.Sprintf("%s; QuotaExceeded on %s", detail, strings.Join(capped(exceeded, 5), ", ")),
			"raise --token-quota if the account allows more, revoke unused tokens, or move tenants to rfc2136 credentials (no provider tokens; docs/security-model.md)")
	case float64(worst) >= quotaWarn*float64(quota):
		return fail(name, detail+fmt.Sprintf(": at or above %d%%, rotations (which hold two tokens a while) may be postponed", int(quotaWarn*100)),
			"move tenants to rfc2136 credentials, or raise the account's token limit and --token-quota")
	default:
		return pass(name, detail)
	}
}

// managerFlags are the --flag=value arguments of the manager's containers.
type managerFlags map[string]string

// readManagerFlags finds the manager's Deployment in the operator's
// namespace by its flags; none found (the manager runs elsewhere, or doctor
// may not read Deployments) leaves the addresses to doctor's own flags.
func readManagerFlags(ctx context.Context, c client.Client, namespace string) managerFlags {
	out := managerFlags{}
	var deps appsv1.DeploymentList
	if namespace == "" || c.List(ctx, &deps, client.InNamespace(namespace)) != nil {
		return out
	}
	for _, d := range deps.Items {
		for _, ct := range d.Spec.Template.Spec.Containers {
			for _, arg := range append(append([]string(nil), ct.Command...), ct.Args...) {
				k, v, ok := strings.Cut(arg, "=")
				if ok && (k == flagGatewayNameserver || k == flagHTTPGatewayURL || k == flagTokenQuota) {
					out[k] = v
				}
			}
		}
	}
	return out
}

// checkGateways asks the RFC 2136 gateway a DNS question over TCP (any
// answer, REFUSED included, shows it serves) and the HTTP front doors'
// /health.
func checkGateways(ctx context.Context, c client.Client, o DoctorOptions, flags managerFlags) []Check {
	gw, httpURL := o.Gateway, o.HTTPGateway
	if gw == "" {
		gw = flags[flagGatewayNameserver]
	}
	if httpURL == "" {
		httpURL = flags[flagHTTPGatewayURL]
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = 3 * time.Second
	}
	var out []Check
	if gw == "" {
		out = append(out, skip("gateway", "no RFC 2136 gateway address: pass --gateway host:port (the manager's --gateway-nameserver)"))
	} else {
		out = append(out, checkDNS(ctx, gw, timeout))
	}
	if httpURL == "" {
		out = append(out, skip("front-doors", "no HTTP front-door URL: pass --http-gateway URL (the manager's --http-gateway-url)"))
	} else {
		out = append(out, checkHTTP(ctx, httpURL, timeout))
	}
	return out
}

func checkDNS(ctx context.Context, addr string, timeout time.Duration) Check {
	const name = "gateway"
	m := new(dns.Msg)
	m.SetQuestion(".", dns.TypeSOA)
	cl := &dns.Client{Net: "tcp", Timeout: timeout}
	r, _, err := cl.ExchangeContext(ctx, m, addr)
	if err != nil {
		return fail(name, fmt.Sprintf("the RFC 2136 gateway at %s does not answer over TCP: %v", addr, err),
			"check the manager's --gateway-address and the gateway Service; from outside the cluster pass --gateway with an address you reach (e.g. after kubectl port-forward)")
	}
	return pass(name, fmt.Sprintf("the RFC 2136 gateway at %s answers over TCP (%s to a question outside every grant)", addr, dns.RcodeToString[r.Rcode]))
}

func checkHTTP(ctx context.Context, base string, timeout time.Duration) Check {
	const name = "front-doors"
	url := strings.TrimSuffix(base, "/") + "/health"
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail(name, fmt.Sprintf("--http-gateway %q: %v", base, err), "pass a URL such as https://dns-gateway.example.net")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fail(name, fmt.Sprintf("the HTTP front doors at %s do not answer: %v", base, err),
			"check the manager's --http-gateway-addr and the http-gateway Service; from outside the cluster pass --http-gateway with a URL you reach")
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fail(name, fmt.Sprintf("GET %s answered %s", url, resp.Status), "read the manager's log for the HTTP front doors")
	}
	return pass(name, fmt.Sprintf("GET %s answered %s", url, resp.Status))
}

// checkStuckClaims fails on claims that have not been Ready for longer than
// stuckAfter, or were never reconciled that long after their creation.
func checkStuckClaims(ctx context.Context, c client.Client, stuckAfter time.Duration, now time.Time) Check {
	const name = "claims"
	var claims v1alpha1.DNSRecordClaimList
	if err := c.List(ctx, &claims); err != nil {
		return fail(name, fmt.Sprintf("cannot list DNSRecordClaims in every namespace: %v", err), "doctor needs list on dnsrecordclaims cluster-wide")
	}
	var stuck []string
	for _, cl := range claims.Items {
		cond := meta.FindStatusCondition(cl.Status.Conditions, v1alpha1.ConditionReady)
		switch {
		case cond == nil && now.Sub(cl.CreationTimestamp.Time) > stuckAfter:
			stuck = append(stuck, fmt.Sprintf("%s/%s (never reconciled)", cl.Namespace, cl.Name))
		case cond != nil && cond.Status != metav1.ConditionTrue && now.Sub(cond.LastTransitionTime.Time) > stuckAfter:
			stuck = append(stuck, fmt.Sprintf("%s/%s (%s for %s)", cl.Namespace, cl.Name, cond.Reason, now.Sub(cond.LastTransitionTime.Time).Round(time.Second)))
		}
	}
	sort.Strings(stuck)
	if len(stuck) > 0 {
		return fail(name, fmt.Sprintf("%d claims not Ready for more than %s: %s", len(stuck), stuckAfter, strings.Join(capped(stuck, 5), ", ")),
			"kubectl describe dnsrecordclaim -n <namespace> <name>: its conditions and events say why (docs/troubleshooting.md)")
	}
	return pass(name, fmt.Sprintf("%d claims, none not Ready for more than %s", len(claims.Items), stuckAfter))
}

func capped(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	return append(append([]string(nil), items[:n]...), fmt.Sprintf("and %d more", len(items)-n))
}

func (d Doctor) table() table {
	t := table{header: []string{"CHECK", "RESULT", "DETAIL", "FIX"}}
	for _, c := range d.Checks {
		t.rows = append(t.rows, []string{c.Name, strings.ToUpper(c.Result), c.Detail, c.Fix})
	}
	return t
}
