package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// procManager is cmd/manager run as its own process, so that its memory,
// CPU profile and API requests are its own and not the bench's (the bench
// holds every claim and Secret in its tracker too).
type procManager struct {
	cmd     *exec.Cmd
	done    chan error
	metrics string // http://host:port/metrics
	pprof   string // http://host:port/debug/pprof
	log     *os.File
}

// buildManager builds cmd/manager once per run into dir.
func buildManager(root, dir string) (string, error) {
	bin := filepath.Join(dir, "manager")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building cmd/manager: %w", err)
	}
	return bin, nil
}

// managerKubeconfig writes a kubeconfig for an admin user of the envtest
// API server (the manager's own RBAC is tested elsewhere; here it is load).
func (b *bench) managerKubeconfig(dir string) (string, error) {
	u, err := b.env.AddUser(envtest.User{Name: "scopedns-bench-manager", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	kc, err := u.KubeConfig()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, kc, 0o600)
}

type procOptions struct {
	bin, kubeconfig, logPath string
	drift                    time.Duration
	gateway, httpGateway     string
}

func (b *bench) startProcManager(ctx context.Context, o procOptions) (*procManager, error) {
	metricsAddr, err := freeTCPAddr()
	if err != nil {
		return nil, err
	}
	pprofAddr, err := freeTCPAddr()
	if err != nil {
		return nil, err
	}
	probeAddr, err := freeTCPAddr()
	if err != nil {
		return nil, err
	}
	wh := b.env.WebhookInstallOptions
	args := []string{
		"--namespace=" + operatorNamespace,
		"--cluster-name=" + clusterName,
		"--metrics-bind-address=" + metricsAddr,
		"--health-probe-bind-address=" + probeAddr,
		"--pprof-bind-address=" + pprofAddr,
		"--webhook-host=" + wh.LocalServingHost,
		"--webhook-port=" + strconv.Itoa(wh.LocalServingPort),
		"--webhook-cert-dir=" + wh.LocalServingCertDir,
		"--drift-interval=" + o.drift.String(),
		"--gateway-address=" + o.gateway,
		"--http-gateway-addr=" + o.httpGateway,
		"--http-gateway-url=http://" + o.httpGateway,
		"--graceful-shutdown-timeout=10s",
	}
	lf, err := os.OpenFile(o.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(o.bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+o.kubeconfig, "GOMAXPROCS=2")
	if l := managerGoMemLimit(b.opts.managerMemoryMiB); l != "" {
		// What memlimit.Set in cmd/manager derives from a container's
		// limit; here there is no cgroup limit to derive it from.
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+l)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	pm := &procManager{cmd: cmd, done: make(chan error, 1), metrics: "http://" + metricsAddr + "/metrics",
		pprof: "http://" + pprofAddr + "/debug/pprof", log: lf}
	go func() { pm.done <- cmd.Wait() }()
	logf("  manager process %d: metrics %s, pprof %s", cmd.Process.Pid, pm.metrics, pm.pprof)
	err = waitFor(ctx, "the manager process's probes", 2*time.Minute, func() (bool, string) {
		select {
		case err := <-pm.done:
			pm.done <- err
			return false, "exited"
		default:
		}
		resp, err := http.Get("http://" + probeAddr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	if err != nil {
		_ = pm.stop()
		return nil, err
	}
	return pm, nil
}

// stop sends SIGTERM, as the kubelet does, and waits.
func (pm *procManager) stop() error {
	if pm == nil {
		return nil
	}
	defer pm.log.Close()
	_ = pm.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-pm.done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil // a signalled exit is the expected end
		}
		return err
	case <-time.After(60 * time.Second):
		_ = pm.cmd.Process.Kill()
		return errors.New("the manager process did not stop within 60s")
	}
}

// rss and peak RSS of the process, from /proc.
func (pm *procManager) rss() (rss, peak uint64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pm.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = kb << 10
		case "VmHWM":
			peak = kb << 10
		}
	}
	return rss, peak
}

// scrape reads the manager's Prometheus text exposition.
// managerGoMemLimit is the GOMEMLIMIT cmd/manager sets itself in a
// container limited to mib MiB: automemlimit's default ratio, 90 %.
func managerGoMemLimit(mib int) string {
	if mib <= 0 {
		return ""
	}
	return strconv.Itoa(mib*9/10) + "MiB"
}

type scrape map[string][]sample

type sample struct {
	labels string
	value  float64
}

func (pm *procManager) scrape() (scrape, error) {
	resp, err := http.Get(pm.metrics)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return parseMetrics(resp.Body)
}

// parseMetrics reads the Prometheus text format, keeping each sample's
// labels as text for sum's substring matches.
func parseMetrics(r io.Reader) (scrape, error) {
	out := scrape{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels := line[:sp], ""
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name, labels = name[:i], name[i:]
		}
		out[name] = append(out[name], sample{labels, v})
	}
	return out, sc.Err()
}

// sum adds the samples of name whose labels contain every match
// (`key="value"`).
func (s scrape) sum(name string, match ...string) float64 {
	t := 0.0
next:
	for _, x := range s[name] {
		for _, m := range match {
			if !strings.Contains(x.labels, m) {
				continue next
			}
		}
		t += x.value
	}
	return t
}

// writes is the manager's API requests that write, by method.
func (s scrape) writes() map[string]int {
	out := map[string]int{}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		if n := int(s.sum("rest_client_requests_total", `method="`+m+`"`)); n > 0 {
			out[m] = n
		}
	}
	return out
}

// reads is the manager's API requests that read (GET: gets, lists, watches).
func (s scrape) reads() int { return int(s.sum("rest_client_requests_total", `method="GET"`)) }

// profile saves a pprof profile of the manager and its top 10.
func (pm *procManager) profile(ctx context.Context, kind, query, out string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, pm.pprof+"/"+kind+query, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return "", err
	}
	f.Close()
	args := []string{"tool", "pprof", "-top", "-nodecount=10"}
	if kind == "heap" {
		args = append(args, "-sample_index=inuse_space")
	}
	top, err := exec.CommandContext(ctx, "go", append(args, out)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %w: %s", err, top)
	}
	return string(top), nil
}

// apiServerScrape reads the API server's own metrics.
func (b *bench) apiServerScrape(ctx context.Context) (scrape, error) {
	cs, err := kubernetes.NewForConfig(b.cfg)
	if err != nil {
		return nil, err
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, err
	}
	return parseMetrics(bytes.NewReader(raw))
}

// apiServerWrites reads the API server's own request counters: writes and
// single-object reads (GET) by verb, resource and subresource, whoever made
// them.
func (b *bench) apiServerWrites(ctx context.Context) (map[string]int, error) {
	s, err := b.apiServerScrape(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, x := range s["apiserver_request_total"] {
		verb, res, sub := label(x.labels, "verb"), label(x.labels, "resource"), label(x.labels, "subresource")
		switch verb {
		case "GET", "POST", "PUT", "PATCH", "DELETE", "APPLY", "CREATE", "UPDATE":
		default:
			continue
		}
		k := verb + " " + res
		if sub != "" {
			k += "/" + sub
		}
		out[k] += int(x.value)
	}
	return out, nil
}

func label(l, name string) string {
	i := strings.Index(l, name+`="`)
	if i < 0 {
		return ""
	}
	rest := l[i+len(name)+2:]
	return rest[:strings.IndexByte(rest, '"')]
}
