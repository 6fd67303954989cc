// Command demo runs scopedns on one machine and walks a newcomer through it:
// a kube-apiserver and etcd built from source (envtest), the Cloudflare
// simulator, and the manager, all started in this process; then
// config/samples is applied with the real kubectl and every step of the
// walkthrough runs for real and is checked, so `make demo` is also a smoke
// test. It exits non-zero when a step does not behave as it should.
//
//	make demo                # what the README calls "run"
//	DEMO_KEEP=1 make demo    # keep everything running until Ctrl-C or `make demo-down`
//
// Everything it writes lives under bin/demo/: the kubeconfig (removed on exit),
// a pid file, the manager's and the simulator's logs, and a temporary
// directory for the control plane's data (removed on exit).
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/scopedns/scopedns/api/v1alpha1"
)

const (
	operatorNamespace = "scopedns-system"
	simDNSAddr        = "127.0.0.1:8753" // cmd/cfsim's default DNS address
	stateDir          = "bin/demo"
)

func main() {
	assets := flag.String("assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory holding kube-apiserver, etcd and kubectl (what hack/controlplane.sh prints)")
	pluginDir := flag.String("plugin-dir", stateDir+"/plugin", "directory holding kubectl-scopedns (hack/demo.sh builds it there)")
	flag.Parse()
	keep := os.Getenv("DEMO_KEEP") == "1"

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, *assets, *pluginDir, keep)
	switch {
	case err != nil && ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "\ndemo: interrupted")
		os.Exit(130)
	case err != nil:
		fmt.Fprintf(os.Stderr, "\ndemo: FAILED: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, assets, pluginDir string, keep bool) (err error) {
	if assets == "" {
		return errors.New("no control plane binaries: run `make demo`, or pass -assets \"$(hack/controlplane.sh)\"")
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil { // every path printed below is relative to the repository
		return err
	}
	if assets, err = filepath.Abs(assets); err != nil {
		return err
	}
	if pluginDir, err = filepath.Abs(pluginDir); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(pluginDir, "kubectl-scopedns")); err != nil {
		return fmt.Errorf("no kubectl plugin: run `make demo`, or build it with go build -o %s/kubectl-scopedns ./cmd/kubectl-scopedns: %w", rel(pluginDir), err)
	}
	s, err := loadSamples("config/samples")
	if err != nil {
		return err
	}
	release, err := claimStateDir()
	if err != nil {
		return err
	}
	defer release()

	// Undo in reverse order whatever was started, also when a later step fails.
	var cleanups []func()
	defer func() {
		fmt.Println("\n== Stopping the manager, the simulator and the control plane")
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		fmt.Println("stopped; the kubeconfig and the control plane's files are removed")
		if err != nil && ctx.Err() == nil {
			fmt.Printf("logs: %s/manager.log (manager), %s/cfsim.log (simulator)\n", stateDir, stateDir)
		}
	}()

	fmt.Println("== Starting a local control plane, the Cloudflare simulator and the manager")
	cp, stopCP, err := startControlPlane(assets)
	cleanups = append(cleanups, stopCP)
	if err != nil {
		return err
	}
	fmt.Printf("control plane  kube-apiserver and etcd from %s, kubeconfig %s\n", rel(assets), rel(cp.kubeconfig))

	stopSim, err := startSimulator(s)
	cleanups = append(cleanups, stopSim)
	if err != nil {
		return err
	}
	fmt.Printf("simulator      Cloudflare API %s, DNS %s (UDP and TCP), zones %s, logs %s/cfsim.log\n",
		s.scope.Spec.Provider.Cloudflare.BaseURL, simDNSAddr, strings.Join(s.zones(), ", "), stateDir)

	mgr, stopMgr, err := startManager(ctx, cp)
	cleanups = append(cleanups, stopMgr)
	if err != nil {
		return err
	}
	fmt.Printf("manager        in process: webhook %s, RFC 2136 gateway %s, metrics %s, probes %s, logs %s/manager.log\n",
		mgr.webhookAddr, gatewayAddr, metricsAddr, probeAddr, stateDir)

	w := &walkthrough{cp: cp, samples: s, pluginDir: pluginDir}
	if err := w.run(ctx); err != nil {
		return err
	}

	if !keep {
		fmt.Println("\nEvery step behaved as expected. (DEMO_KEEP=1 make demo keeps the demo running to explore.)")
		return nil
	}
	fmt.Println("\nEvery step behaved as expected. Running until Ctrl-C (or `make demo-down` from another terminal).")
	select {
	case <-ctx.Done():
		return nil
	case err := <-mgr.err:
		return fmt.Errorf("the manager stopped: %w", err)
	}
}

// repoRoot is the directory holding the module's go.mod, found from the
// working directory upwards.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/scopedns/scopedns\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the demo from inside the scopedns repository (`make demo`)")
		}
		dir = parent
	}
}

// claimStateDir makes bin/demo/ this run's: it refuses to start while another
// demo runs, writes the pid file `make demo-down` reads, and points TMPDIR at
// a directory of its own so that everything the control plane writes goes
// away with it.
func claimStateDir() (release func(), err error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	pidFile := filepath.Join(stateDir, "demo.pid")
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 && syscall.Kill(pid, 0) == nil {
			return nil, fmt.Errorf("a demo is already running (pid %d, %s): stop it with `make demo-down`", pid, pidFile)
		}
	}
	// Leftovers of a run that was killed outright.
	stale, _ := filepath.Glob(filepath.Join(stateDir, "tmp-*"))
	for _, d := range stale {
		_ = os.RemoveAll(d)
	}
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(stateDir, "tmp-")
	if err != nil {
		return nil, err
	}
	if tmp, err = filepath.Abs(tmp); err != nil {
		return nil, err
	}
	if err := os.Setenv("TMPDIR", tmp); err != nil {
		return nil, err
	}
	return func() {
		_ = os.RemoveAll(tmp)
		_ = os.Remove(pidFile)
	}, nil
}

// samples is what the demo needs to know of config/samples: the simulator
// must serve the scope's account, zones and base URL with the master token
// the sample Secret holds.
type samples struct {
	dir         string
	files       []string // the kustomization's resources, in its order
	claimFiles  []string // those holding DNSRecordClaims
	scope       *v1alpha1.DNSScope
	masterToken string
	claims      []*v1alpha1.DNSRecordClaim
}

func loadSamples(dir string) (*samples, error) {
	var kust struct {
		Resources []string `json:"resources"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return nil, err
	}
	if err := yaml.Unmarshal(data, &kust); err != nil {
		return nil, fmt.Errorf("%s/kustomization.yaml: %w", dir, err)
	}
	s := &samples{dir: dir}
	var secrets []*corev1.Secret
	for _, r := range kust.Resources {
		f := filepath.Join(dir, filepath.FromSlash(r))
		s.files = append(s.files, f)
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			var u unstructured.Unstructured
			if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			var into any
			switch u.GetKind() {
			case "DNSScope":
				s.scope = &v1alpha1.DNSScope{}
				into = s.scope
			case "DNSRecordClaim":
				c := &v1alpha1.DNSRecordClaim{}
				s.claims = append(s.claims, c)
				if !slices.Contains(s.claimFiles, f) {
					s.claimFiles = append(s.claimFiles, f)
				}
				into = c
			case "Secret":
				sec := &corev1.Secret{}
				secrets = append(secrets, sec)
				into = sec
			default:
				continue
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, into); err != nil {
				return nil, fmt.Errorf("%s: %s %s: %w", f, u.GetKind(), u.GetName(), err)
			}
		}
	}
	if s.scope == nil || s.scope.Spec.Provider.Cloudflare == nil || s.scope.Spec.Provider.Cloudflare.BaseURL == "" {
		return nil, fmt.Errorf("%s: the demo needs a DNSScope whose cloudflare provider has a baseURL (the simulator's address)", dir)
	}
	ref := s.scope.Spec.Provider.Cloudflare.APITokenSecretRef
	for _, sec := range secrets {
		if sec.Namespace == operatorNamespace && sec.Name == ref.Name {
			s.masterToken = sec.StringData[ref.Key]
			if s.masterToken == "" {
				s.masterToken = string(sec.Data[ref.Key])
			}
		}
	}
	if s.masterToken == "" {
		return nil, fmt.Errorf("%s: no Secret %s/%s with key %s for DNSScope %s", dir, operatorNamespace, ref.Name, ref.Key, s.scope.Name)
	}
	if len(s.claims) == 0 {
		return nil, fmt.Errorf("%s: no DNSRecordClaim", dir)
	}
	return s, nil
}

func (s *samples) zones() []string {
	var names []string
	for _, z := range s.scope.Spec.Zones {
		names = append(names, z.Name)
	}
	return names
}

// rel shows a path relative to the repository when it lies inside it.
func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	if r, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}

// poll calls check until it reports done, the deadline passes, ctx ends or
// check returns a permanent error. The last error check returned explains a
// timeout.
func poll(ctx context.Context, timeout time.Duration, check func(context.Context) (bool, error)) error {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		done, err := check(pctx)
		var p permanent
		switch {
		case errors.As(err, &p):
			return p.error
		case err != nil:
			last = err
		case done:
			return nil
		}
		select {
		case <-pctx.Done():
			if ctx.Err() != nil {
				return ctx.Err() // interrupted, not timed out
			}
			if last == nil {
				last = errors.New("no progress")
			}
			return fmt.Errorf("not done after %s: %w", timeout, last)
		case <-tick.C:
		}
	}
}

// permanent wraps an error that waiting will not fix: poll returns it at once.
type permanent struct{ error }
