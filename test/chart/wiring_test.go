package chart

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

const certDir = "/tmp/k8s-webhook-server/serving-certs"

// pendingFlags are flags the manifests pass that the manager does not define
// yet, because the code behind them is still being written. The test logs
// them instead of failing; delete an entry when its flag lands.
var pendingFlags = map[string]string{}

// checkWiring checks that the manager's objects fit together: what a server
// dry run cannot see, because each object is valid on its own.
func checkWiring(t *testing.T, v variant) {
	deps := v.objs.ofKind("Deployment")
	if len(deps) != 1 {
		t.Fatalf("want one Deployment, got %d", len(deps))
	}
	d := into[appsv1.Deployment](t, deps[0])
	ns := d.Namespace
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not select its own pods %v (%v)", d.Spec.Selector, podLabels, err)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != v.replicas {
		t.Errorf("Deployment replicas %v, want %d", d.Spec.Replicas, v.replicas)
	}

	var mgr *corev1.Container
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == "manager" {
			mgr = &d.Spec.Template.Spec.Containers[i]
		}
	}
	if mgr == nil {
		t.Fatal("Deployment has no container named manager")
	}
	flags := checkArgs(t, v, mgr.Args)
	checkContainer(t, d, mgr)
	ports := map[string]corev1.ContainerPort{}
	for _, p := range mgr.Ports {
		ports[p.Name] = p
	}
	wantPorts := []corev1.ContainerPort{
		{Name: "webhook-server", ContainerPort: 9443, Protocol: corev1.ProtocolTCP},
		{Name: "metrics", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
		{Name: "health", ContainerPort: 8081, Protocol: corev1.ProtocolTCP},
		{Name: "dns-udp", ContainerPort: 5353, Protocol: corev1.ProtocolUDP},
		{Name: "dns-tcp", ContainerPort: 5353, Protocol: corev1.ProtocolTCP},
	}
	for _, want := range wantPorts {
		if got, ok := ports[want.Name]; !ok || got.ContainerPort != want.ContainerPort || got.Protocol != want.Protocol {
			t.Errorf("container port %s: got %+v, want %d/%s", want.Name, got, want.ContainerPort, want.Protocol)
		}
	}
	checkHTTPGateway(t, v, d, mgr, flags, ports)

	// The serving certificate's Secret: mounted at --webhook-cert-dir from
	// cert-manager, or kept by the manager, which writes the pair into a
	// writable emptyDir there.
	var certSecret string
	var certVolume *corev1.Volume
	for _, m := range mgr.VolumeMounts {
		if m.MountPath != certDir {
			continue
		}
		for i, vol := range d.Spec.Template.Spec.Volumes {
			if vol.Name == m.Name {
				certVolume = &d.Spec.Template.Spec.Volumes[i]
				if v.certManager && !m.ReadOnly {
					t.Errorf("volume mount %s at %s is writable; cert-manager's Secret is only read", m.Name, certDir)
				}
				if !v.certManager && m.ReadOnly {
					t.Errorf("volume mount %s at %s is read-only; the manager writes its certificate there", m.Name, certDir)
				}
			}
		}
	}
	switch {
	case certVolume == nil:
		t.Errorf("no volume mounted at %s", certDir)
	case v.certManager && certVolume.Secret != nil:
		certSecret = certVolume.Secret.SecretName
	case v.certManager:
		t.Errorf("volume %s at %s is not cert-manager's Secret", certVolume.Name, certDir)
	case certVolume.EmptyDir == nil || certVolume.EmptyDir.Medium != corev1.StorageMediumMemory:
		t.Errorf("volume %s at %s: want an in-memory emptyDir for the certificate the manager writes, got %+v", certVolume.Name, certDir, certVolume.VolumeSource)
	default:
		certSecret = flags["webhook-cert-secret"]
	}

	// ServiceAccount and RBAC.
	sa := d.Spec.Template.Spec.ServiceAccountName
	if v.objs.find("ServiceAccount", ns, sa) == nil {
		t.Errorf("the pods run as ServiceAccount %s/%s, which is not rendered", ns, sa)
	}
	checkRBAC(t, v, ns, sa)
	checkFinalizerPolicy(t, v, ns, sa)

	// Services: each selects the manager's pods and targets its named ports.
	services := map[string]*corev1.Service{}
	for _, u := range v.objs.ofKind("Service") {
		s := into[corev1.Service](t, u)
		services[s.Name] = s
		if s.Namespace != ns {
			t.Errorf("Service %s/%s is not in the manager's namespace %s", s.Namespace, s.Name, ns)
		}
		if len(s.Spec.Selector) == 0 || !labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
			t.Errorf("Service %s: selector %v does not select the manager's pods %v", s.Name, s.Spec.Selector, podLabels)
		}
		for _, p := range s.Spec.Ports {
			if p.TargetPort.Type != intstr.String {
				t.Errorf("Service %s port %s: targetPort %s should name a container port", s.Name, p.Name, p.TargetPort.String())
				continue
			}
			cp, ok := ports[p.TargetPort.StrVal]
			if !ok {
				t.Errorf("Service %s port %s: targetPort %s is not a port of the manager container", s.Name, p.Name, p.TargetPort.StrVal)
			} else if cp.Protocol != p.Protocol {
				t.Errorf("Service %s port %s: protocol %s, the container port %s is %s", s.Name, p.Name, p.Protocol, cp.Name, cp.Protocol)
			}
		}
	}
	byTarget := func(target string) []corev1.ServicePort {
		var out []corev1.ServicePort
		for _, s := range services {
			for _, p := range s.Spec.Ports {
				if p.TargetPort.StrVal == target {
					out = append(out, p)
				}
			}
		}
		return out
	}
	servicePorts := map[string]int32{"webhook-server": 443, "metrics": 8080, "dns-udp": 53, "dns-tcp": 53}
	if v.httpGatewayURL != "" {
		servicePorts["http-gateway"] = map[bool]int32{true: 443, false: 80}[strings.HasPrefix(v.httpGatewayURL, "https:")]
	} else if got := byTarget("http-gateway"); len(got) > 0 {
		t.Errorf("the HTTP front doors are off, yet a Service targets them: %+v", got)
	}
	for target, want := range servicePorts {
		got := byTarget(target)
		if len(got) != 1 || got[0].Port != want {
			t.Errorf("want one Service port %d -> %s, got %+v", want, target, got)
		}
	}

	checkWebhooks(t, v, ns, services, certSecret, flags)

	// PodDisruptionBudget.
	for _, u := range v.objs.ofKind("PodDisruptionBudget") {
		pdb := into[policyv1.PodDisruptionBudget](t, u)
		s, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || s.Empty() || !s.Matches(podLabels) {
			t.Errorf("PodDisruptionBudget %s does not select the manager's pods", pdb.Name)
		}
		if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() >= int(v.replicas) {
			t.Errorf("PodDisruptionBudget %s: minAvailable %v with %d replicas blocks every voluntary disruption", pdb.Name, pdb.Spec.MinAvailable, v.replicas)
		}
	}

	// ServiceMonitor: selects the metrics Service, by port name.
	for _, u := range v.objs.ofKind("ServiceMonitor") {
		match, _, _ := unstructured.NestedStringMap(u.Object, "spec", "selector", "matchLabels")
		port := ""
		if eps, _, _ := unstructured.NestedSlice(u.Object, "spec", "endpoints"); len(eps) == 1 {
			port, _, _ = unstructured.NestedString(eps[0].(map[string]any), "port")
		}
		var selected []string
		for _, s := range services {
			if len(match) > 0 && labels.SelectorFromSet(match).Matches(labels.Set(s.Labels)) {
				selected = append(selected, s.Name)
				if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == port && p.TargetPort.StrVal == "metrics" }) {
					t.Errorf("ServiceMonitor %s scrapes port %q of Service %s, which is not its metrics port", u.GetName(), port, s.Name)
				}
			}
		}
		if len(selected) != 1 {
			t.Errorf("ServiceMonitor %s selects Services %v, want the metrics Service only", u.GetName(), selected)
		}
		names, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "namespaceSelector", "matchNames")
		if !slices.Contains(names, ns) {
			t.Errorf("ServiceMonitor %s looks in namespaces %v, not %s", u.GetName(), names, ns)
		}
	}

	// NetworkPolicy: applies to the manager's pods and names its ports.
	for _, u := range v.objs.ofKind("NetworkPolicy") {
		np := into[networkingv1.NetworkPolicy](t, u)
		s, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil || s.Empty() || !s.Matches(podLabels) {
			t.Errorf("NetworkPolicy %s does not select the manager's pods", np.Name)
		}
		open := map[string]bool{}
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port == nil || p.Port.Type != intstr.String {
					t.Errorf("NetworkPolicy %s: ingress port %v should name a container port", np.Name, p.Port)
					continue
				}
				if _, ok := ports[p.Port.StrVal]; !ok {
					t.Errorf("NetworkPolicy %s: ingress port %s is not a port of the manager container", np.Name, p.Port.StrVal)
				}
				open[p.Port.StrVal] = true
			}
		}
		for name := range ports {
			if !open[name] {
				t.Errorf("NetworkPolicy %s blocks the manager's port %s", np.Name, name)
			}
		}
	}
}

// checkHTTPGateway checks the HTTP front doors' flags, container port and
// certificate: all there when the variant serves them, none when it does not.
func checkHTTPGateway(t *testing.T, v variant, d *appsv1.Deployment, mgr *corev1.Container, flags map[string]string, ports map[string]corev1.ContainerPort) {
	const tlsDir = "/etc/scopedns/http-gateway-tls"
	p, hasPort := ports["http-gateway"]
	if v.httpGatewayURL == "" {
		for _, f := range []string{"http-gateway-addr", "http-gateway-url", "http-gateway-cert-dir"} {
			if _, ok := flags[f]; ok {
				t.Errorf("the HTTP front doors are off, yet the manager gets --%s", f)
			}
		}
		if hasPort {
			t.Errorf("the HTTP front doors are off, yet the container has port %+v", p)
		}
		return
	}
	if flags["http-gateway-addr"] != ":8053" || flags["http-gateway-url"] != v.httpGatewayURL {
		t.Errorf("--http-gateway-addr=%q --http-gateway-url=%q, want :8053 and %s", flags["http-gateway-addr"], flags["http-gateway-url"], v.httpGatewayURL)
	}
	if !hasPort || p.ContainerPort != 8053 || p.Protocol != corev1.ProtocolTCP {
		t.Errorf("container port http-gateway: got %+v (present %v), want 8053/TCP", p, hasPort)
	}
	wantTLS := strings.HasPrefix(v.httpGatewayURL, "https:")
	if got := flags["http-gateway-cert-dir"]; (got == tlsDir) != wantTLS || !wantTLS && got != "" {
		t.Errorf("--http-gateway-cert-dir=%q, want %q: %v", got, tlsDir, wantTLS)
	}
	if !wantTLS {
		return
	}
	mounted := ""
	for _, m := range mgr.VolumeMounts {
		if m.MountPath != tlsDir {
			continue
		}
		if !m.ReadOnly {
			t.Errorf("volume mount %s at %s is writable; the certificate is only read", m.Name, tlsDir)
		}
		for _, vol := range d.Spec.Template.Spec.Volumes {
			if vol.Name == m.Name && vol.Secret != nil {
				mounted = vol.Secret.SecretName
			}
		}
	}
	if mounted == "" {
		t.Errorf("no Secret mounted at %s, where --http-gateway-cert-dir reads tls.crt and tls.key", tlsDir)
	}
}

// checkArgs checks the manager's flags and returns them by name.
func checkArgs(t *testing.T, v variant, args []string) map[string]string {
	got := map[string]string{}
	for _, a := range args {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") {
			t.Errorf("manager arg %q is not a --flag", a)
		}
		if _, dup := got[name]; dup {
			t.Errorf("manager flag --%s given twice", name)
		}
		got[name] = value
	}
	want := map[string]string{
		"namespace":                 "$(POD_NAMESPACE)",
		"cluster-name":              v.clusterName,
		"leader-elect":              "",
		"metrics-bind-address":      ":8080",
		"health-probe-bind-address": ":8081",
		"webhook-port":              "9443",
		"webhook-cert-dir":          certDir,
		"gateway-address":           ":5353",
		"token-quota":               "500",
		"drift-interval":            "10m",
		"record-gc-interval":        "10m",
		"record-gc-grace":           "10m",
		"conceal-conflict-holders":  "",
	}
	// Without cert-manager the manager keeps the certificate; which
	// Secret, Service and webhook configuration is checked with those.
	rotation := []string{"webhook-cert-rotation", "webhook-cert-secret", "webhook-service-name", "webhook-config-name"}
	for _, name := range rotation {
		if _, ok := got[name]; ok == v.certManager {
			t.Errorf("manager flag --%s: set %v with cert-manager %v", name, ok, v.certManager)
		}
	}
	if !v.certManager && got["webhook-cert-rotation"] != "" {
		t.Errorf("manager flag --webhook-cert-rotation=%s, want it bare (on)", got["webhook-cert-rotation"])
	}
	for name, value := range want {
		if g, ok := got[name]; !ok || g != value {
			t.Errorf("manager flag --%s: got %q (set: %v), want %q", name, g, ok, value)
		}
	}
	if testing.Short() {
		return got
	}
	defined := managerFlags(t)
	for name := range got {
		if defined[name] {
			continue
		}
		if why, ok := pendingFlags[name]; ok {
			t.Logf("manager flag --%s is not defined by cmd/manager yet (%s): the manifests pass it already", name, why)
			continue
		}
		t.Errorf("manager flag --%s is not defined by cmd/manager: the manager would exit at start", name)
	}
	for name := range pendingFlags {
		if defined[name] {
			t.Logf("cmd/manager defines --%s now: remove it from pendingFlags in test/chart/wiring_test.go", name)
		}
	}
	return got
}

func checkContainer(t *testing.T, d *appsv1.Deployment, c *corev1.Container) {
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	if e := env["POD_NAMESPACE"]; e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("POD_NAMESPACE is not from the downward API metadata.namespace: %+v", e)
	}
	for name, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != name || p.HTTPGet.Port.String() != "health" {
			t.Errorf("probe %s: got %+v, want GET %s on port health (8081)", name, p, name)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("no %s limit", r)
		}
	}
	sc := c.SecurityContext
	pod := d.Spec.Template.Spec.SecurityContext
	switch {
	case sc == nil || pod == nil:
		t.Error("no securityContext")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities %+v, want drop [ALL] and nothing added", sc.Capabilities)
	case (sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot) && (pod.RunAsNonRoot == nil || !*pod.RunAsNonRoot):
		t.Error("runAsNonRoot is not true")
	case pod.SeccompProfile == nil || pod.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("the pod's seccompProfile is not RuntimeDefault")
	case pod.RunAsUser == nil || *pod.RunAsUser != 65532:
		t.Errorf("runAsUser %v, want 65532 (the image's USER)", pod.RunAsUser)
	}
}

func checkRBAC(t *testing.T, v variant, ns, sa string) {
	generated, err := os.ReadFile(rel("config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want rbacv1.ClusterRole
	if err := yaml.Unmarshal(generated, &want); err != nil {
		t.Fatal(err)
	}
	roles := map[string]*rbacv1.ClusterRole{}
	var aggregated []*rbacv1.ClusterRole
	for _, u := range v.objs.ofKind("ClusterRole") {
		r := into[rbacv1.ClusterRole](t, u)
		if isAggregated(r) {
			aggregated = append(aggregated, r)
			continue
		}
		roles[r.Name] = r
	}
	checkClaimsRoles(t, aggregated)
	bindings := v.objs.ofKind("ClusterRoleBinding")
	if len(bindings) != 1 || len(roles) != 1 {
		t.Fatalf("want one ClusterRole and one ClusterRoleBinding, got %d and %d", len(roles), len(bindings))
	}
	b := into[rbacv1.ClusterRoleBinding](t, bindings[0])
	role := roles[b.RoleRef.Name]
	if b.RoleRef.Kind != "ClusterRole" || role == nil {
		t.Errorf("ClusterRoleBinding %s binds %s %s, which is not rendered", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
	} else if want := chartRules(want.Rules, strings.TrimSuffix(role.Name, "-manager")); !reflect.DeepEqual(role.Rules, want) {
		t.Errorf("ClusterRole %s has rules other than config/rbac/role.yaml's:\n got %+v\nwant %+v", role.Name, role.Rules, want)
	}
	if want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa, Namespace: ns}}; !reflect.DeepEqual(b.Subjects, want) {
		t.Errorf("ClusterRoleBinding %s subjects %+v, want %+v", b.Name, b.Subjects, want)
	}
	if n := len(v.objs.ofKind("Role")) + len(v.objs.ofKind("RoleBinding")); n > 0 {
		t.Errorf("renders %d Roles/RoleBindings; config/rbac/role.yaml has none", n)
	}
}

// isAggregated reports whether a role adds its rules to Kubernetes' default
// roles (the tenants' claims roles) rather than being bound itself.
func isAggregated(r *rbacv1.ClusterRole) bool {
	for k := range r.Labels {
		if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
			return true
		}
	}
	return false
}

// checkClaimsRoles compares the aggregated roles the chart renders with
// config/rbac/claims_roles.yaml: the same rules and aggregation labels, and
// nothing on claim status.
func checkClaimsRoles(t *testing.T, got []*rbacv1.ClusterRole) {
	t.Helper()
	data, err := os.ReadFile(rel("config", "rbac", "claims_roles.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want []rbacv1.ClusterRole
	for _, doc := range regexp.MustCompile(`(?m)^---[ \t]*$`).Split(string(data), -1) {
		var r rbacv1.ClusterRole
		if err := yaml.Unmarshal([]byte(doc), &r); err != nil {
			t.Fatal(err)
		}
		if r.Name != "" {
			want = append(want, r)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("renders %d aggregated ClusterRoles, config/rbac/claims_roles.yaml has %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if !strings.HasSuffix(g.Name, strings.TrimPrefix(w.Name, "scopedns")) {
			t.Errorf("aggregated ClusterRole %s: want a name ending in %s", g.Name, strings.TrimPrefix(w.Name, "scopedns"))
		}
		if !reflect.DeepEqual(g.Rules, w.Rules) {
			t.Errorf("ClusterRole %s has rules other than config/rbac/claims_roles.yaml's %s:\n got %+v\nwant %+v", g.Name, w.Name, g.Rules, w.Rules)
		}
		for k, val := range w.Labels {
			if strings.HasPrefix(k, "rbac.authorization.k8s.io/") && g.Labels[k] != val {
				t.Errorf("ClusterRole %s: label %s=%q, want %q", g.Name, k, g.Labels[k], val)
			}
		}
		for _, r := range g.Rules {
			for _, res := range r.Resources {
				if strings.Contains(res, "/status") {
					t.Errorf("ClusterRole %s grants tenants %s: claim status is the operator's", g.Name, res)
				}
			}
		}
	}
}

// checkFinalizerPolicy checks that the policy keeping the records finalizer
// exempts exactly the Deployment's ServiceAccount, and that its binding
// denies: a policy naming another account would refuse the operator itself.
func checkFinalizerPolicy(t *testing.T, v variant, ns, sa string) {
	policies, bindings := v.objs.ofKind("ValidatingAdmissionPolicy"), v.objs.ofKind("ValidatingAdmissionPolicyBinding")
	if len(policies) != 1 || len(bindings) != 1 {
		t.Fatalf("want one ValidatingAdmissionPolicy and one binding, got %d and %d", len(policies), len(bindings))
	}
	p := into[admissionv1.ValidatingAdmissionPolicy](t, policies[0])
	b := into[admissionv1.ValidatingAdmissionPolicyBinding](t, bindings[0])
	if b.Spec.PolicyName != p.Name || !slices.Equal(b.Spec.ValidationActions, []admissionv1.ValidationAction{admissionv1.Deny}) {
		t.Errorf("binding %s: policy %q, actions %v; want %q, [Deny]", b.Name, b.Spec.PolicyName, b.Spec.ValidationActions, p.Name)
	}
	want := fmt.Sprintf("'system:serviceaccount:%s:%s'", ns, sa)
	found := false
	for _, x := range p.Spec.Variables {
		if x.Name == "operator" {
			found = true
			if x.Expression != want {
				t.Errorf("policy %s: the operator is %s, want the Deployment's ServiceAccount %s", p.Name, x.Expression, want)
			}
		}
	}
	if !found {
		t.Errorf("policy %s has no operator variable", p.Name)
	}
	if p.Spec.FailurePolicy == nil || *p.Spec.FailurePolicy != admissionv1.Fail {
		t.Errorf("policy %s: failurePolicy %v, want Fail", p.Name, p.Spec.FailurePolicy)
	}
}

// chartRules are the generated rules as the chart renders them: resourceNames
// starting with scopedns- (the kustomize tree's prefix) take the release's
// full name instead, as the role names do.
func chartRules(rules []rbacv1.PolicyRule, fullname string) []rbacv1.PolicyRule {
	out := make([]rbacv1.PolicyRule, len(rules))
	for i, r := range rules {
		out[i] = *r.DeepCopy()
		for j, n := range r.ResourceNames {
			if rest, ok := strings.CutPrefix(n, "scopedns-"); ok {
				out[i].ResourceNames[j] = fullname + "-" + rest
			}
		}
	}
	return out
}

func checkWebhooks(t *testing.T, v variant, ns string, services map[string]*corev1.Service, certSecret string, flags map[string]string) {
	generated, err := os.ReadFile(rel("config", "webhook", "manifests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want admissionv1.ValidatingWebhookConfiguration
	if err := yaml.Unmarshal(generated, &want); err != nil {
		t.Fatal(err)
	}
	vwcs := v.objs.ofKind("ValidatingWebhookConfiguration")
	if len(vwcs) != 1 {
		t.Fatalf("want one ValidatingWebhookConfiguration, got %d", len(vwcs))
	}
	if n := len(v.objs.ofKind("MutatingWebhookConfiguration")); n > 0 {
		t.Errorf("renders %d MutatingWebhookConfigurations; config/webhook/manifests.yaml has none", n)
	}
	vwc := into[admissionv1.ValidatingWebhookConfiguration](t, vwcs[0])
	if len(vwc.Webhooks) != len(want.Webhooks) {
		t.Fatalf("%d webhooks, config/webhook/manifests.yaml has %d", len(vwc.Webhooks), len(want.Webhooks))
	}
	var svcName string
	var caBundle []byte
	for i, w := range vwc.Webhooks {
		g := want.Webhooks[i]
		if w.Name != g.Name || !reflect.DeepEqual(w.Rules, g.Rules) || w.ClientConfig.Service == nil || g.ClientConfig.Service == nil ||
			!reflect.DeepEqual(w.ClientConfig.Service.Path, g.ClientConfig.Service.Path) {
			t.Errorf("webhook %d (%s) differs from config/webhook/manifests.yaml in name, rules or path", i, w.Name)
			continue
		}
		if w.FailurePolicy == nil || *w.FailurePolicy != admissionv1.Fail {
			t.Errorf("webhook %s: failurePolicy %v, want Fail", w.Name, w.FailurePolicy)
		}
		if w.TimeoutSeconds == nil || *w.TimeoutSeconds != 5 {
			t.Errorf("webhook %s: timeoutSeconds %v, want 5", w.Name, w.TimeoutSeconds)
		}
		svc := w.ClientConfig.Service
		s := services[svc.Name]
		port := int32(443)
		if svc.Port != nil {
			port = *svc.Port
		}
		if svc.Namespace != ns || s == nil {
			t.Errorf("webhook %s calls Service %s/%s, which is not rendered", w.Name, svc.Namespace, svc.Name)
		} else if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == port && p.TargetPort.StrVal == "webhook-server" }) {
			t.Errorf("webhook %s calls port %d of Service %s, which does not lead to the webhook server", w.Name, port, svc.Name)
		}
		svcName = svc.Name
		if i > 0 && string(w.ClientConfig.CABundle) != string(caBundle) {
			t.Errorf("webhook %s has another caBundle than webhook %s", w.Name, vwc.Webhooks[0].Name)
		}
		caBundle = w.ClientConfig.CABundle
	}
	dnsName := fmt.Sprintf("%s.%s.svc", svcName, ns)

	inject := vwc.Annotations["cert-manager.io/inject-ca-from"]
	if !v.certManager {
		if inject != "" {
			t.Errorf("cert-manager.io/inject-ca-from %q without cert-manager", inject)
		}
		if flags["webhook-config-name"] != vwc.Name {
			t.Errorf("--webhook-config-name=%s: the manager would keep the caBundle of another webhook configuration than %s", flags["webhook-config-name"], vwc.Name)
		}
		if flags["webhook-service-name"] != svcName {
			t.Errorf("--webhook-service-name=%s: the manager would issue its certificate for another Service than %s, which the webhooks call", flags["webhook-service-name"], svcName)
		}
		checkGeneratedCert(t, v, ns, certSecret, caBundle, dnsName)
		return
	}
	if len(caBundle) > 0 {
		t.Error("a caBundle is rendered although cert-manager's cainjector sets it")
	}
	certNS, certName, _ := strings.Cut(inject, "/")
	cert := v.objs.find("Certificate", certNS, certName)
	if cert == nil {
		t.Fatalf("cert-manager.io/inject-ca-from %q: no such Certificate rendered", inject)
	}
	if s, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName"); s != certSecret {
		t.Errorf("Certificate %s writes Secret %q, the manager mounts %q", certName, s, certSecret)
	}
	if names, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames"); !slices.Contains(names, dnsName) {
		t.Errorf("Certificate %s: dnsNames %v lack %s, the name the API server calls", certName, names, dnsName)
	}
	kind, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "kind")
	issuer, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name")
	if (kind == "" || kind == "Issuer") && v.objs.find("Issuer", certNS, issuer) == nil {
		t.Errorf("Certificate %s is issued by Issuer %s, which is not rendered", certName, issuer)
	}
}

// checkGeneratedCert checks the chart-generated serving certificate: a TLS
// Secret whose key matches its certificate, which the webhooks' caBundle
// verifies for the Service's DNS name.
func checkGeneratedCert(t *testing.T, v variant, ns, secretName string, caBundle []byte, dnsName string) {
	u := v.objs.find("Secret", ns, secretName)
	if u == nil {
		t.Fatalf("the mounted Secret %s/%s is not rendered", ns, secretName)
	}
	s := into[corev1.Secret](t, u)
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret %s: type %s, want %s", s.Name, s.Type, corev1.SecretTypeTLS)
	}
	if len(caBundle) == 0 || string(caBundle) != string(s.Data["ca.crt"]) {
		t.Fatalf("the webhooks' caBundle is not the Secret's ca.crt")
	}
	pair, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"])
	if err != nil {
		t.Fatalf("Secret %s: tls.crt and tls.key: %v", s.Name, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caBundle) {
		block, _ := pem.Decode(caBundle)
		t.Fatalf("caBundle holds no PEM certificate (block: %v; base64 twice? %q…)", block != nil, base64.StdEncoding.EncodeToString(caBundle[:min(8, len(caBundle))]))
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("the serving certificate does not verify for %s against the caBundle: %v", dnsName, err)
	}
}
