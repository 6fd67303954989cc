package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/webhook"
)

type convResult struct {
	namespaces, claims, recordValues int
	claimsPerNamespace               int
	create                           time.Duration // creating namespaces and claims
	duration                         time.Duration // first create to last claim Ready / last token
	claimsAt, tokensAt               time.Duration
	ops                              map[string]int
	requests, tooMany, maxIn5m       int
	minimum                          int
	perClaimFloor                    int
	api                              map[string]int
	reconciles                       map[string]int
	incomplete                       string
}

var controllerNames = []string{"dnsrecordclaim", "credentials", "dnsscope"}

func reconcileCounts() map[string]int {
	out := map[string]int{}
	for _, c := range controllerNames {
		out[c] = int(metricSum("controller_runtime_reconcile_total", "controller", c))
	}
	return out
}

type steadyResult struct {
	quiet        time.Duration
	ops          map[string]int
	api          map[string]int
	zoneRecords  int
	pagesPerList int
	reconciles   map[string]int
	claimChanges int
}

type restartResult struct {
	settle               time.Duration
	ops                  map[string]int
	api                  map[string]int
	tooMany              int
	memWithout, memWith  memStats
	claimRecs, credsRecs int
}

type rotationResult struct {
	mint, revoke               time.Duration
	ops                        map[string]int
	requests, tooMany, maxIn5m int
	checks, failedChecks       int
	firstFailure               string
	tokensLeft                 int
}

type webhookResult struct {
	sent, errors     int
	firstError       string
	achievedRate     float64
	p50, p99, max    time.Duration
	handlerN         int
	hp50, hp99, hmax time.Duration
	metricN          int
	metricUnder10ms  float64
	metricUnder1ms   float64
	// floorP50/99: the same dry-run creates of a ConfigMap, which no
	// webhook sees: what the API server and the bench take without ours.
	floorP50, floorP99 time.Duration
	// crdFloorP50/99: the same creates of a copy of the claim CRD that no
	// webhook sees.
	crdFloorP50, crdFloorP99 time.Duration
	// server, crdServer: the API server's own timing of the claim's and
	// the copy's creates; call: of its calls to the claim webhook.
	server, crdServer, call histShare
}

type results struct {
	started, finished time.Time
	machine           machine
	memBefore         memStats
	conv              convResult
	steady            steadyResult
	restart           restartResult
	memScale          memStats
	memNoise          memStats
	noiseCreate       time.Duration
	wh                webhookResult
	rot               rotationResult
	limited           *convResult
	flood             *floodResult
	runErr            error
	loadStart         string
	loadEnd           string
}

func simLatency(d time.Duration) sim.Faults { return sim.Faults{Latency: d} }

// parallel runs f(0..n-1) on the configured number of workers and returns the first error.
func (b *bench) parallel(ctx context.Context, n int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range max(1, b.opts.workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func nsName(prefix string, i int) string { return fmt.Sprintf("%s%04d", prefix, i) }

func (b *bench) converge(ctx context.Context, p *simProvider, scopeName, label, prefix string, n, C int, timeout time.Duration) (convResult, error) {
	R := b.opts.records
	res := convResult{namespaces: n, claims: n * C, recordValues: n * C * R, claimsPerNamespace: C}
	ops0, mk, api0, rec0 := p.sim.Requests(), p.meter.mark(), b.api.snapshot(), reconcileCounts()
	start := time.Now()
	// A phase may have created the scope already, with its own settings.
	if err := b.k8s.Create(ctx, scopeFor(scopeName, label, p)); err != nil && !apierrors.IsAlreadyExists(err) {
		return res, err
	}
	// The webhook answers from the manager's cache: wait until it has the scope.
	if err := waitFor(ctx, "the scope in the manager's cache", time.Minute, func() (bool, string) {
		return b.mgr.mgr.GetCache().Get(ctx, client.ObjectKey{Name: scopeName}, &v1alpha1.DNSScope{}) == nil, ""
	}); err != nil {
		return res, err
	}
	err := b.parallel(ctx, n, func(i int) error {
		ns := nsName(prefix, i)
		if err := b.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{label: "true"}}}); err != nil {
			return err
		}
		if err := waitFor(ctx, "namespace in the manager's cache", time.Minute, func() (bool, string) {
			return b.mgr.mgr.GetCache().Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}) == nil, ""
		}); err != nil {
			return err
		}
		for j := range C {
			if err := b.k8s.Create(ctx, claimFor(ns, scopeName, p.zone, j, R)); err != nil {
				return fmt.Errorf("creating claim %d in %s: %w", j, ns, err)
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	res.create = time.Since(start)
	logf("  created %d namespaces and %d claims in %s", n, n*C, res.create.Round(time.Millisecond))
	var lastClaim, lastToken time.Time
	var progress string
	err = waitFor(ctx, "every claim Ready and every namespace's token", timeout, func() (bool, string) {
		ready, total, lc := b.tracker.claimsReady(prefix)
		tokens, lt := b.tracker.withToken(prefix, nil)
		lastClaim, lastToken = lc, lt
		progress = fmt.Sprintf("%d/%d claims Ready, %d/%d namespaces with a token", ready, n*C, tokens, n)
		return ready == n*C && tokens == n, fmt.Sprintf("%d/%d claims Ready (%d seen), %d/%d tokens, %d provider requests",
			ready, n*C, total, tokens, n, p.meter.requestsSince(mk))
	})
	if err != nil {
		// Report what happened up to here: an unfinished run is a result too.
		res.incomplete = fmt.Sprintf("not converged after %s: %s", dur(time.Since(start)), progress)
		res.duration = time.Since(start)
	} else {
		end := lastClaim
		if lastToken.After(end) {
			end = lastToken
		}
		res.duration = end.Sub(start)
		res.claimsAt, res.tokensAt = lastClaim.Sub(start), lastToken.Sub(start)
		// Let in-flight follow-ups (status patches, Secret writes) land before counting.
		time.Sleep(3 * time.Second)
	}
	res.ops = opsDiff(ops0, p.sim.Requests())
	res.requests, res.tooMany, res.maxIn5m = p.meter.since(mk, 5*time.Minute)
	res.api = opsDiff(api0, b.api.snapshot())
	res.reconciles = opsDiff(rec0, reconcileCounts())
	// The least the work needs: verify the master credential, look the zone
	// up, list it once, write every value in full batches of 200, look the
	// permission groups up, mint one token per namespace.
	res.minimum = 1 + 1 + 1 + ceilDiv(res.recordValues, 200) + 1 + n
	// What the current design needs at best: one batch per claim.
	res.perClaimFloor = 1 + 1 + 1 + n*C + 1 + n
	return res, err
}

func (m *meter) requestsSince(mk meterMark) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.arrivals) - mk.n
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func (b *bench) steadyState(ctx context.Context) steadyResult {
	res := steadyResult{quiet: b.opts.quiet}
	ops0, api0, rec0, ch0 := b.main.sim.Requests(), b.api.snapshot(), reconcileCounts(), b.tracker.claimChanges.Load()
	select {
	case <-ctx.Done():
	case <-time.After(b.opts.quiet):
	}
	res.ops = opsDiff(ops0, b.main.sim.Requests())
	res.api = opsDiff(api0, b.api.snapshot())
	res.reconciles = opsDiff(rec0, reconcileCounts())
	res.claimChanges = int(b.tracker.claimChanges.Load() - ch0)
	res.zoneRecords = len(b.main.sim.Records(b.main.zone))
	res.pagesPerList = max(1, ceilDiv(res.zoneRecords, 100))
	return res
}

func (b *bench) restart(ctx context.Context) (restartResult, error) {
	var res restartResult
	if err := b.stopManager(); err != nil {
		return res, err
	}
	res.memWithout = memNow()
	// From here on both sides enforce Cloudflare's published limit.
	b.main.sim.SetRateLimit(sim.DefaultRateLimit, sim.DefaultRateWindow)
	ops0, mk, api0 := b.main.sim.Requests(), b.main.meter.mark(), b.api.snapshot()
	claims0, creds0 := metricSum("controller_runtime_reconcile_total", "controller", "dnsrecordclaim"), metricSum("controller_runtime_reconcile_total", "controller", "credentials")
	// The workqueue metrics outlive a stopped manager: items still queued
	// when it stopped stay counted in the depth gauge the new queue shares.
	busy := func() float64 {
		return metricSum("workqueue_depth", "name", "dnsrecordclaim") + metricSum("workqueue_depth", "name", "credentials") +
			metricSum("controller_runtime_active_workers", "controller", "dnsrecordclaim") + metricSum("controller_runtime_active_workers", "controller", "credentials")
	}
	busy0 := busy()
	start := time.Now()
	if err := b.startManager(ctx, true, b.opts.drift2); err != nil {
		return res, err
	}
	wantClaims, wantCreds := float64(b.opts.namespaces*b.opts.claims), float64(b.opts.namespaces)
	var quietSince time.Time
	err := waitFor(ctx, "the new manager to reconcile everything once", b.opts.timeout, func() (bool, string) {
		dc := metricSum("controller_runtime_reconcile_total", "controller", "dnsrecordclaim") - claims0
		dr := metricSum("controller_runtime_reconcile_total", "controller", "credentials") - creds0
		busy := busy() - busy0
		done := dc >= wantClaims && dr >= wantCreds && busy <= 0
		if !done {
			quietSince = time.Time{}
		} else if quietSince.IsZero() {
			quietSince = time.Now()
			res.settle = time.Since(start)
		}
		return done && time.Since(quietSince) > 5*time.Second, fmt.Sprintf("%.0f/%.0f claim and %.0f/%.0f credentials reconciles, %.0f queued or running", dc, wantClaims, dr, wantCreds, busy)
	})
	if err != nil {
		return res, err
	}
	res.claimRecs = int(metricSum("controller_runtime_reconcile_total", "controller", "dnsrecordclaim") - claims0)
	res.credsRecs = int(metricSum("controller_runtime_reconcile_total", "controller", "credentials") - creds0)
	res.ops = opsDiff(ops0, b.main.sim.Requests())
	_, res.tooMany, _ = b.main.meter.since(mk, 5*time.Minute)
	res.api = opsDiff(api0, b.api.snapshot())
	res.memWith = memNow()
	return res, nil
}

func (b *bench) memory(ctx context.Context) error {
	b.res.memScale = b.res.restart.memWith
	const perNamespace = 10
	nsCount := ceilDiv(b.opts.noiseSecrets, perNamespace)
	start := time.Now()
	for i := range nsCount {
		if err := b.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName("noise-", i)}}); err != nil {
			return err
		}
	}
	old := b.opts.workers
	b.opts.workers = 4 // 1 MB bodies: do not swamp etcd
	err := b.parallel(ctx, b.opts.noiseSecrets, func(i int) error {
		data := make([]byte, b.opts.noiseBytes)
		_, _ = rand.Read(data)
		return b.k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: nsName("noise-", i/perNamespace), Name: fmt.Sprintf("blob-%d", i),
				Labels: map[string]string{"app": "unrelated"}},
			Data: map[string][]byte{"blob": data},
		})
	})
	b.opts.workers = old
	if err != nil {
		return err
	}
	b.res.noiseCreate = time.Since(start)
	time.Sleep(15 * time.Second) // let every watch deliver
	b.res.memNoise = memNow()
	logf("  heap in use %s -> %s, RSS %s -> %s", mib(b.res.memScale.heapInuse), mib(b.res.memNoise.heapInuse), mib(b.res.memScale.rss), mib(b.res.memNoise.rss))
	return nil
}

func (b *bench) dryClaim(i int) *v1alpha1.DNSRecordClaim {
	ns := nsName("bench-", i%b.opts.namespaces)
	z := b.main.zone
	return &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("dry-%d", i)},
		Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: "bench", Records: []v1alpha1.RecordSpec{
			{Name: fmt.Sprintf("dry%d.%s.apps.%s", i, ns, z), Type: v1alpha1.RecordTypeA, TTL: 300, Values: []string{"192.0.2.1"}},
			{Name: fmt.Sprintf("_acme-challenge.dry%d.%s.apps.%s", i, ns, z), Type: v1alpha1.RecordTypeTXT},
		}},
	}
}

const claimWebhookPath = "/validate-scopedns-io-v1alpha1-dnsrecordclaim"

func (b *bench) webhook(ctx context.Context) error {
	res := &b.res.wh
	total := int(float64(b.opts.webhookRate) * b.opts.webhookDuration.Seconds())
	interval := time.Second / time.Duration(b.opts.webhookRate)
	hist0 := histogram("controller_runtime_webhook_latency_seconds", "webhook", claimWebhookPath)
	lats := b.dryRuns(ctx, res, total, interval, func(i int) client.Object { return b.dryClaim(i) })
	res.p50, res.p99, res.max = percentiles(lats)
	hist1 := histogram("controller_runtime_webhook_latency_seconds", "webhook", claimWebhookPath)
	n := hist1.count - hist0.count
	res.metricN = int(n)
	if n > 0 {
		res.metricUnder10ms = float64(hist1.le(0.01)-hist0.le(0.01)) / float64(n)
		res.metricUnder1ms = float64(hist1.le(0.001)-hist0.le(0.001)) / float64(n)
	}
	logf("  end to end: %d requests at %.0f/s, p50 %s, p99 %s, %d errors", total, res.achievedRate, res.p50, res.p99, res.errors)

	// The handler alone, against the manager's cache, as the webhook calls it.
	v := &webhook.ClaimValidator{Reader: b.mgr.mgr.GetCache(), Policies: &policy.Cache{}}
	hl := make([]time.Duration, b.opts.handlerIterations)
	for i := range hl {
		c := b.dryClaim(total + i)
		t0 := time.Now()
		if _, err := v.ValidateCreate(ctx, c); err != nil {
			return fmt.Errorf("ValidateCreate refused a valid claim: %w", err)
		}
		hl[i] = time.Since(t0)
	}
	res.handlerN = len(hl)
	res.hp50, res.hp99, res.hmax = percentiles(hl)
	logf("  handler alone: p50 %s, p99 %s", res.hp50, res.hp99)
	return nil
}

// dryRuns sends total server-side dry-run creates of mk(i), one every
// interval (each in its own goroutine, at most 512 in flight, so a slow
// answer does not hold back the pace), and fills res's counts and achieved
// rate; it returns each request's latency.
func (b *bench) dryRuns(ctx context.Context, res *webhookResult, total int, interval time.Duration, mk func(int) client.Object) []time.Duration {
	lats := make([]time.Duration, total)
	var errs atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, 512)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			c := mk(i)
			t0 := time.Now()
			err := b.k8s.Create(ctx, c, client.DryRunAll)
			lats[i] = time.Since(t0)
			if err != nil {
				errs.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			}
		}(i)
	}
	wg.Wait()
	res.sent, res.errors = total, int(errs.Load())
	if e, ok := firstErr.Load().(string); ok {
		res.firstError = e
	}
	res.achievedRate = float64(total) / time.Since(start).Seconds()
	return lats
}

func percentiles(d []time.Duration) (p50, p99, mx time.Duration) {
	if len(d) == 0 {
		return 0, 0, 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration { return s[int(q*float64(len(s)-1)+0.5)] }
	return at(0.50), at(0.99), s[len(s)-1]
}

// rotation moves the operator's clock past every namespace's rotation time,
// touches one claim per namespace (RequeueAfter runs on the real clock, so
// nothing else would wake the Secrets), waits for every Secret to hold a new
// token, then moves past the overlap and waits for every previous token to be
// revoked. Meanwhile it keeps checking a few namespaces' current tokens
// against the simulator.
func (b *bench) rotation(ctx context.Context) (rotationResult, error) {
	var res rotationResult
	n := b.opts.namespaces
	oldIDs := b.tracker.tokenIDs("bench-")
	ops0, mk := b.main.sim.Requests(), b.main.meter.mark()

	sctx, stopSampler := context.WithCancel(ctx)
	var checks, failed, samplerLists atomic.Int64
	var firstFailure atomic.Value
	var swg sync.WaitGroup
	swg.Add(1)
	go func() {
		defer swg.Done()
		sample := []int{0, n / 4, n / 2, 3 * n / 4, n - 1}
		zoneID := b.main.sim.ZoneID(b.main.zone)
		for k := 0; sctx.Err() == nil; k++ {
			ns := nsName("bench-", sample[k%len(sample)])
			tok := b.tracker.token(ns)
			q := url.Values{"name.exact": {"_acme-challenge." + ns + ".apps." + b.main.zone}}
			req, _ := http.NewRequestWithContext(sctx, http.MethodGet, b.main.url+"zones/"+zoneID+"/dns_records?"+q.Encode(), nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if sctx.Err() != nil {
				return
			}
			samplerLists.Add(1)
			checks.Add(1)
			if err != nil || resp.StatusCode != http.StatusOK {
				failed.Add(1)
				why := fmt.Sprint(err)
				if resp != nil {
					why = ns + ": " + resp.Status
				}
				firstFailure.CompareAndSwap(nil, why)
			}
			if resp != nil {
				_ = resp.Body.Close()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	defer func() { stopSampler(); swg.Wait() }()

	touch := func(round int) error {
		return b.parallel(ctx, n, func(i int) error {
			c := &v1alpha1.DNSRecordClaim{ObjectMeta: metav1.ObjectMeta{Namespace: nsName("bench-", i), Name: "claim-0"}}
			patch := fmt.Sprintf(`{"metadata":{"annotations":{"bench.scopedns.io/touch":"%d"}}}`, round)
			return b.k8s.Patch(ctx, c, client.RawPatch("application/merge-patch+json", []byte(patch)))
		})
	}

	// Past the rotation (720h) and its per-namespace spread (at most 1h).
	b.clock.Advance(722 * time.Hour)
	start := time.Now()
	if err := touch(1); err != nil {
		return res, err
	}
	var last time.Time
	err := waitFor(ctx, "every namespace's new token", b.opts.timeout, func() (bool, string) {
		got, l := b.tracker.withToken("bench-", oldIDs)
		last = l
		return got == n, fmt.Sprintf("%d/%d rotated, %d provider requests", got, n, b.main.meter.requestsSince(mk))
	})
	if err != nil {
		return res, err
	}
	res.mint = last.Sub(start)
	logf("  every namespace rotated in %s", res.mint.Round(time.Millisecond))

	// Past the overlap (1h): the previous tokens are revoked.
	b.clock.Advance(61 * time.Minute)
	start = time.Now()
	if err := touch(2); err != nil {
		return res, err
	}
	err = waitFor(ctx, "every previous token revoked", b.opts.timeout, func() (bool, string) {
		got := b.tracker.withoutPrevious("bench-")
		return got == n, fmt.Sprintf("%d/%d revoked, %d provider requests", got, n, b.main.meter.requestsSince(mk))
	})
	if err != nil {
		return res, err
	}
	res.revoke = time.Since(start)
	logf("  every previous token revoked in %s", res.revoke.Round(time.Millisecond))
	time.Sleep(3 * time.Second)
	stopSampler()
	swg.Wait()
	res.ops = opsDiff(ops0, b.main.sim.Requests())
	res.ops["dns_records.list"] -= int(samplerLists.Load()) // the benchmark's own checks
	if res.ops["dns_records.list"] == 0 {
		delete(res.ops, "dns_records.list")
	}
	res.requests, res.tooMany, res.maxIn5m = b.main.meter.since(mk, 5*time.Minute)
	res.checks, res.failedChecks = int(checks.Load()), int(failed.Load())
	if f, ok := firstFailure.Load().(string); ok {
		res.firstFailure = f
	}
	for _, t := range b.main.sim.Tokens() {
		if strings.Contains(t.Name, clusterName) {
			res.tokensLeft++
		}
	}
	return res, nil
}

// memStats is the process's memory after a full GC.
type memStats struct {
	heapInuse, heapAlloc, sys, rss uint64
	// peakRSS is the process's high-water mark (VmHWM) so far.
	peakRSS uint64
}

func memNow() memStats {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memStats{heapInuse: ms.HeapInuse, heapAlloc: ms.HeapAlloc, sys: ms.Sys, rss: procStatus("VmRSS:"), peakRSS: procStatus("VmHWM:")}
}

// procStatus reads one size field of /proc/self/status, in bytes.
func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

func mibDelta(a, b uint64) string {
	return fmt.Sprintf("%+.1f MiB", (float64(b)-float64(a))/(1<<20))
}

// metricSum adds up every series of a counter or gauge in controller-runtime's
// registry whose label has the value.
func metricSum(name, label, value string) float64 {
	fams, err := metrics.Registry.Gather()
	if err != nil {
		return 0
	}
	total := 0.0
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			match := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			if c := m.GetCounter(); c != nil {
				total += c.GetValue()
			}
			if g := m.GetGauge(); g != nil {
				total += g.GetValue()
			}
		}
	}
	return total
}

type histSnapshot struct {
	count   uint64
	buckets map[float64]uint64 // upper bound -> cumulative count
}

// le is the cumulative count at the bucket whose upper bound is bound.
func (h histSnapshot) le(bound float64) uint64 {
	for ub, c := range h.buckets {
		if ub > bound*0.999 && ub < bound*1.001 {
			return c
		}
	}
	return 0
}

func histogram(name, label, value string) histSnapshot {
	h := histSnapshot{buckets: map[float64]uint64{}}
	fams, err := metrics.Registry.Gather()
	if err != nil {
		return h
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			ok := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					ok = true
				}
			}
			if !ok || m.GetHistogram() == nil {
				continue
			}
			h.count += m.GetHistogram().GetSampleCount()
			for _, bk := range m.GetHistogram().GetBucket() {
				h.buckets[bk.GetUpperBound()] += bk.GetCumulativeCount()
			}
		}
	}
	return h
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
