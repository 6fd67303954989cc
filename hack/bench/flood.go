package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/scopedns/scopedns/api/v1alpha1"
	"github.com/scopedns/scopedns/controllers"
)

// floodResult is the gateway flood phase: the same convergence twice on
// fresh simulators (default 1,200 / 5 min on both sides), once quiet and once
// while one namespace floods the gateway with signed UPDATEs.
type floodResult struct {
	namespaces, rate  int
	warmup            time.Duration
	base, flood       convResult
	baseWin, floodWin struct{ requests, tooMany, maxIn5m int }
	sent, skipped     int
	rcodes            map[string]int
	floodDuration     time.Duration
	floodRequests     int // provider requests the flooder's UPDATEs cost (records lists and batches)
}

func (f *floodResult) ratio() float64 {
	if f.base.duration <= 0 {
		return 0
	}
	return float64(f.flood.duration) / float64(f.base.duration)
}

// floodPhase runs both convergences on one manager with the gateway on.
func (b *bench) floodPhase(ctx context.Context) (*floodResult, error) {
	res := &floodResult{namespaces: b.opts.floodNamespaces, rate: b.opts.floodRate, warmup: b.opts.floodWarmup, rcodes: map[string]int{}}
	for _, run := range []struct {
		name  string
		flood bool
	}{{"quiet", false}, {"flood", true}} {
		logf("  %s run: %d namespaces converge%s", run.name, res.namespaces, map[bool]string{true: fmt.Sprintf(" while one floods the gateway at %d/s", res.rate)}[run.flood])
		p, err := newSimProvider("flood-"+run.name+".example", b.tokenQuota)
		if err != nil {
			return res, err
		}
		defer p.http.Close()
		scopeName, label, prefix := "bench-flood-"+run.name, "bench.scopedns.io/flood-"+run.name, "fl"+run.name[:1]+"-"
		scope := scopeFor(scopeName, label, p)
		scope.Spec.Credentials.RFC2136 = &v1alpha1.CredentialToggle{Enabled: true}
		if err := b.k8s.Create(ctx, scope); err != nil {
			return res, err
		}
		mk := p.meter.mark()
		key, err := b.flooderKey(ctx, scopeName, label, p, "flooder-"+run.name)
		if err != nil {
			return res, err
		}
		var stop func() floodStats
		if run.flood {
			stop = b.startFlood(ctx, key, res.rate)
		}
		// Both runs wait the same: the flooder spends its share before the
		// others start.
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(res.warmup):
		}
		conv, err := b.converge(ctx, p, scopeName, label, prefix, res.namespaces, 1, b.opts.limitedTimeout)
		var win struct{ requests, tooMany, maxIn5m int }
		win.requests, win.tooMany, win.maxIn5m = p.meter.since(mk, 5*time.Minute)
		if run.flood {
			st := stop()
			res.sent, res.skipped, res.rcodes, res.floodDuration = st.sent, st.skipped, st.rcodes, st.duration
			res.flood, res.floodWin = conv, win
			res.floodRequests = win.requests - res.baseWin.requests
		} else {
			res.base, res.baseWin = conv, win
		}
		if err != nil {
			return res, fmt.Errorf("%s run: %w", run.name, err)
		}
		logf("    converged in %s; %d requests in the run, %d x 429, at most %d in any 5 minutes", conv.duration.Round(time.Millisecond), win.requests, win.tooMany, win.maxIn5m)
	}
	logf("  flood: %d sent (%d ticks skipped, senders busy): %v; ratio %.2f", res.sent, res.skipped, res.rcodes, res.ratio())
	return res, nil
}

// floodKey is what the flooder signs with and writes.
type floodKey struct {
	name, secret, zone, record string
}

// flooderKey creates the flooding namespace with a claim reserving one TXT
// name, and waits until the gateway accepts its key.
func (b *bench) flooderKey(ctx context.Context, scope, label string, p *simProvider, ns string) (floodKey, error) {
	if err := b.k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{label: "true"}}}); err != nil {
		return floodKey{}, err
	}
	if err := waitFor(ctx, "the scope and namespace in the manager's cache", time.Minute, func() (bool, string) {
		c := b.mgr.mgr.GetCache()
		return c.Get(ctx, client.ObjectKey{Name: scope}, &v1alpha1.DNSScope{}) == nil &&
			c.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{}) == nil, ""
	}); err != nil {
		return floodKey{}, err
	}
	if err := b.k8s.Create(ctx, claimFor(ns, scope, p.zone, 0, 0)); err != nil {
		return floodKey{}, err
	}
	k := floodKey{zone: p.zone, record: "_acme-challenge." + ns + ".apps." + p.zone}
	err := waitFor(ctx, "the flooder's TSIG key at the gateway", 2*time.Minute, func() (bool, string) {
		var s corev1.Secret
		if err := b.k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: scope + "-dns-credentials"}, &s); err != nil {
			return false, err.Error()
		}
		k.name, k.secret = string(s.Data[controllers.KeyTSIGName]), string(s.Data[controllers.KeyTSIGSecret])
		if k.name == "" || k.secret == "" {
			return false, "no TSIG key in the Secret yet"
		}
		r, err := sendUpdate(k, 0)
		if err != nil {
			return false, err.Error()
		}
		return r == dns.RcodeSuccess, dns.RcodeToString[r]
	})
	return k, err
}

type floodStats struct {
	sent, skipped int
	rcodes        map[string]int
	duration      time.Duration
}

// startFlood sends signed UPDATEs at rate per second until the returned stop
// is called: even ones add a TXT value to the granted name, odd ones delete
// it, so each that passes the per-key limit costs a records list and a
// batch.
func (b *bench) startFlood(ctx context.Context, k floodKey, rate int) func() floodStats {
	fctx, cancel := context.WithCancel(ctx)
	var sent, skipped atomic.Int64
	var mu sync.Mutex
	rcodes := map[string]int{}
	ticks := make(chan int)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ticks {
				rc, err := sendUpdate(k, i)
				name := dns.RcodeToString[rc]
				if err != nil {
					name = "no answer"
				}
				mu.Lock()
				rcodes[name]++
				mu.Unlock()
				sent.Add(1)
			}
		}()
	}
	start := time.Now()
	go func() {
		defer close(ticks)
		// Send what is due by the clock, not one per tick: a loaded machine
		// delivers ticks late, and a ticker drops the ones it could not.
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		issued := 0
		for {
			select {
			case <-fctx.Done():
				return
			case <-t.C:
			}
			for due := int(time.Since(start).Seconds() * float64(rate)); issued < due; issued++ {
				select {
				case ticks <- issued + 1:
				default:
					skipped.Add(1)
				}
			}
		}
	}()
	return func() floodStats {
		cancel()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return floodStats{sent: int(sent.Load()), skipped: int(skipped.Load()), rcodes: rcodes, duration: time.Since(start)}
	}
}

// sendUpdate sends UPDATE i (an add when even, a delete when odd) signed
// with k and returns the answer's rcode.
func sendUpdate(k floodKey, i int) (int, error) {
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(k.zone))
	rr, err := dns.NewRR(fmt.Sprintf("%s. 120 IN TXT flood", k.record))
	if err != nil {
		return 0, err
	}
	if i%2 == 0 {
		m.Insert([]dns.RR{rr})
	} else {
		m.Remove([]dns.RR{rr})
	}
	m.SetTsig(k.name, dns.HmacSHA256, 300, time.Now().Unix())
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second, TsigSecret: map[string]string{k.name: k.secret}}
	r, _, err := c.Exchange(m, floodAddr)
	if err != nil {
		return 0, err
	}
	return r.Rcode, nil
}

// floodAddr is the gateway's address in this process.
var floodAddr string

const floodMarkBegin, floodMarkEnd = "<!-- bench phase flood -->", "<!-- /bench phase flood -->"

// renderFlood is the flood phase's section of docs/benchmarks.md.
func (b *bench) renderFlood() string {
	f := b.res.flood
	if f == nil {
		return ""
	}
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	w("%s\n## Gateway flood (`-phase flood`)\n\n", floodMarkBegin)
	m := b.res.machine
	w("Commit %s, %s, %d CPUs, load average %s → %s. ", orDash(m.commit), b.res.started.UTC().Format("2006-01-02 15:04 UTC"), m.cpus, orDash(b.res.loadStart), orDash(b.res.loadEnd))
	w("One manager (gateway on, `--gateway-budget-share` 0.5, one replica, client-side limiter and simulator at 1,200 / 5 min) converges %d namespaces × 1 claim × %d A records twice, each time on a fresh simulator with one more namespace (the flooder) holding a TSIG key for one TXT name: once quiet, once while the flooder sends %d signed UPDATEs a second (alternately adding and deleting a value of its granted name, so each that gets through costs a records list and a batch), starting %s before the others' claims are created.\n\n",
		f.namespaces, b.opts.records, f.rate, dur(f.warmup))
	w("| measure | quiet | flood | target | met |\n|---|---|---|---|---|\n")
	outcome := func(c convResult) string {
		if c.incomplete != "" {
			return c.incomplete
		}
		return dur(c.duration)
	}
	w("| convergence: first create → every claim Ready and every Secret holding a token | %s | %s | | |\n", outcome(f.base), outcome(f.flood))
	w("| … of which creating the namespaces and claims (API server only, no provider, no gateway) | %s | %s | | |\n", dur(f.base.create), dur(f.flood.create))
	w("| … flood ÷ quiet | | **%.2f** | ≤ 1.2 | %s |\n", f.ratio(), verdict(f.ratio() > 0 && f.ratio() <= 1.2 && f.flood.incomplete == ""))
	w("| provider requests in the run (master token) | %d | %d (%d more: what the flooder's UPDATEs cost) | | |\n", f.baseWin.requests, f.floodWin.requests, f.floodRequests)
	w("| most requests in any 5 minutes | %d | %d | ≤ 1,200 | %s |\n", f.baseWin.maxIn5m, f.floodWin.maxIn5m, verdict(max(f.baseWin.maxIn5m, f.floodWin.maxIn5m) <= 1200))
	w("| 429 answers | %d | %d | 0 | %s |\n", f.baseWin.tooMany, f.floodWin.tooMany, verdict(f.baseWin.tooMany+f.floodWin.tooMany == 0))
	w("| flooder's UPDATEs sent, and their answers | | %d in %s (%.0f/s; %d more were due but all 32 senders were waiting for answers): %s | | |\n",
		f.sent, dur(f.floodDuration), float64(f.sent)/max(f.floodDuration.Seconds(), 1e-9), f.skipped, mapString(f.rcodes))
	w("\nThe per-key message limit (10/s, bursts of 20) answers most of the flood with REFUSED before it costs anything; what gets through is charged to the flooder's namespace, which alone may use half of the replica's gateway share (300 of 600 per 5 minutes) and is then REFUSED. The reconciles keep their reserve of 600.\n%s\n", floodMarkEnd)
	return s.String()
}

func mapString(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s %d", k, v))
	}
	if len(parts) == 0 {
		return "—"
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// spliceFlood puts the flood section into the document at path, replacing
// the one there or appending it.
func spliceFlood(path, section string) error {
	return splice(path, floodMarkBegin, floodMarkEnd, section)
}
