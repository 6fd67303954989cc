package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

// walkthrough runs the steps a newcomer follows, for real, and checks that
// each behaves as it should.
type walkthrough struct {
	cp      *controlPlane
	samples *samples
	// pluginDir holds kubectl-scopedns, put first on kubectl's PATH.
	pluginDir string
	k8s       client.Client // uncached, as cluster admin: the demo's own checks

	tenantA, tenantB string         // the first two namespaces the sample claims live in
	secretA          *corev1.Secret // tenant A's credentials, read in step 3
	recordName       string         // the A record step 4 looked up
}

func (w *walkthrough) run(ctx context.Context) error {
	var err error
	if w.k8s, err = client.New(w.cp.cfg, client.Options{Scheme: app.Scheme()}); err != nil {
		return err
	}
	for _, c := range w.samples.claims {
		switch ns := c.Namespace; {
		case w.tenantA == "":
			w.tenantA = ns
		case w.tenantB == "" && ns != w.tenantA:
			w.tenantB = ns
		}
	}
	if w.tenantB == "" {
		return fmt.Errorf("%s: the walkthrough needs claims in two namespaces", w.samples.dir)
	}

	steps := []struct {
		title string
		run   func(context.Context) error
	}{
		{"Apply the samples: namespaces, the master Secret, a DNSScope and claims", w.apply},
		{"What kubectl shows", w.list},
		{fmt.Sprintf("The credentials Secret the operator wrote in %s (values redacted by the demo)", w.tenantA), w.secret},
		{"What the operator issued, from its own DNSCredentials (tenants cannot write them)", w.credentials},
		{"A claimed record, written at the provider and answered by its DNS", w.record},
		{"A claim outside the grant is refused at admission", w.outsideGrant},
		{"Ask before claiming, audit, check: kubectl scopedns", w.plugin},
		{fmt.Sprintf("%s's token works in its own zones, not in %s's", w.tenantA, w.tenantB), w.token},
		{"Look around", w.lookAround},
	}
	for i, s := range steps {
		fmt.Printf("\n-- %d. %s\n\n", i+1, s.title)
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("step %d (%s): %w", i+1, s.title, err)
		}
	}
	return nil
}

// apply applies config/samples with kubectl in the kustomization's order:
// first everything but the claims, and once the scope is Ready (so the
// webhook knows it) the claims. Then it waits until every claim is Ready.
func (w *walkthrough) apply(ctx context.Context) error {
	args := []string{"apply"}
	for _, f := range w.samples.files {
		if !slices.Contains(w.samples.claimFiles, f) {
			args = append(args, "-f", f)
		}
	}
	if _, _, err := w.kubectlShow(ctx, "", args...); err != nil {
		return err
	}
	fmt.Println()
	if _, _, err := w.kubectlShow(ctx, "", "wait", "--for=condition=Ready", "dnsscope/"+w.samples.scope.Name, "--timeout=60s"); err != nil {
		return err
	}
	fmt.Println()
	args = []string{"apply"}
	for _, f := range w.samples.claimFiles {
		args = append(args, "-f", f)
	}
	if _, _, err := w.kubectlShow(ctx, "", args...); err != nil {
		return err
	}
	fmt.Printf("\nwaiting for the %d claims to be Ready ... ", len(w.samples.claims))
	start := time.Now()
	err := poll(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		var notReady []string
		for _, want := range w.samples.claims {
			var c v1alpha1.DNSRecordClaim
			if err := w.k8s.Get(ctx, client.ObjectKeyFromObject(want), &c); err != nil {
				return false, err
			}
			if cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionReady); cond == nil || cond.Status != metav1.ConditionTrue {
				why := "no Ready condition yet"
				if cond != nil {
					why = cond.Reason + ": " + cond.Message
				}
				notReady = append(notReady, fmt.Sprintf("%s/%s (%s)", c.Namespace, c.Name, why))
			}
		}
		if len(notReady) > 0 {
			return false, fmt.Errorf("not Ready: %s", strings.Join(notReady, "; "))
		}
		return true, nil
	})
	if err != nil {
		fmt.Println()
		return err
	}
	fmt.Printf("all Ready after %s\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

func (w *walkthrough) list(ctx context.Context) error {
	_, _, err := w.kubectlShow(ctx, "", "get", "dnsscopes,dnsrecordclaims", "-A")
	return err
}

// credentials shows the audit view: one DNSCredential per namespace and
// scope, with the kinds, zone count, expiry and next rotation.
func (w *walkthrough) credentials(ctx context.Context) error {
	_, _, err := w.kubectlShow(ctx, "", "get", "dnscredentials")
	return err
}

// secret shows tenant A's credentials Secret with every data value replaced
// by its length, and checks that no credential made it into what is printed.
func (w *walkthrough) secret(ctx context.Context) error {
	name, err := w.secretName(ctx, w.tenantA)
	if err != nil {
		return err
	}
	args := []string{"-n", w.tenantA, "get", "secret", name, "-o", "yaml"}
	out, errOut, err := w.kubectl(ctx, "", args...)
	if err != nil {
		return fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, errOut)
	}
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(out), &obj); err != nil {
		return err
	}
	data, _ := obj["data"].(map[string]any)
	var credentials []string
	for k, v := range data {
		raw, err := base64.StdEncoding.DecodeString(fmt.Sprint(v))
		if err != nil {
			return fmt.Errorf("data[%s]: %w", k, err)
		}
		if k == controllers.KeyAPIToken || k == controllers.KeyTSIGSecret || k == controllers.KeyTSIGPrevious {
			credentials = append(credentials, string(raw), fmt.Sprint(v))
		}
		data[k] = fmt.Sprintf("<%d bytes>", len(raw))
	}
	if md, ok := obj["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
	}
	redacted, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	for _, v := range credentials {
		if v != "" && bytes.Contains(redacted, []byte(v)) {
			return errors.New("a credential survived the redaction; not printing the Secret")
		}
	}
	fmt.Printf("$ kubectl %s   # data values replaced by their length\n%s", strings.Join(args, " "), redacted)

	w.secretA = &corev1.Secret{}
	return w.k8s.Get(ctx, client.ObjectKey{Namespace: w.tenantA, Name: name}, w.secretA)
}

// secretName waits until the namespace's credentials Secret holds a provider
// token and returns its name.
func (w *walkthrough) secretName(ctx context.Context, ns string) (string, error) {
	var name string
	err := poll(ctx, time.Minute, func(ctx context.Context) (bool, error) {
		var claims v1alpha1.DNSRecordClaimList
		if err := w.k8s.List(ctx, &claims, client.InNamespace(ns)); err != nil {
			return false, err
		}
		for _, c := range claims.Items {
			if name = c.Status.CredentialsSecretName; name != "" {
				break
			}
		}
		if name == "" {
			return false, fmt.Errorf("no claim in %s names its credentials Secret", ns)
		}
		var s corev1.Secret
		if err := w.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &s); err != nil {
			return false, err
		}
		if len(s.Data[controllers.KeyAPIToken]) == 0 {
			return false, fmt.Errorf("Secret %s/%s has no %s yet", ns, name, controllers.KeyAPIToken)
		}
		return true, nil
	})
	return name, err
}

// record asks the simulator's DNS for the first A record tenant A claimed
// with values, and checks it answers exactly those values.
func (w *walkthrough) record(ctx context.Context) error {
	var want *v1alpha1.RecordSpec
	for _, c := range w.samples.claims {
		for i, r := range c.Spec.Records {
			if want == nil && c.Namespace == w.tenantA && r.Type == "A" && len(r.Values) > 0 {
				want = &c.Spec.Records[i]
			}
		}
	}
	if want == nil {
		return fmt.Errorf("%s: no A record with values in %s's claims", w.samples.dir, w.tenantA)
	}
	w.recordName = want.Name
	answer, err := w.query(ctx, want.Name, dns.TypeA)
	if err != nil {
		return err
	}
	var got []string
	for _, rr := range answer {
		if a, ok := rr.(*dns.A); ok {
			got = append(got, a.A.String())
		}
	}
	slices.Sort(got)
	wantValues := slices.Sorted(slices.Values(want.Values))
	if !slices.Equal(got, wantValues) {
		return fmt.Errorf("DNS answers %v for %s A, the claim says %v", got, want.Name, wantValues)
	}
	return nil
}

// query asks the simulator's DNS (UDP) and prints the question and answer
// the way dig would.
func (w *walkthrough) query(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	host, port, _ := net.SplitHostPort(simDNSAddr)
	fmt.Printf("# DNS query to the simulator, as `dig @%s -p %s %s %s` would ask it\n", host, port, name, dns.TypeToString[qtype])
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, _, err := (&dns.Client{Timeout: 3 * time.Second}).ExchangeContext(ctx, m, simDNSAddr)
	if err != nil {
		return nil, fmt.Errorf("DNS query %s %s: %w", name, dns.TypeToString[qtype], err)
	}
	fmt.Printf(";; status: %s, authoritative: %t\n", dns.RcodeToString[r.Rcode], r.Authoritative)
	for _, rr := range r.Answer {
		fmt.Println(rr.String())
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return nil, fmt.Errorf("DNS query %s %s: %s with %d answers", name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	return r.Answer, nil
}

// outsideGrant applies a claim for a name tenant A was not granted and
// checks that the webhook refuses it with a message naming the record.
func (w *walkthrough) outsideGrant(ctx context.Context) error {
	name := "payroll." + w.samples.scope.Spec.Zones[0].Name
	claim := fmt.Sprintf(`apiVersion: scopedns.io/v1alpha1
kind: DNSRecordClaim
metadata:
  name: steal
  namespace: %s
spec:
  scopeName: %s
  records:
    - {name: %s, type: A, values: [203.0.113.66]}
`, w.tenantA, w.samples.scope.Name, name)
	_, errOut, err := w.kubectlShow(ctx, claim, "apply", "-f", "-")
	var exit *exec.ExitError
	switch {
	case err == nil:
		return fmt.Errorf("the claim for %s from %s was ACCEPTED; the admission webhook should have refused it", name, w.tenantA)
	case !errors.As(err, &exit):
		return err
	case !strings.Contains(errOut, "Forbidden") || !strings.Contains(errOut, name):
		return fmt.Errorf("kubectl failed, but not with the webhook's refusal naming %s: %w", name, err)
	}
	var c v1alpha1.DNSRecordClaim
	if err := w.k8s.Get(ctx, client.ObjectKey{Namespace: w.tenantA, Name: "steal"}, &c); !apierrors.IsNotFound(err) {
		return fmt.Errorf("the refused claim exists anyway (get: %v)", err)
	}
	fmt.Printf("(kubectl exited with status %d: refused, as it should be)\n", exit.ExitCode())
	return nil
}

// plugin runs `kubectl scopedns` as a team and an admin would: can-i for a
// name tenant A may claim and for one it may not, its grants, the audit of
// every credential, and doctor.
func (w *walkthrough) plugin(ctx context.Context) error {
	scope := w.samples.scope
	zone := scope.Spec.Zones[0].Name
	allowed, err := freeName(scope, w.tenantA)
	if err != nil {
		return err
	}
	steps := []struct {
		args []string
		ok   bool   // the exit status kubectl must give: 0, or 1 for "no"
		want string // in its output
	}{
		{[]string{"scopedns", "can-i", allowed, "A", "-n", w.tenantA}, true, "allowed: " + allowed},
		{[]string{"scopedns", "can-i", "payroll." + zone, "A", "-n", w.tenantA}, false, "denied: payroll." + zone},
		{[]string{"scopedns", "grants", "-n", w.tenantA}, true, scope.Name},
		{[]string{"scopedns", "audit", "-A"}, true, w.tenantB},
		{[]string{"scopedns", "doctor", "--gateway", gatewayAddr}, true, "master-credential/" + scope.Name},
	}
	for i, st := range steps {
		if i > 0 {
			fmt.Println()
		}
		out, _, err := w.kubectlShow(ctx, "", st.args...)
		var exit *exec.ExitError
		switch {
		case st.ok && err != nil:
			return err
		case !st.ok && (!errors.As(err, &exit) || exit.ExitCode() != 1):
			return fmt.Errorf("kubectl %s should exit 1 for its no: %v", strings.Join(st.args, " "), err)
		case !strings.Contains(out, st.want):
			return fmt.Errorf("kubectl %s printed no %q", strings.Join(st.args, " "), st.want)
		}
		if !st.ok {
			fmt.Println("(kubectl exited with status 1: the answer is no)")
		}
	}
	return nil
}

// freeName is a name the namespace may claim and has not: a label put in
// the first "*" pattern of the scope's rules, expanded for the namespace.
func freeName(scope *v1alpha1.DNSScope, ns string) (string, error) {
	compiled, err := grant.Compile(policy.FromScope(scope))
	if err != nil {
		return "", err
	}
	for _, r := range compiled.Expand(ns) {
		for _, n := range r.Names {
			if strings.HasPrefix(n, "*.") && slices.Contains(r.Types, "A") {
				return "blog" + n[1:], nil
			}
		}
	}
	return "", fmt.Errorf("DNSScope %s has no \"*\" pattern of type A for %s", scope.Name, ns)
}

// token uses tenant A's Cloudflare token, as cert-manager would, against the
// simulator's API: refused in a zone only tenant B claimed, accepted for
// tenant A's own _acme-challenge record.
func (w *walkthrough) token(ctx context.Context) error {
	zonesA, err := w.claimedZones(ctx, w.tenantA)
	if err != nil {
		return err
	}
	zonesB, err := w.claimedZones(ctx, w.tenantB)
	if err != nil {
		return err
	}
	var zoneB string
	for _, z := range zonesB {
		if !slices.Contains(zonesA, z) {
			zoneB = z
			break
		}
	}
	if zoneB == "" {
		return fmt.Errorf("%s claims names in %s and %s in %s: no zone is %s's alone, and Cloudflare tokens are scoped by zone, "+
			"so there is nothing to refuse; give %s a zone of its own in %s",
			w.tenantA, strings.Join(zonesA, ", "), w.tenantB, strings.Join(zonesB, ", "), w.tenantB, w.tenantB, w.samples.dir)
	}
	ownName, ownZone := w.reservedTXT(w.tenantA, zonesA)
	if ownName == "" {
		return fmt.Errorf("%s: %s claims no TXT record without values (an _acme-challenge name for its credentials)", w.samples.dir, w.tenantA)
	}

	idB, err := w.zoneID(ctx, zoneB)
	if err != nil {
		return err
	}
	idOwn, err := w.zoneID(ctx, ownZone)
	if err != nil {
		return err
	}

	cf := w.samples.scope.Spec.Provider.Cloudflare
	p, err := cloudflare.New(cloudflare.Options{
		AccountID: cf.AccountID,
		APIToken:  provider.Secret(w.secretA.Data[controllers.KeyAPIToken]),
		BaseURL:   cf.BaseURL,
	})
	if err != nil {
		return err
	}
	fmt.Printf("# %s's %s, read from Secret %s/%s (not shown), against the simulator's API %s\n",
		w.tenantA, controllers.KeyAPIToken, w.tenantA, w.secretA.Name, cf.BaseURL)

	foreign := provider.Record{Name: "_acme-challenge." + w.firstName(w.tenantB, zoneB), Type: "TXT", Content: "written-by-" + w.tenantA, TTL: 60}
	fmt.Printf("\n# create TXT %s in %s, a zone only %s claimed:\n", foreign.Name, zoneB, w.tenantB)
	res, err := p.ApplyChanges(ctx, idB, provider.Changes{Create: []provider.Record{foreign}})
	switch {
	case err == nil:
		_, _ = p.ApplyChanges(ctx, idB, provider.Changes{Delete: res.Created})
		return fmt.Errorf("%s's token wrote %s in %s's zone %s; it must be refused", w.tenantA, foreign.Name, w.tenantB, zoneB)
	case !provider.IsForbidden(err):
		return fmt.Errorf("expected a 403, got: %w", err)
	}
	fmt.Printf("refused: %v\n", err)

	own := provider.Record{Name: ownName, Type: "TXT", Content: "dns-01-challenge-from-" + w.tenantA, TTL: 60}
	fmt.Printf("\n# create TXT %s in %s, %s's own reserved name (what cert-manager's DNS-01 solver does):\n", own.Name, ownZone, w.tenantA)
	res, err = p.ApplyChanges(ctx, idOwn, provider.Changes{Create: []provider.Record{own}})
	if err != nil {
		return fmt.Errorf("%s's token could not write its own reserved record: %w", w.tenantA, err)
	}
	fmt.Printf("created: %s\n\n", res.Created[0])
	answer, err := w.query(ctx, own.Name, dns.TypeTXT)
	if err != nil {
		return err
	}
	if txt, ok := answer[0].(*dns.TXT); !ok || strings.Join(txt.Txt, "") != own.Content {
		return fmt.Errorf("DNS answers %v for the TXT record just written", answer)
	}
	fmt.Printf("\n# delete it again, as the solver does after the challenge:\n")
	if _, err := p.ApplyChanges(ctx, idOwn, provider.Changes{Delete: res.Created}); err != nil {
		return err
	}
	fmt.Printf("deleted: %s\n", res.Created[0].Name)
	fmt.Printf("\nNote: Cloudflare scopes tokens by zone, not by name, so in %s this token could also write other tenants' names.\n"+
		"Name-exact limits are what the TSIG key in the same Secret (tsig-*) and scopedns' RFC 2136 gateway are for.\n", ownZone)
	return nil
}

// claimedZones are the zones of the namespace's claims, as their status says.
func (w *walkthrough) claimedZones(ctx context.Context, ns string) ([]string, error) {
	var claims v1alpha1.DNSRecordClaimList
	if err := w.k8s.List(ctx, &claims, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	var zones []string
	for _, c := range claims.Items {
		zones = append(zones, c.Status.Zones...)
	}
	slices.Sort(zones)
	return slices.Compact(zones), nil
}

// reservedTXT is a TXT record the namespace claimed without values (reserved
// for its credentials) in one of zones, and that zone.
func (w *walkthrough) reservedTXT(ns string, zones []string) (name, zone string) {
	for _, c := range w.samples.claims {
		for _, r := range c.Spec.Records {
			if z := zoneOf(r.Name, zones); c.Namespace == ns && r.Type == "TXT" && len(r.Values) == 0 && z != "" {
				return r.Name, z
			}
		}
	}
	return "", ""
}

// firstName is the first name the namespace claimed in zone.
func (w *walkthrough) firstName(ns, zone string) string {
	for _, c := range w.samples.claims {
		for _, r := range c.Spec.Records {
			if c.Namespace == ns && zoneOf(r.Name, []string{zone}) != "" {
				return r.Name
			}
		}
	}
	return "demo." + zone
}

func zoneOf(name string, zones []string) string {
	for _, z := range zones {
		if name == z || strings.HasSuffix(name, "."+z) {
			return z
		}
	}
	return ""
}

// zoneID is the provider's ID of a zone, from the scope's status.
func (w *walkthrough) zoneID(ctx context.Context, zone string) (string, error) {
	var scope v1alpha1.DNSScope
	if err := w.k8s.Get(ctx, client.ObjectKeyFromObject(w.samples.scope), &scope); err != nil {
		return "", err
	}
	for _, z := range scope.Status.Zones {
		if z.Name == zone && z.ID != "" {
			return z.ID, nil
		}
	}
	return "", fmt.Errorf("DNSScope %s reports no ID for zone %s", scope.Name, zone)
}

func (w *walkthrough) lookAround(context.Context) error {
	host, port, _ := net.SplitHostPort(simDNSAddr)
	lines := [][2]string{
		{fmt.Sprintf("export KUBECONFIG=$PWD/%s PATH=$PWD/%s:$PATH", rel(w.cp.kubeconfig), rel(filepath.Dir(w.cp.kubectl))), ""},
		{"kubectl get dnsscope " + w.samples.scope.Name + " -o yaml", "zones and their IDs, conditions"},
		{"kubectl -n " + w.tenantA + " describe dnsrecordclaims", "per-record state and events"},
		{"kubectl -n " + w.tenantA + " get events", "tokens minted, TSIG keys issued"},
		{"PATH=$PWD/" + rel(w.pluginDir) + ":$PATH kubectl scopedns audit -A", "every credential: kind, reach, expiry, rotation"},
		{"kubectl -n " + w.tenantB + " delete dnsrecordclaims --all", "records deleted, token revoked, Secret gone"},
		{"curl -s http://" + metricsAddr + "/metrics | grep ^scopedns_", "the manager's metrics"},
		{fmt.Sprintf("dig @%s -p %s %s A", host, port, w.recordName), "the simulator's DNS"},
	}
	fmt.Println("While the demo runs (DEMO_KEEP=1 make demo), from the repository:")
	fmt.Println()
	for _, l := range lines {
		if l[1] == "" {
			fmt.Printf("  %s\n", l[0])
			continue
		}
		fmt.Printf("  %-56s # %s\n", l[0], l[1])
	}
	fmt.Printf("\nLogs: %s/manager.log (the manager), %s/cfsim.log (every API request the simulator served).\n", stateDir, stateDir)
	return nil
}

// kubectl runs the real kubectl against the demo's cluster (KUBECONFIG is
// the demo's, whatever the caller's environment says) and prints the
// command, not its output.
func (w *walkthrough) kubectl(ctx context.Context, stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, w.cp.kubectl, args...)
	// The last value of a key wins: the demo's kubeconfig, and the plugin
	// first on PATH, where kubectl looks for kubectl-scopedns.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+w.cp.kubeconfig, "PATH="+w.pluginDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// kubectlShow runs kubectl and prints the command and everything it printed.
func (w *walkthrough) kubectlShow(ctx context.Context, stdin string, args ...string) (stdout, stderr string, err error) {
	line := "$ kubectl " + strings.Join(args, " ")
	if stdin != "" {
		line += " <<EOF\n" + stdin + "EOF"
	}
	fmt.Println(line)
	stdout, stderr, err = w.kubectl(ctx, stdin, args...)
	fmt.Print(stdout, stderr)
	if err != nil {
		err = fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return stdout, stderr, err
}
