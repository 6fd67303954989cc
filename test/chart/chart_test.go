package chart

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

const fieldOwner = "scopedns-chart-test"

// variant is one rendering of the manifests and what it must contain.
type variant struct {
	name string
	objs objects
	// wired: the manager's objects are there and must be wired together
	// (false for config/samples and config/prometheus alone).
	wired       bool
	clusterName string
	replicas    int32
	certManager bool // serving certificate from cert-manager, else chart-generated
	// httpGatewayURL is the --http-gateway-url the HTTP front doors must be
	// served with (TLS from a mounted Secret when it is https); "": off.
	httpGatewayURL string
	kinds          []string // optional kinds this variant must render
	absentKinds    []string // optional kinds it must not render
}

// warnings records the warnings the API server returns (deprecations, Pod
// Security "would violate" messages); the test allows none.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// renderChart runs hack/chart-check.sh (helm lint, helm template with default
// and non-default values) unless CHART_RENDER_DIR already holds its output.
func renderChart(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("CHART_RENDER_DIR"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "renamed.yaml")); err == nil { // the last file chart-check.sh renders
			t.Logf("using the chart rendered in CHART_RENDER_DIR=%s", dir)
			return dir
		}
	}
	dir := t.TempDir()
	run(t, []string{"CHART_RENDER_DIR="}, "hack/chart-check.sh", dir)
	return dir
}

func load(t *testing.T, path string) objects {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeObjects(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return objs
}

// kustomize builds a directory given relative to the repository root.
func kustomize(t *testing.T, kubectl, dir string) objects {
	t.Helper()
	objs, err := decodeObjects(run(t, nil, kubectl, "kustomize", dir))
	if err != nil {
		t.Fatalf("kubectl kustomize %s: %v", dir, err)
	}
	return objs
}

// TestManifests applies every object the chart renders (default and
// non-default values) and every object of config/default, config/prometheus
// and config/samples to a real API server with a server-side dry run, then
// checks how the manager's objects are wired together.
func TestManifests(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		t.Skip("KUBEBUILDER_ASSETS is not set: run `make test`, which builds kube-apiserver, etcd and kubectl from source into bin/ (the chart and config/ manifests are not checked against an API server)")
	}
	rendered := renderChart(t)
	kubectl := filepath.Join(assets, "kubectl")
	variants := []variant{
		{
			name: "chart/default", objs: load(t, filepath.Join(rendered, "default.yaml")), wired: true,
			clusterName: "ci-default", replicas: 2,
			kinds:       []string{"CustomResourceDefinition", "PodDisruptionBudget", "Secret"},
			absentKinds: []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Certificate", "Issuer"},
		},
		{
			// Release "dns": its full name, dns-scopedns, is not the chart's.
			name: "chart/renamed", objs: load(t, filepath.Join(rendered, "renamed.yaml")), wired: true,
			clusterName: "ci-renamed", replicas: 2,
			kinds: []string{"Secret"},
		},
		{
			name: "chart/full", objs: load(t, filepath.Join(rendered, "full.yaml")), wired: true,
			clusterName: "ci-full", replicas: 3, certManager: true,
			httpGatewayURL: "https://scopedns-http-gateway.scopedns-system.svc:443",
			kinds:          []string{"CustomResourceDefinition", "PodDisruptionBudget", "ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Certificate", "Issuer"},
			absentKinds:    []string{"Secret"},
		},
		{
			name: "config/default", objs: kustomize(t, kubectl, "config/default"), wired: true,
			clusterName: "dev", replicas: 2, certManager: true,
			kinds:       []string{"Namespace", "CustomResourceDefinition", "PodDisruptionBudget", "Certificate", "Issuer"},
			absentKinds: []string{"Secret", "ServiceMonitor", "NetworkPolicy"},
		},
		{name: "config/prometheus", objs: kustomize(t, kubectl, "config/prometheus"), kinds: []string{"ServiceMonitor"}},
		{name: "config/samples", objs: kustomize(t, kubectl, "config/samples"), kinds: []string{"Namespace", "Secret", "DNSScope", "DNSRecordClaim"}},
	}

	env := &envtest.Environment{
		// The scopedns CRDs, and the real CRDs of cert-manager's Certificate
		// and Issuer and of the Prometheus Operator's ServiceMonitor and
		// PrometheusRule (see
		// testdata/crds/README.md), so those objects are validated too.
		CRDDirectoryPaths:     []string{rel("config", "crd", "bases"), filepath.Join("testdata", "crds")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	warn := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = warn
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("chart/helm-install-upgrade", func(t *testing.T) { helmInstallUpgrade(t, env, c) })
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			if len(v.objs) == 0 {
				t.Fatal("rendered no objects")
			}
			for _, k := range v.kinds {
				if len(v.objs.ofKind(k)) == 0 {
					t.Errorf("renders no %s", k)
				}
			}
			for _, k := range v.absentKinds {
				if n := len(v.objs.ofKind(k)); n > 0 {
					t.Errorf("renders %d %s, want none", n, k)
				}
			}
			dryRunAll(t, c, warn, v.objs)
			if v.wired {
				checkWiring(t, v)
			}
		})
	}
}

// dryRunAll applies each object with a strict server-side dry run, after
// creating (for real) the namespaces the objects live in, labelled to enforce
// and warn on the restricted Pod Security Standard. A Pod made from each
// Deployment's template is dry-run created too, so Pod Security admission
// judges the pod the cluster would run.
func dryRunAll(t *testing.T, c client.Client, warn *warnings, objs objects) {
	ctx := context.Background()
	mapper := c.RESTMapper()
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Errorf("%s: the API server does not serve %s: %v", describe(o), gvk, err)
			continue
		}
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			if o.GetNamespace() == "" {
				t.Errorf("%s: namespaced, rendered without metadata.namespace", describe(o))
				continue
			}
			ensureNamespace(t, c, o.GetNamespace())
		} else if o.GetNamespace() != "" {
			t.Errorf("%s: cluster-scoped, rendered with metadata.namespace %q", describe(o), o.GetNamespace())
		}
	}
	for _, o := range objs {
		apply := o.DeepCopy()
		err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(apply), client.DryRunAll, client.FieldOwner(fieldOwner), client.ForceOwnership)
		if err != nil {
			t.Errorf("%s: server-side dry run: %v", describe(o), err)
		}
		if w := warn.take(); len(w) > 0 {
			t.Errorf("%s: API server warnings:\n  %s", describe(o), strings.Join(w, "\n  "))
		}
	}
	for _, d := range objs.ofKind("Deployment") {
		tmpl, _, err := unstructured.NestedMap(d.Object, "spec", "template")
		pod := &corev1.Pod{}
		if err == nil {
			err = runtime.DefaultUnstructuredConverter.FromUnstructured(tmpl, pod)
		}
		if err != nil {
			t.Errorf("%s: pod template: %v", describe(d), err)
			continue
		}
		pod.Name, pod.Namespace = d.GetName()+"-pss-probe", d.GetNamespace()
		if err := c.Create(ctx, pod, client.DryRunAll); err != nil {
			t.Errorf("%s: its pod, dry-run created in a namespace enforcing the restricted Pod Security Standard: %v", describe(d), err)
		}
		if w := warn.take(); len(w) > 0 {
			t.Errorf("%s: its pod: API server warnings:\n  %s", describe(d), strings.Join(w, "\n  "))
		}
	}
}

func ensureNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
	}}}
	if err := c.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

// helmInstallUpgrade installs the chart for real with helm (default values:
// self-signed serving certificates), then upgrades it, and checks that the
// upgrade keeps the certificates (the template looks the Secret up) and that
// the webhooks' caBundle is the Secret's CA both times.
func helmInstallUpgrade(t *testing.T, env *envtest.Environment, c client.Client) {
	user, err := env.AddUser(envtest.User{Name: "helm", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kcPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	helm := strings.TrimSpace(string(run(t, nil, "hack/tools/helm/helm.sh")))
	helmEnv := []string{"KUBECONFIG=" + kcPath, "HELM_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME=" + filepath.Join(dir, "config"), "HELM_DATA_HOME=" + filepath.Join(dir, "data")}
	const ns, release = "helm-test", "scopedns"
	ctx := context.Background()

	served := func(step string) map[string][]byte {
		t.Helper()
		var secret corev1.Secret
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: release + "-webhook-cert"}, &secret); err != nil {
			t.Fatalf("after %s: %v", step, err)
		}
		var vwc admissionv1.ValidatingWebhookConfiguration
		if err := c.Get(ctx, client.ObjectKey{Name: release + "-validating-webhook-configuration"}, &vwc); err != nil {
			t.Fatalf("after %s: %v", step, err)
		}
		for _, w := range vwc.Webhooks {
			if string(w.ClientConfig.CABundle) != string(secret.Data["ca.crt"]) || len(w.ClientConfig.CABundle) == 0 {
				t.Errorf("after %s: webhook %s: caBundle is not the Secret's ca.crt", step, w.Name)
			}
		}
		return secret.Data
	}

	run(t, helmEnv, helm, "install", release, "charts/scopedns", "--namespace", ns, "--create-namespace", "--set", "clusterName=ci-helm")
	// Uninstall even when a check fails: the release's webhooks (failurePolicy
	// Fail, nothing serving them) would refuse the other variants' claims.
	t.Cleanup(func() {
		cmd := exec.Command(helm, "uninstall", release, "--namespace", ns, "--wait")
		cmd.Dir, cmd.Env = root, append(os.Environ(), helmEnv...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("helm uninstall: %v\n%s", err, out)
		}
	})
	installed := served("helm install")
	run(t, helmEnv, helm, "upgrade", release, "charts/scopedns", "--namespace", ns, "--reuse-values", "--set", "logLevel=debug")
	upgraded := served("helm upgrade")
	for _, k := range []string{"tls.crt", "tls.key", "ca.crt"} {
		if string(installed[k]) != string(upgraded[k]) {
			t.Errorf("helm upgrade replaced the serving certificate's %s: the manager would serve a certificate the caBundle may not match", k)
		}
	}
	var dep appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: release}, &dep); err != nil {
		t.Fatal(err)
	} else if !slices.Contains(dep.Spec.Template.Spec.Containers[0].Args, "--zap-log-level=debug") {
		t.Errorf("helm upgrade did not change the Deployment: args %v", dep.Spec.Template.Spec.Containers[0].Args)
	}
}
