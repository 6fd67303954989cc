package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
	"github.com/scopedns/scopedns/internal/app"
	"github.com/scopedns/scopedns/internal/frontcreds"
	"github.com/scopedns/scopedns/internal/policy"
	"github.com/scopedns/scopedns/internal/webhook"
)

// Scale mode (-mode scale, make bench-scale): N namespaces x 1 claim x 2
// records (one A value, one reserved _acme-challenge TXT) spread over a
// handful of zones, with the tokenless credentials on (TSIG, acme-dns,
// dyndns2, the Cloudflare-compatible front door) and provider tokens off.
// Every size runs on a fresh control plane, with cmd/manager as its own
// process under the default rate limits on both sides.

const (
	scaleScope  = "scale"
	scaleLabel  = "bench.scopedns.io/scale"
	scalePrefix = "t"
)

type scaleResult struct {
	n, zones     int
	create       time.Duration // namespaces + claims, manager and webhooks off
	converge     time.Duration // manager start -> every claim Ready and every DNSCredential Ready
	claimsAt     time.Duration
	credsAt      time.Duration
	requests     int
	minimum      int
	tooMany      int
	maxIn5m      int
	writes       map[string]int // the manager's API writes during convergence
	reads        int
	heap, rss    uint64
	peakRSS      uint64
	wh           webhookResult
	dns01        dns01Result
	steady       scaleSteady
	restart      scaleRestart
	heapTop      string
	cpuTop       string
	apiCPUTop    string   // kube-apiserver, the same 60 s
	cpu          cpuShare // CPU seconds by process during convergence
	incomplete   string
	restartedRSS uint64
	reconciles   map[string]string
	byResource   map[string]int // API server writes and GETs during convergence, by verb and resource
	decoy        decoyResult
}

type scaleSteady struct {
	quiet      time.Duration
	ops        map[string]int
	writes     map[string]int
	byResource map[string]int
	requests   int
}

type scaleRestart struct {
	settle   time.Duration
	ops      map[string]int
	writes   map[string]int
	requests int
	tooMany  int
}

type dns01Result struct {
	tenants, viaGateway, viaACMEDNS int
	ok                              int
	failedGateway, failedACMEDNS    int
	visible                         int
	firstError                      string
	p50, p99, max                   time.Duration
	duration                        time.Duration
	requests, tooMany               int
}

func (r scaleResult) writesTotal() int { return sum(r.writes) }

// scaleZones are the zones a scale run spreads its namespaces over.
func scaleZones(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("scale%d.example.com", i)
	}
	return out
}

func scaleZoneOf(zones []string, i int) string { return zones[i%len(zones)] }

// scaleScopeFor grants each selected namespace <x>.<namespace>.apps.<zone>
// and its _acme-challenge in every zone, with the tokenless credentials.
func scaleScopeFor(p *simProvider, zones []string) *v1alpha1.DNSScope {
	on := &v1alpha1.CredentialToggle{Enabled: true}
	var grants []v1alpha1.ZoneGrant
	for _, z := range zones {
		grants = append(grants, v1alpha1.ZoneGrant{Name: z, Rules: []v1alpha1.GrantRule{{
			Names:  []string{"*.{namespace}.apps." + z, "_acme-challenge.{namespace}.apps." + z},
			Types:  []v1alpha1.RecordType{v1alpha1.RecordTypeA, v1alpha1.RecordTypeTXT},
			MaxTTL: ptr.To[int32](3600),
		}}})
	}
	return &v1alpha1.DNSScope{
		ObjectMeta: metav1.ObjectMeta{Name: scaleScope},
		Spec: v1alpha1.DNSScopeSpec{
			Provider: v1alpha1.ProviderSpec{Cloudflare: &v1alpha1.CloudflareProvider{
				AccountID:         accountID,
				APITokenSecretRef: v1alpha1.SecretKeySelector{Name: masterSecret, Key: "api-token"},
				BaseURL:           p.url,
			}},
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{scaleLabel: "true"}},
			Zones:             grants,
			Credentials: v1alpha1.CredentialsSpec{
				ProviderToken: &v1alpha1.CredentialToggle{Enabled: false},
				RFC2136:       on, ACMEDNS: on, DynDNS: on, CloudflareAPI: on,
			},
		},
	}
}

func scaleClaim(ns, zone string) *v1alpha1.DNSRecordClaim {
	return &v1alpha1.DNSRecordClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: scaleScope, Records: []v1alpha1.RecordSpec{
			{Name: "www." + ns + ".apps." + zone, Type: v1alpha1.RecordTypeA, TTL: 300, Values: []string{"198.51.100.7"}},
			{Name: "_acme-challenge." + ns + ".apps." + zone, Type: v1alpha1.RecordTypeTXT},
		}},
	}
}

// runScale runs one size after another, each on its own control plane.
func (b *bench) runScale(ctx context.Context, sizes []int) ([]scaleResult, error) {
	dir, err := os.MkdirTemp("", "scopedns-scale-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin, err := buildManager(b.opts.root, dir)
	if err != nil {
		return nil, err
	}
	var out []scaleResult
	for i, n := range sizes {
		profile := i == len(sizes)-1 // the largest size gets pprof
		logf("scale: %d namespaces", n)
		var r scaleResult
		err := b.withControlPlane(ctx, func(ctx context.Context) error {
			var err error
			r, err = b.scaleOnce(ctx, bin, dir, n, profile, i == 0)
			return err
		})
		if err != nil && r.incomplete == "" {
			r.incomplete = err.Error()
		}
		out = append(out, r)
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
	}
	return out, nil
}

func (b *bench) scaleOnce(ctx context.Context, bin, dir string, n int, profile, decoys bool) (scaleResult, error) {
	zones := scaleZones(b.opts.scaleZones)
	res := scaleResult{n: n, zones: len(zones)}
	p, err := newSimZones(zones, b.tokenQuota)
	if err != nil {
		return res, err
	}
	defer p.http.Close()
	kc, err := b.managerKubeconfig(dir)
	if err != nil {
		return res, err
	}

	// 1. The objects, with neither the manager nor its webhooks: what the
	//    API server alone needs.
	restore, err := b.removeWebhooks(ctx)
	if err != nil {
		return res, err
	}
	if err := b.k8s.Create(ctx, scaleScopeFor(p, zones)); err != nil {
		return res, err
	}
	start := time.Now()
	err = b.parallel(ctx, n, func(i int) error {
		ns := nsName(scalePrefix, i)
		if err := b.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{scaleLabel: "true"}}}); err != nil {
			return err
		}
		return b.k8s.Create(ctx, scaleClaim(ns, scaleZoneOf(zones, i)))
	})
	res.create = time.Since(start)
	if rerr := restore(ctx); err == nil {
		err = rerr
	}
	if err != nil {
		return res, err
	}
	logf("  created %d namespaces and claims in %s", n, dur(res.create))
	tctx, stopTracker := context.WithCancel(ctx) // its informers end with this control plane
	defer stopTracker()
	if b.tracker, err = startTracker(tctx, b); err != nil {
		return res, err
	}

	// 2. The manager on top, under the default limits on both sides.
	gw, err := freeUDPAddr()
	if err != nil {
		return res, err
	}
	httpGW, err := freeTCPAddr()
	if err != nil {
		return res, err
	}
	po := procOptions{bin: bin, kubeconfig: kc, logPath: b.opts.logFile, drift: b.opts.scaleDrift, gateway: gw, httpGateway: httpGW}
	mk, cops0 := p.meter.mark(), p.sim.Requests()
	aw0, err := b.apiServerWrites(ctx)
	if err != nil {
		return res, err
	}
	start = time.Now()
	pm, err := b.startProcManager(ctx, po)
	if err != nil {
		return res, err
	}
	defer func() { _ = pm.stop() }()
	cpu0, cerr := cpuSeconds(pm.cmd.Process.Pid)
	var cpu, apiCPU chan string
	if profile {
		cpu, apiCPU = make(chan string, 1), make(chan string, 1)
		go func() {
			top, err := pm.profile(ctx, "profile", "?seconds=60", filepath.Join(b.opts.profileDir, "scale-cpu.pprof"))
			if err != nil {
				top = "CPU profile failed: " + err.Error()
			}
			cpu <- top
		}()
		go func() {
			top, err := b.apiServerProfile(ctx, 60, filepath.Join(b.opts.profileDir, "scale-apiserver-cpu.pprof"))
			if err != nil {
				top = "kube-apiserver CPU profile failed: " + err.Error()
			}
			apiCPU <- top
		}()
	}
	var progress string
	err = waitFor(ctx, "every claim Ready and every namespace's credentials delivered", b.opts.timeout, func() (bool, string) {
		ready, _, lc := b.tracker.claimsReady(scalePrefix)
		creds, lt := b.tracker.credsReady(scalePrefix)
		res.claimsAt, res.credsAt = lc.Sub(start), lt.Sub(start)
		progress = fmt.Sprintf("%d/%d claims Ready, %d/%d namespaces with a Ready DNSCredential and every tokenless credential in their Secret, %d provider requests", ready, n, creds, n, p.meter.requestsSince(mk))
		return ready == n && creds == n, progress
	})
	if err != nil {
		res.incomplete = fmt.Sprintf("not converged after %s: %s", dur(time.Since(start)), progress)
		return res, err
	}
	res.converge = max(res.claimsAt, res.credsAt)
	if cpu1, err := cpuSeconds(pm.cmd.Process.Pid); err == nil && cerr == nil {
		res.cpu = cpu1.since(cpu0)
		logf("  CPU during convergence (%s on %d cores): %s", dur(time.Since(start)), goruntime.NumCPU(), res.cpu)
	}
	time.Sleep(3 * time.Second) // in-flight follow-ups land before counting
	res.requests, res.tooMany, res.maxIn5m = p.meter.since(mk, 5*time.Minute)
	logf("  provider requests during convergence: %s", opsString(opsDiff(cops0, p.sim.Requests())))
	if aw1, err := b.apiServerWrites(ctx); err == nil {
		res.byResource = opsDiff(aw0, aw1)
		logf("  API server writes and GETs during convergence: %s", mapString(res.byResource))
	}
	values := make(map[string]int)
	for i := range n {
		values[scaleZoneOf(zones, i)]++
	}
	// The least the work needs: verify the master credential, and per zone
	// look it up, list it once, and write its values in batches of 200.
	res.minimum = 1
	for _, z := range zones {
		res.minimum += 2 + ceilDiv(values[z], 200)
	}
	s, err := pm.scrape()
	if err != nil {
		return res, err
	}
	res.writes, res.reads = s.writes(), s.reads()
	res.reconciles = map[string]string{}
	for _, c := range []string{"dnsrecordclaim", "credentials", "dnsscope", "gatewaykeys"} {
		ctl := `controller="` + c + `"`
		res.reconciles[c] = fmt.Sprintf("%.0f (%.0f errors, %.0f requeues after, %.1f s busy)", s.sum("controller_runtime_reconcile_total", ctl),
			s.sum("controller_runtime_reconcile_total", ctl, `result="error"`), s.sum("controller_runtime_reconcile_total", ctl, `result="requeue_after"`),
			s.sum("controller_runtime_reconcile_time_seconds_sum", ctl))
	}
	logf("  reconciles: %v", res.reconciles)
	res.heap = uint64(s.sum("go_memstats_heap_inuse_bytes"))
	res.rss, res.peakRSS = pm.rss()
	logf("  converged in %s after the manager started (claims %s, credentials %s): %d provider requests (minimum %d), %d API writes (%s), heap %s, RSS %s (peak %s)",
		dur(res.converge), dur(res.claimsAt), dur(res.credsAt), res.requests, res.minimum, res.writesTotal(), mapString(res.writes), mib(res.heap), mib(res.rss), mib(res.peakRSS))
	if profile {
		top, err := pm.profile(ctx, "heap", "?gc=1", filepath.Join(b.opts.profileDir, "scale-heap.pprof"))
		if err != nil {
			top = "heap profile failed: " + err.Error()
		}
		res.heapTop = top
		res.cpuTop = <-cpu
		res.apiCPUTop = <-apiCPU
		logf("  kube-apiserver CPU, first 60 s:\n%s", res.apiCPUTop)
	}

	// 3. Admission at 200/s with every claim present.
	if res.wh, err = b.scaleWebhook(ctx, pm, zones, n); err != nil {
		return res, fmt.Errorf("webhook: %w", err)
	}

	// 4. One DNS-01 flow per tenant for up to 1,000 tenants at once.
	if res.dns01, err = b.scaleDNS01(ctx, p, zones, min(n, b.opts.dns01Tenants), gw, httpGW); err != nil {
		return res, fmt.Errorf("DNS-01 flows: %w", err)
	}

	// 5. Steady state.
	s0, mk0, sops0 := mustScrape(pm), p.meter.mark(), p.sim.Requests()
	sw0, _ := b.apiServerWrites(ctx)
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(b.opts.scaleQuiet):
	}
	s1 := mustScrape(pm)
	res.steady = scaleSteady{quiet: b.opts.scaleQuiet, ops: opsDiff(sops0, p.sim.Requests()), writes: opsDiff(s0.writes(), s1.writes())}
	res.steady.requests, _, _ = p.meter.since(mk0, 5*time.Minute)
	if sw1, err := b.apiServerWrites(ctx); err == nil {
		res.steady.byResource = opsDiff(sw0, sw1)
	}
	logf("  steady state for %s: %d provider requests (%s), API writes %s (%s)", dur(res.steady.quiet), res.steady.requests, opsString(res.steady.ops), mapString(res.steady.writes), mapString(res.steady.byResource))

	// 6. Restart: a new process, every object reconciled once.
	if err := pm.stop(); err != nil {
		return res, err
	}
	mk1, rops0 := p.meter.mark(), p.sim.Requests()
	start = time.Now()
	if pm, err = b.startProcManager(ctx, po); err != nil {
		return res, err
	}
	var quietSince time.Time
	err = waitFor(ctx, "the new manager to reconcile everything once", b.opts.timeout, func() (bool, string) {
		s, err := pm.scrape()
		if err != nil {
			return false, err.Error()
		}
		dc := s.sum("controller_runtime_reconcile_total", `controller="dnsrecordclaim"`)
		dr := s.sum("controller_runtime_reconcile_total", `controller="credentials"`)
		busy := s.sum("workqueue_depth") + s.sum("controller_runtime_active_workers")
		done := dc >= float64(n) && dr >= float64(n) && busy == 0
		if !done {
			quietSince = time.Time{}
		} else if quietSince.IsZero() {
			quietSince, res.restart.settle = time.Now(), time.Since(start)
		}
		return done && time.Since(quietSince) > 5*time.Second, fmt.Sprintf("%.0f/%d claim and %.0f/%d credentials reconciles, %.0f queued or running", dc, n, dr, n, busy)
	})
	if err != nil {
		return res, err
	}
	s2 := mustScrape(pm)
	res.restart.ops = opsDiff(rops0, p.sim.Requests())
	res.restart.writes = s2.writes()
	res.restart.requests, res.restart.tooMany, _ = p.meter.since(mk1, 5*time.Minute)
	res.restartedRSS, _ = pm.rss()
	logf("  restart settled in %s: %d provider requests (%s), API writes %s", dur(res.restart.settle), res.restart.requests, opsString(res.restart.ops), mapString(res.restart.writes))

	// 7. Decoys (smallest size only): a tenant copies the operator's labels
	//    onto many large Secrets in its namespace.
	if decoys && b.opts.decoySecrets > 0 {
		stopTracker() // the bench's own tracker would download them whole
		if res.decoy, err = b.scaleDecoys(ctx, pm); err != nil {
			return res, fmt.Errorf("decoy Secrets: %w", err)
		}
	}
	return res, nil
}

type decoyResult struct {
	count, bytes          int
	create                time.Duration
	rssBefore, rssAfter   uint64
	heapBefore, heapAfter uint64
}

// scaleDecoys creates decoySecrets Secrets of decoyBytes each in the first
// tenant namespace, labelled as the operator's own credentials Secret is, and
// measures the manager's RSS before and once it has handled their events.
func (b *bench) scaleDecoys(ctx context.Context, pm *procManager) (decoyResult, error) {
	res := decoyResult{count: b.opts.decoySecrets, bytes: b.opts.decoyBytes}
	s0 := mustScrape(pm)
	res.rssBefore, _ = pm.rss()
	res.heapBefore = uint64(s0.sum("go_memstats_heap_inuse_bytes"))
	creds0 := s0.sum("controller_runtime_reconcile_total", `controller="credentials"`)
	ns := nsName(scalePrefix, 0)
	blob := make([]byte, b.opts.decoyBytes)
	for i := range blob {
		blob[i] = byte('a' + i%26)
	}
	old := b.opts.workers
	b.opts.workers = 4 // megabyte bodies: do not swamp etcd
	start := time.Now()
	err := b.parallel(ctx, res.count, func(i int) error {
		return b.k8s.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("decoy-%d", i), Labels: map[string]string{
				controllers.LabelManagedBy: controllers.ManagedBy, controllers.LabelScope: scaleScope,
			}},
			Data: map[string][]byte{"blob": blob},
		})
	})
	b.opts.workers = old
	res.create = time.Since(start)
	if err != nil {
		return res, err
	}
	// Each decoy routes a request for (namespace, scope) to the credentials
	// controller; once it has run and the queues are empty, every event has
	// been through the cache.
	var quietSince time.Time
	err = waitFor(ctx, "the manager to handle the decoys' events", b.opts.timeout, func() (bool, string) {
		s, err := pm.scrape()
		if err != nil {
			return false, err.Error()
		}
		ran := s.sum("controller_runtime_reconcile_total", `controller="credentials"`) > creds0
		busy := s.sum("workqueue_depth") + s.sum("controller_runtime_active_workers")
		if !ran || busy > 0 {
			quietSince = time.Time{}
		} else if quietSince.IsZero() {
			quietSince = time.Now()
		}
		return ran && busy == 0 && time.Since(quietSince) > 5*time.Second, fmt.Sprintf("reconciled since: %v, %.0f queued or running", ran, busy)
	})
	if err != nil {
		return res, err
	}
	res.rssAfter, _ = pm.rss()
	res.heapAfter = uint64(mustScrape(pm).sum("go_memstats_heap_inuse_bytes"))
	logf("  %d decoy Secrets of %d bytes created in %s: manager RSS %s -> %s, heap %s -> %s", res.count, res.bytes, dur(res.create), mib(res.rssBefore), mib(res.rssAfter), mib(res.heapBefore), mib(res.heapAfter))
	return res, nil
}

func mustScrape(pm *procManager) scrape {
	s, err := pm.scrape()
	if err != nil {
		logf("  scraping the manager's metrics: %v", err)
	}
	return s
}

func (b *bench) mustScrapeAPIServer(ctx context.Context) scrape {
	s, err := b.apiServerScrape(ctx)
	if err != nil {
		logf("  scraping the API server's metrics: %v", err)
	}
	return s
}

// floorClaim is c as an object of the claim CRD's copy in floorGroup.
func floorClaim(c *v1alpha1.DNSRecordClaim) client.Object {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(c)
	if err != nil {
		panic(err) // a typed claim always converts
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion(floorGroup + "/" + v1alpha1.GroupVersion.Version)
	u.SetKind("DNSRecordClaim")
	return u
}

// histShare is the share of a histogram's observations between two scrapes
// (of the manager or the API server) that fell at or under each bound.
type histShare struct {
	n      int
	bounds []string
	under  []float64
}

func (h histShare) String() string {
	if h.n == 0 {
		return "none seen"
	}
	var parts []string
	for i, b := range h.bounds {
		parts = append(parts, fmt.Sprintf("%.2f%% ≤ %s s", 100*h.under[i], b))
	}
	return fmt.Sprintf("%d: %s", h.n, strings.Join(parts, ", "))
}

func shareBetween(s0, s1 scrape, name string, bounds []string, match ...string) histShare {
	h := histShare{bounds: bounds, under: make([]float64, len(bounds))}
	n := s1.sum(name+"_count", match...) - s0.sum(name+"_count", match...)
	if h.n = int(n); n <= 0 {
		return h
	}
	for i, b := range bounds {
		m := append(append([]string(nil), match...), `le="`+b+`"`)
		h.under[i] = (s1.sum(name+"_bucket", m...) - s0.sum(name+"_bucket", m...)) / n
	}
	return h
}

// serverSide is how long the API server took for the dry-run creates of a
// resource, as its own request histogram saw them.
func serverSide(s0, s1 scrape, resource, group string) histShare {
	return shareBetween(s0, s1, "apiserver_request_duration_seconds", []string{"0.005", "0.025", "0.05"},
		`verb="POST"`, `dry_run="All"`, `group="`+group+`"`, `resource="`+resource+`"`)
}

// webhookCalls is how long the API server waited for a validating webhook.
func webhookCalls(s0, s1 scrape, name string) histShare {
	return shareBetween(s0, s1, "apiserver_admission_webhook_admission_duration_seconds", []string{"0.005", "0.025"},
		`name="`+name+`"`, `type="validating"`)
}

// removeWebhooks takes the admission webhooks out (the manager that serves
// them is not running yet) and returns what puts them back.
func (b *bench) removeWebhooks(ctx context.Context) (func(context.Context) error, error) {
	var vw admissionregistrationv1.ValidatingWebhookConfigurationList
	if err := b.k8s.List(ctx, &vw); err != nil {
		return nil, err
	}
	var mw admissionregistrationv1.MutatingWebhookConfigurationList
	if err := b.k8s.List(ctx, &mw); err != nil {
		return nil, err
	}
	var saved []client.Object
	for i := range vw.Items {
		saved = append(saved, &vw.Items[i])
	}
	for i := range mw.Items {
		saved = append(saved, &mw.Items[i])
	}
	for _, o := range saved {
		if err := b.k8s.Delete(ctx, o); err != nil {
			return nil, err
		}
	}
	return func(ctx context.Context) error {
		for _, o := range saved {
			o.SetResourceVersion("")
			o.SetUID("")
			o.SetCreationTimestamp(metav1.Time{})
			o.SetManagedFields(nil)
			if err := b.k8s.Create(ctx, o); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

// scaleWebhook sends server-side dry-run creates at the webhook rate with
// every claim present, and times the handler alone on a cache holding them.
func (b *bench) scaleWebhook(ctx context.Context, pm *procManager, zones []string, n int) (webhookResult, error) {
	var res webhookResult
	dry := func(i int) *v1alpha1.DNSRecordClaim {
		ns := nsName(scalePrefix, i%n)
		z := scaleZoneOf(zones, i%n)
		return &v1alpha1.DNSRecordClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("dry-%d", i)},
			Spec: v1alpha1.DNSRecordClaimSpec{ScopeName: scaleScope, Records: []v1alpha1.RecordSpec{
				{Name: fmt.Sprintf("dry%d.%s.apps.%s", i, ns, z), Type: v1alpha1.RecordTypeA, TTL: 300, Values: []string{"192.0.2.1"}},
			}},
		}
	}
	total := int(float64(b.opts.webhookRate) * b.opts.webhookDuration.Seconds())
	interval := time.Second / time.Duration(b.opts.webhookRate)
	m0, s0 := mustScrape(pm), b.mustScrapeAPIServer(ctx)
	lats := b.dryRuns(ctx, &res, total, interval, func(i int) client.Object { return dry(i) })
	res.p50, res.p99, res.max = percentiles(lats)
	m1, s1 := mustScrape(pm), b.mustScrapeAPIServer(ctx)
	own := shareBetween(m0, m1, "controller_runtime_webhook_latency_seconds", []string{"0.001", "0.01"}, `webhook="`+claimWebhookPath+`"`)
	res.metricN, res.metricUnder1ms, res.metricUnder10ms = own.n, own.under[0], own.under[1]
	res.server = serverSide(s0, s1, "dnsrecordclaims", "scopedns.io")
	res.call = webhookCalls(s0, s1, "vdnsrecordclaim.scopedns.io")
	logf("  API server: claim dry-run creates %s; calls to the claim webhook %s", res.server, res.call)
	// The floors: the same rate of dry-run creates that reach no webhook,
	// first of a copy of the claim CRD (same schema and CEL rules), then of
	// a ConfigMap.
	var crdFloor webhookResult
	clats := b.dryRuns(ctx, &crdFloor, total, interval, func(i int) client.Object { return floorClaim(dry(i)) })
	res.crdFloorP50, res.crdFloorP99, _ = percentiles(clats)
	s2 := b.mustScrapeAPIServer(ctx)
	res.crdServer = serverSide(s1, s2, "dnsrecordclaims", floorGroup)
	logf("  dry-run creates of the claim CRD's copy (no webhook) at the same rate: p50 %s, p99 %s, %d errors (%s); API server %s", res.crdFloorP50, res.crdFloorP99, crdFloor.errors, crdFloor.firstError, res.crdServer)
	var floor webhookResult
	flats := b.dryRuns(ctx, &floor, total, interval, func(i int) client.Object {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: nsName(scalePrefix, i%n), Name: fmt.Sprintf("dry-%d", i)},
			Data: map[string]string{"name": fmt.Sprintf("dry%d", i)}}
	})
	res.floorP50, res.floorP99, _ = percentiles(flats)
	logf("  dry-run ConfigMap creates (no webhook) at the same rate: p50 %s, p99 %s, %d errors", res.floorP50, res.floorP99, floor.errors)
	logf("  webhook server's own latency: %d requests, %.2f%% under 1 ms, %.2f%% under 10 ms", res.metricN, 100*res.metricUnder1ms, 100*res.metricUnder10ms)
	logf("  webhook end to end: %d at %.0f/s, p50 %s, p99 %s, %d errors", total, res.achievedRate, res.p50, res.p99, res.errors)

	// The handler alone, on a cache like the manager's (same indexes).
	c, err := cache.New(b.cfg, cache.Options{Scheme: app.Scheme(), DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		return res, err
	}
	for name, f := range map[string]client.IndexerFunc{policy.NameIndex: policy.IndexRecordNames, policy.AncestorIndex: policy.IndexRecordAncestors, policy.ScopeIndex: policy.IndexScopeName} {
		if err := c.IndexField(ctx, &v1alpha1.DNSRecordClaim{}, name, f); err != nil {
			return res, err
		}
	}
	for _, o := range []client.Object{&v1alpha1.DNSRecordClaim{}, &v1alpha1.DNSScope{}, &corev1.Namespace{}} {
		if _, err := c.GetInformer(ctx, o); err != nil {
			return res, err
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = c.Start(cctx) }()
	if !c.WaitForCacheSync(cctx) {
		return res, fmt.Errorf("the handler's cache did not sync")
	}
	v := &webhook.ClaimValidator{Reader: c, Policies: &policy.Cache{}}
	hl := make([]time.Duration, b.opts.handlerIterations)
	for i := range hl {
		claim := dry(total + i)
		t0 := time.Now()
		if _, err := v.ValidateCreate(ctx, claim); err != nil {
			return res, fmt.Errorf("ValidateCreate refused a valid claim: %w", err)
		}
		hl[i] = time.Since(t0)
	}
	res.handlerN = len(hl)
	res.hp50, res.hp99, res.hmax = percentiles(hl)
	logf("  webhook handler alone (%d claims cached): p50 %s, p99 %s", n, res.hp50, res.hp99)
	return res, nil
}

// scaleDNS01 runs one DNS-01 challenge per tenant, all at once: even
// tenants through the RFC 2136 gateway (a signed UPDATE, as cert-manager's
// rfc2136 solver sends), odd ones through acme-dns (POST /update, as lego and
// cert-manager's acmeDNS solver send); then checks each value at the
// provider.
func (b *bench) scaleDNS01(ctx context.Context, p *simProvider, zones []string, tenants int, gw, httpGW string) (dns01Result, error) {
	res := dns01Result{tenants: tenants}
	type flow struct {
		ns, zone, name, value string
		key                   floodKey
		acct                  frontcreds.ACMEDNSEntry
		acme                  bool
	}
	flows := make([]flow, tenants)
	for i := range flows {
		ns := nsName(scalePrefix, i)
		z := scaleZoneOf(zones, i)
		var s corev1.Secret
		if err := b.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: scaleScope + "-dns-credentials"}, &s); err != nil {
			return res, err
		}
		sum := sha256.Sum256([]byte(ns))
		f := flow{ns: ns, zone: z, name: "_acme-challenge." + ns + ".apps." + z, value: base64.RawURLEncoding.EncodeToString(sum[:])[:43], acme: i%2 == 1}
		if f.acme {
			var accts map[string]frontcreds.ACMEDNSEntry
			if err := json.Unmarshal(s.Data[controllers.KeyACMEDNS], &accts); err != nil {
				return res, fmt.Errorf("%s: acmedns.json: %w", ns, err)
			}
			a, ok := accts[ns+".apps."+z]
			if !ok {
				return res, fmt.Errorf("%s: acmedns.json has no account for %s.apps.%s", ns, ns, z)
			}
			f.acct = a
			res.viaACMEDNS++
		} else {
			f.key = floodKey{name: string(s.Data[controllers.KeyTSIGName]), secret: string(s.Data[controllers.KeyTSIGSecret]), zone: z, record: f.name}
			res.viaGateway++
		}
		flows[i] = f
	}
	mk := p.meter.mark()
	lats := make([]time.Duration, tenants)
	errs := make([]string, tenants)
	hc := &http.Client{Timeout: 60 * time.Second}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	start := time.Now()
	for i := range flows {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-gate
			f := flows[i]
			t0 := time.Now()
			var err error
			if f.acme {
				err = acmeDNSUpdate(ctx, hc, "http://"+httpGW, f.acct, f.value)
			} else {
				err = gatewaySetTXT(gw, f.key, f.value)
			}
			lats[i] = time.Since(t0)
			if err != nil {
				errs[i] = err.Error()
			}
		}(i)
	}
	close(gate)
	wg.Wait()
	res.duration = time.Since(start)
	for i, e := range errs {
		switch {
		case e == "":
			res.ok++
			continue
		case flows[i].acme:
			res.failedACMEDNS++
		default:
			res.failedGateway++
		}
		if res.firstError == "" {
			res.firstError = flows[i].ns + ": " + e
		}
	}
	res.p50, res.p99, res.max = percentiles(lats)
	res.requests, res.tooMany, _ = p.meter.since(mk, 5*time.Minute)
	have := map[string]bool{}
	for _, z := range zones {
		for _, r := range p.sim.Records(z) {
			if r.Type == "TXT" {
				have[strings.ToLower(r.Name)+" "+strings.Trim(r.Content, `"`)] = true
			}
		}
	}
	for _, f := range flows {
		if have[f.name+" "+f.value] {
			res.visible++
		}
	}
	logf("  DNS-01: %d tenants at once (%d gateway, %d acme-dns): %d answered OK in %s (p50 %s, p99 %s), %d visible at the provider, %d provider requests, %d x 429; failed: %d gateway, %d acme-dns%s",
		tenants, res.viaGateway, res.viaACMEDNS, res.ok, dur(res.duration), res.p50, res.p99, res.visible, res.requests, res.tooMany,
		res.failedGateway, res.failedACMEDNS, firstErr(res.firstError))
	return res, nil
}

// gatewaySetTXT sets the challenge TXT as cert-manager's rfc2136 solver
// does: one signed UPDATE inserting the value, over TCP (a thousand at
// once would only test the loopback's UDP buffers otherwise).
func gatewaySetTXT(addr string, k floodKey, value string) error {
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(k.zone))
	rr, err := dns.NewRR(fmt.Sprintf("%s. 60 IN TXT %q", k.record, value))
	if err != nil {
		return err
	}
	m.Insert([]dns.RR{rr})
	m.SetTsig(dns.Fqdn(k.name), dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "tcp", Timeout: 60 * time.Second, TsigSecret: map[string]string{dns.Fqdn(k.name): k.secret}}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess {
		return fmt.Errorf("UPDATE answered %s", dns.RcodeToString[r.Rcode])
	}
	return nil
}

func acmeDNSUpdate(ctx context.Context, hc *http.Client, server string, a frontcreds.ACMEDNSEntry, value string) error {
	body, _ := json.Marshal(map[string]string{"subdomain": a.Subdomain, "txt": value})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, server+"/update", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Api-User", a.Username)
	req.Header.Set("X-Api-Key", a.Password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("acme-dns /update answered %s", resp.Status)
	}
	return nil
}

// parseSizes reads -scale-sizes ("1000,3000,10000").
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-scale-sizes %q: %q is not a positive number", s, f)
		}
		out = append(out, n)
	}
	sort.Ints(out)
	return out, nil
}
