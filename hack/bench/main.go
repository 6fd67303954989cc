// Command bench measures scopedns on a real local control plane (kube-apiserver
// and etcd from hack/controlplane.sh, run by envtest) with the in-process
// Cloudflare simulator and the manager started in this process through
// app.New, exactly as cmd/manager wires it. It writes docs/benchmarks.md and
// prints the same table.
//
//	make bench                                   # default scale
//	make bench BENCH_FLAGS='-namespaces 1000 -claims 5 -records 2'
//
// Phases, in order, on one API server and one simulator:
//
//  1. convergence: N namespaces x C claims x R A records (+1 reserved TXT per
//     namespace), the simulator's and the operator's rate limits off, token
//     quotas raised;
//  2. steady state: a quiet period with nothing changing;
//  3. restart: stop the manager, start a new one (client-side limiter and the
//     simulator's 1,200 / 5 min back at their defaults), count writes;
//  4. memory: the manager's heap, then 300 unrelated 1 MB Secrets;
//  5. webhook: server-side dry-run creates at a fixed rate, and the handler alone;
//  6. rotation: the operator's clock moved past every namespace's rotation,
//     then past the overlap, under the default rate limits;
//  7. convergence under the default rate limits, on a second simulator;
//  8. flood (-phase flood runs it alone): 100 namespaces converge, quiet and
//     while one namespace floods the RFC 2136 gateway at 200 signed UPDATEs/s.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

type options struct {
	namespaces, claims, records int
	drift, quiet                time.Duration
	drift2                      time.Duration
	webhookRate                 int
	webhookDuration             time.Duration
	handlerIterations           int
	noiseSecrets, noiseBytes    int
	limitedNamespaces           int
	limitedClaims               int
	limitedTimeout              time.Duration
	latency                     time.Duration
	workers                     int
	timeout                     time.Duration
	out, root, assets, logFile  string
	skipRotation, skipLimited   bool
	phase                       string
	floodNamespaces, floodRate  int
	floodWarmup                 time.Duration
	// scale mode (-mode scale)
	mode                     string
	scaleSizes, profileDir   string
	managerMemoryMiB         int
	scaleZones               int
	scaleDrift, scaleQuiet   time.Duration
	dns01Tenants             int
	decoySecrets, decoyBytes int
}

type bench struct {
	opts       options
	env        *envtest.Environment
	cfg        *rest.Config
	k8s        client.Client
	api        *apiCounter
	clock      *offsetClock
	mgr        *runningManager
	main       *simProvider
	tracker    *tracker
	tokenQuota int
	res        results
	// gatewayAddr, when set, runs the manager's RFC 2136 gateway there.
	gatewayAddr string
}

func main() {
	var o options
	flag.IntVar(&o.namespaces, "namespaces", 200, "tenant namespaces (N)")
	flag.IntVar(&o.claims, "claims", 5, "claims per namespace (C)")
	flag.IntVar(&o.records, "records", 2, "A records per claim (R); claim 0 of each namespace also reserves one TXT")
	flag.DurationVar(&o.drift, "drift-interval", 30*time.Second, "the operator's DriftInterval for the run")
	flag.DurationVar(&o.drift2, "restart-drift-interval", 10*time.Minute, "DriftInterval of the second manager (restart, memory, webhook, rotation and rate-limited phases); the default is cmd/manager's")
	flag.DurationVar(&o.quiet, "quiet", 90*time.Second, "length of the steady-state quiet period")
	flag.IntVar(&o.webhookRate, "webhook-rate", 200, "admission requests per second (server-side dry-run creates)")
	flag.DurationVar(&o.webhookDuration, "webhook-duration", 15*time.Second, "how long to send admission requests")
	flag.IntVar(&o.handlerIterations, "handler-iterations", 5000, "direct ClaimValidator.ValidateCreate calls")
	flag.IntVar(&o.noiseSecrets, "noise-secrets", 300, "unrelated Secrets added for the memory measurement")
	flag.IntVar(&o.noiseBytes, "noise-secret-bytes", 1_000_000, "size of each unrelated Secret")
	flag.IntVar(&o.limitedNamespaces, "limited-namespaces", 1300, "namespaces of the convergence run under the default 1,200/5 min limits; enough that it needs more than 1,200 requests (0 skips it)")
	flag.IntVar(&o.limitedClaims, "limited-claims", 1, "claims per namespace in the rate-limited run")
	flag.DurationVar(&o.limitedTimeout, "limited-timeout", 10*time.Minute, "how long the rate-limited run may take before its progress is reported as is")
	flag.DurationVar(&o.latency, "provider-latency", 0, "latency the simulator adds to every API request")
	flag.IntVar(&o.workers, "workers", 16, "parallel creates of namespaces and claims")
	flag.DurationVar(&o.timeout, "phase-timeout", 45*time.Minute, "give up on a phase after this long")
	flag.StringVar(&o.out, "out", "docs/benchmarks.md", "markdown file to write (empty: stdout only)")
	flag.StringVar(&o.root, "root", ".", "repository root (config/crd/bases, config/webhook)")
	flag.StringVar(&o.assets, "assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory with kube-apiserver and etcd (hack/controlplane.sh prints it)")
	flag.StringVar(&o.logFile, "log", filepath.Join(os.TempDir(), "scopedns-bench-manager.log"), "the manager's log")
	flag.BoolVar(&traceProvider, "trace-provider", false, "log every provider request the operator makes (method, path, query)")
	flag.BoolVar(&o.skipRotation, "skip-rotation", false, "skip the rotation phase")
	flag.BoolVar(&o.skipLimited, "skip-limited", false, "skip the rate-limited convergence phase")
	flag.StringVar(&o.phase, "phase", "", "run only this phase: flood (the result replaces its section of -out)")
	flag.IntVar(&o.floodNamespaces, "flood-namespaces", 100, "namespaces converging in the gateway flood phase (0 skips it)")
	flag.IntVar(&o.floodRate, "flood-rate", 200, "signed UPDATEs per second the flooding namespace sends")
	flag.DurationVar(&o.floodWarmup, "flood-warmup", 20*time.Second, "how long the flooder floods before the others' claims are created (both runs wait as long)")
	flag.StringVar(&o.mode, "mode", "", "scale: the thousands-of-tenants runs (make bench-scale), each size on a fresh control plane; the result replaces its section of -out")
	flag.StringVar(&o.scaleSizes, "scale-sizes", "1000,3000,10000", "namespaces of each scale run, smallest first (per-namespace costs compare the largest with the smallest)")
	flag.IntVar(&o.scaleZones, "scale-zones", 5, "zones the scale runs spread their namespaces over")
	flag.IntVar(&o.managerMemoryMiB, "manager-memory-mib", 400, "the container memory limit the manager process in scale runs is given the Go memory limit of (GOMEMLIMIT, 90% of it, as cmd/manager sets itself in a container); 0 for none")
	flag.DurationVar(&o.scaleDrift, "scale-drift-interval", 10*time.Minute, "the manager's --drift-interval in scale runs (cmd/manager's default)")
	flag.DurationVar(&o.scaleQuiet, "scale-quiet", 2*time.Minute, "steady-state period of each scale run")
	flag.IntVar(&o.dns01Tenants, "dns01-tenants", 1000, "tenants running one DNS-01 flow each, all at once, in each scale run")
	flag.IntVar(&o.decoySecrets, "decoy-secrets", 1000, "Secrets carrying the operator's labels that one tenant creates in the smallest scale run (0 skips it)")
	flag.IntVar(&o.decoyBytes, "decoy-secret-bytes", 1_000_000, "data size of each decoy Secret")
	flag.StringVar(&o.profileDir, "profile-dir", os.TempDir(), "where the largest scale run's CPU and heap profiles are written")
	flag.Parse()
	if o.mode != "" && o.mode != "scale" {
		fmt.Fprintf(os.Stderr, "bench: -mode %q: the only mode is scale\n", o.mode)
		os.Exit(2)
	}
	if o.phase != "" && o.phase != "flood" {
		fmt.Fprintf(os.Stderr, "bench: -phase %q: the only phase that runs alone is flood\n", o.phase)
		os.Exit(2)
	}
	if o.assets == "" {
		fmt.Fprintln(os.Stderr, "bench: set KUBEBUILDER_ASSETS or -assets (export KUBEBUILDER_ASSETS=$(hack/controlplane.sh))")
		os.Exit(2)
	}
	if o.skipLimited {
		o.limitedNamespaces = 0
	}

	lf, err := os.Create(o.logFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
	defer lf.Close()
	ctrl.SetLogger(zap.New(zap.WriteTo(lf)))
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := &bench{opts: o, api: &apiCounter{}, clock: &offsetClock{}}
	// Room for every namespace's token twice over (rotation overlap), both runs, and the master.
	b.tokenQuota = 2*(o.namespaces+o.limitedNamespaces) + 100
	var doc string
	// The default run rewrites the page but keeps the scale section, which
	// only make bench-scale (a long run of its own) refreshes.
	write := func(path string) error {
		out := doc
		if old, err := os.ReadFile(path); err == nil {
			if i, j := strings.Index(string(old), scaleMarkBegin), strings.Index(string(old), scaleMarkEnd); i >= 0 && j > i {
				out = strings.TrimRight(out, "\n") + "\n\n" + string(old[i:j+len(scaleMarkEnd)]) + "\n"
			}
		}
		return os.WriteFile(path, []byte(out), 0o644)
	}
	switch {
	case o.mode == "scale":
		sizes, perr := parseSizes(o.scaleSizes)
		if perr != nil {
			fmt.Fprintln(os.Stderr, "bench:", perr)
			os.Exit(2)
		}
		b.res.started, b.res.loadStart, b.res.machine = time.Now(), loadAvg(), machineInfo(o.assets)
		var rs []scaleResult
		rs, err = b.runScale(ctx, sizes)
		b.res.runErr, b.res.loadEnd = err, loadAvg()
		doc = b.renderScale(rs)
		write = func(path string) error { return splice(path, scaleMarkBegin, scaleMarkEnd, doc) }
	case o.phase == "flood":
		err = b.runFlood(ctx)
		b.res.runErr = err
		doc = b.renderFlood()
		if err != nil {
			doc += fmt.Sprintf("\n> **The run did not finish:** %s.\n", err)
		}
		write = func(path string) error { return spliceFlood(path, doc) }
	default:
		err = b.run(ctx)
		b.res.runErr = err
		doc = b.render()
	}
	fmt.Print(doc)
	if o.out != "" {
		if werr := write(o.out); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
			os.Exit(1)
		}
		logf("wrote %s", o.out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func itoa(n int) string { return strconv.Itoa(n) }

func (b *bench) run(ctx context.Context) error {
	return b.withControlPlane(ctx, b.runAll)
}

// runAll runs every phase on the control plane withControlPlane started.
func (b *bench) runAll(ctx context.Context) (err error) {
	b.main, err = newSimProvider("example.com", b.tokenQuota)
	if err != nil {
		return err
	}
	defer b.main.http.Close()
	b.main.sim.SetRateLimit(-1, 0) // phase 1 measures the operator, not the limit
	if b.opts.latency > 0 {
		b.main.sim.SetFaults(simLatency(b.opts.latency))
	}
	b.res.memBefore = memNow()
	b.tracker, err = startTracker(ctx, b)
	if err != nil {
		return err
	}

	logf("phase 1: convergence of %d namespaces x %d claims x %d records (rate limits off)", b.opts.namespaces, b.opts.claims, b.opts.records)
	if err := b.startManager(ctx, false, b.opts.drift); err != nil {
		return err
	}
	b.res.conv, err = b.converge(ctx, b.main, "bench", "bench.scopedns.io/tenant", "bench-", b.opts.namespaces, b.opts.claims, b.opts.timeout)
	if err != nil {
		return fmt.Errorf("convergence: %w", err)
	}
	logf("  converged in %s: %d provider requests", b.res.conv.duration.Round(time.Millisecond), b.res.conv.requests)

	logf("phase 2: steady state for %s (DriftInterval %s)", b.opts.quiet, b.opts.drift)
	b.res.steady = b.steadyState(ctx)
	logf("  %d provider requests: %s", sum(b.res.steady.ops), opsString(b.res.steady.ops))

	logf("phase 3: restart")
	b.res.restart, err = b.restart(ctx)
	if err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	logf("  settled in %s: %d provider requests, writes: %s", b.res.restart.settle.Round(time.Millisecond), sum(b.res.restart.ops), opsString(writesOf(b.res.restart.ops)))

	logf("phase 4: memory with %d unrelated %d-byte Secrets", b.opts.noiseSecrets, b.opts.noiseBytes)
	if err := b.memory(ctx); err != nil {
		return fmt.Errorf("memory: %w", err)
	}

	logf("phase 5: webhook at %d/s for %s", b.opts.webhookRate, b.opts.webhookDuration)
	if err := b.webhook(ctx); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}

	if !b.opts.skipRotation {
		logf("phase 6: rotation of %d namespaces under the default rate limits", b.opts.namespaces)
		b.res.rot, err = b.rotation(ctx)
		if err != nil {
			return fmt.Errorf("rotation: %w", err)
		}
	}

	if b.opts.limitedNamespaces > 0 {
		logf("phase 7: convergence of %d namespaces under the default 1,200/5 min limits", b.opts.limitedNamespaces)
		p2, err := newSimProvider("example.net", b.tokenQuota)
		if err != nil {
			return err
		}
		defer p2.http.Close()
		if b.opts.latency > 0 {
			p2.sim.SetFaults(simLatency(b.opts.latency))
		}
		lim, err := b.converge(ctx, p2, "bench-limited", "bench.scopedns.io/limited", "limited-", b.opts.limitedNamespaces, b.opts.limitedClaims, b.opts.limitedTimeout)
		b.res.limited = &lim
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("rate-limited convergence: %w", err)
		}
		if err != nil {
			logf("  %s: %d requests, %d x 429, at most %d in any 5 minutes", lim.incomplete, lim.requests, lim.tooMany, lim.maxIn5m)
		} else {
			logf("  converged in %s: %d requests, %d x 429, at most %d in any 5 minutes", lim.duration.Round(time.Millisecond), lim.requests, lim.tooMany, lim.maxIn5m)
		}
	}
	if b.opts.floodNamespaces > 0 {
		if err := b.floodWithGateway(ctx); err != nil {
			return err
		}
	}
	b.res.finished = time.Now()
	return nil
}

// withControlPlane records the machine and load around phases, starts
// kube-apiserver and etcd and the operator's namespace, and stops the
// manager and the control plane after phases, whichever ran.
func (b *bench) withControlPlane(ctx context.Context, phases func(context.Context) error) error {
	b.res.started = time.Now()
	b.res.loadStart = loadAvg()
	defer func() { b.res.loadEnd = loadAvg() }()
	b.res.machine = machineInfo(b.opts.assets)
	logf("starting kube-apiserver and etcd from %s", b.opts.assets)
	if err := b.startControlPlane(); err != nil {
		return err
	}
	defer func() {
		if serr := b.stopManager(); serr != nil {
			logf("stopping the manager: %v", serr)
		}
		if serr := b.env.Stop(); serr != nil {
			logf("stopping the control plane: %v", serr)
		}
	}()
	if err := b.createOperatorNamespace(ctx); err != nil {
		return err
	}
	return phases(ctx)
}

// runFlood runs the gateway flood phase alone (-phase flood).
func (b *bench) runFlood(ctx context.Context) error {
	return b.withControlPlane(ctx, b.runFloodOnly)
}

func (b *bench) runFloodOnly(ctx context.Context) (err error) {
	if b.tracker, err = startTracker(ctx, b); err != nil {
		return err
	}
	err = b.floodWithGateway(ctx)
	b.res.finished = time.Now()
	return err
}

// floodWithGateway (re)starts the manager with the gateway on and the default
// limits, and runs the flood phase.
func (b *bench) floodWithGateway(ctx context.Context) error {
	logf("phase flood: %d namespaces converge while one floods the gateway at %d/s", b.opts.floodNamespaces, b.opts.floodRate)
	if err := b.stopManager(); err != nil {
		return err
	}
	addr, err := freeUDPAddr()
	if err != nil {
		return err
	}
	b.gatewayAddr, floodAddr = addr, addr
	if err := b.startManager(ctx, true, b.opts.drift2); err != nil {
		return err
	}
	b.res.flood, err = b.floodPhase(ctx)
	if err != nil {
		return fmt.Errorf("gateway flood: %w", err)
	}
	return nil
}
