package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

const scaleMarkBegin, scaleMarkEnd = "<!-- bench scale -->", "<!-- /bench scale -->"

// renderScale is the scale section of docs/benchmarks.md: one column per
// size, then the per-namespace costs of the largest against the smallest.
func (b *bench) renderScale(rs []scaleResult) string {
	var s strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&s, format, args...) }
	m := b.res.machine
	w("%s\n## Thousands of tenants (`make bench-scale`)\n\n", scaleMarkBegin)
	w("Commit %s, %s, %d CPUs (%s), %s, Go %s, envtest %s; load average %s → %s.\n\n",
		orDash(m.commit), b.res.started.UTC().Format("2006-01-02 15:04 UTC"), m.cpus, m.cpuModel, m.memTotal, m.goVersion, m.kube, orDash(b.res.loadStart), orDash(b.res.loadEnd))
	w("Each size runs on a fresh kube-apiserver and etcd. N namespaces × 1 claim × 2 records (one A value, one reserved `_acme-challenge` TXT) over %d zones, with TSIG, acme-dns, dyndns2 and Cloudflare-API credentials on and provider tokens off (dyndns2 gives a login only for reserved A names, which these claims do not have). The objects are created first with neither the manager nor its webhooks (what the API server alone needs); then `cmd/manager` starts as its own process (so its heap, RSS and profile are its own), under the default rate limits on both sides (client-side limiter, simulator at 1,200 / 5 min), `--drift-interval %s`, %s.\n\n",
		b.opts.scaleZones, dur(b.opts.scaleDrift), memLimitNote(b.opts.managerMemoryMiB))
	w("| measure |")
	for _, r := range rs {
		w(" %d |", r.n)
	}
	w(" target |\n|---|")
	for range rs {
		w("---|")
	}
	w("---|\n")
	// A size that did not converge reports its creation and its progress;
	// the phases after convergence did not run, and say so.
	row := func(name, target string, f func(r scaleResult) string) {
		w("| %s |", name)
		for _, r := range rs {
			if r.incomplete != "" && r.converge == 0 && !strings.HasPrefix(name, "creating") && !strings.HasPrefix(name, "manager start") {
				w(" — |")
				continue
			}
			w(" %s |", f(r))
		}
		w(" %s |\n", target)
	}
	row(fmt.Sprintf("creating namespaces and claims (API server alone, %d workers)", b.opts.workers), "", func(r scaleResult) string { return dur(r.create) })
	row("manager start → every claim Ready and every namespace's Secret holding its TSIG key, acme-dns account and Cloudflare-API token (DNSCredential Ready)", "≤ 120 s", func(r scaleResult) string {
		if r.incomplete != "" && r.converge == 0 {
			return r.incomplete
		}
		return fmt.Sprintf("%s %s", dur(r.converge), verdict(r.converge <= 120*time.Second))
	})
	row("… last claim Ready / last namespace's credentials delivered", "", func(r scaleResult) string { return dur(r.claimsAt) + " / " + dur(r.credsAt) })
	row("credentials issued per second", "", func(r scaleResult) string { return perSec(r.n, r.credsAt) })
	row("provider requests ÷ minimum", "", func(r scaleResult) string {
		return fmt.Sprintf("%d ÷ %d = %.2f", r.requests, r.minimum, float64(r.requests)/float64(max(1, r.minimum)))
	})
	row("most provider requests in any 5 minutes; 429 answers", "≤ 1,200; 0", func(r scaleResult) string {
		return fmt.Sprintf("%d; %d %s", r.maxIn5m, r.tooMany, verdict(r.maxIn5m <= 1200 && r.tooMany == 0))
	})
	row("manager API writes per claim (all kinds)", "", func(r scaleResult) string {
		return fmt.Sprintf("%.2f (%s)", float64(r.writesTotal())/float64(max(1, r.n)), mapString(r.writes))
	})
	row("manager API reads (GET incl. lists and watches)", "", func(r scaleResult) string { return itoa(r.reads) })
	row("CPU seconds during convergence, by process (share of all)", "", func(r scaleResult) string { return r.cpu.String() })
	row("… per namespace: kube-apiserver + etcd / manager", "", func(r scaleResult) string {
		return fmt.Sprintf("%.1f / %.1f ms", 1000*(r.cpu["kube-apiserver"]+r.cpu["etcd"])/float64(max(1, r.n)), 1000*r.cpu["manager"]/float64(max(1, r.n)))
	})
	row("manager heap in use / RSS / peak RSS after convergence", "RSS ≤ 400 MB", func(r scaleResult) string {
		return fmt.Sprintf("%s / %s / %s %s", mib(r.heap), mib(r.rss), mib(r.peakRSS), verdict(r.peakRSS > 0 && r.peakRSS <= 400<<20))
	})
	row("webhook end to end at 200/s: p50 / p99 (errors)", "p99 ≤ 20 ms", func(r scaleResult) string {
		return fmt.Sprintf("%s / %s (%d) %s", dur(r.wh.p50), dur(r.wh.p99), r.wh.errors, verdict(r.wh.p99 > 0 && r.wh.p99 <= 20*time.Millisecond && r.wh.errors == 0))
	})
	row("… the same dry-run creates of a ConfigMap, which no webhook sees (the API server's and the client's floor): p50 / p99", "", func(r scaleResult) string {
		return fmt.Sprintf("%s / %s", dur(r.wh.floorP50), dur(r.wh.floorP99))
	})
	row("… the same creates of a copy of the claim CRD (same schema and CEL rules), which no webhook sees: p50 / p99", "", func(r scaleResult) string {
		return fmt.Sprintf("%s / %s", dur(r.wh.crdFloorP50), dur(r.wh.crdFloorP99))
	})
	row("… the API server's own timing of the claim creates; of the copy's", "", func(r scaleResult) string {
		return fmt.Sprintf("%s; %s", r.wh.server, r.wh.crdServer)
	})
	row("… the API server's wait for the claim webhook", "", func(r scaleResult) string { return r.wh.call.String() })
	row("webhook server's own latency metric (decode, handler, encode) for those requests", "", func(r scaleResult) string {
		return fmt.Sprintf("%.2f%% under 1 ms, %.2f%% under 10 ms", 100*r.wh.metricUnder1ms, 100*r.wh.metricUnder10ms)
	})
	row("webhook handler alone, every claim cached: p50 / p99", "p99 ≤ 1 ms", func(r scaleResult) string {
		return fmt.Sprintf("%s / %s %s", dur(r.wh.hp50), dur(r.wh.hp99), verdict(r.wh.hp99 > 0 && r.wh.hp99 <= time.Millisecond))
	})
	row("DNS-01 at once: tenants (gateway + acme-dns); answered OK; visible at the provider", "all", func(r scaleResult) string {
		d := r.dns01
		failed := ""
		if d.failedGateway+d.failedACMEDNS > 0 {
			failed = fmt.Sprintf(" (failed: %d gateway, %d acme-dns%s)", d.failedGateway, d.failedACMEDNS, firstErr(d.firstError))
		}
		return fmt.Sprintf("%d (%d + %d); %d%s; %d %s", d.tenants, d.viaGateway, d.viaACMEDNS, d.ok, failed, d.visible, verdict(d.tenants > 0 && d.ok == d.tenants && d.visible == d.tenants))
	})
	row("… all answered in; answer p50 / p99; provider requests; 429s", "", func(r scaleResult) string {
		d := r.dns01
		return fmt.Sprintf("%s; %s / %s; %d; %d", dur(d.duration), dur(d.p50), dur(d.p99), d.requests, d.tooMany)
	})
	row("steady state: provider requests (by operation); manager API writes", "drift lists only; 0", func(r scaleResult) string {
		st := r.steady
		return fmt.Sprintf("%d (%s) in %s; %d %s", st.requests, opsString(st.ops), dur(st.quiet), sum(st.writes), verdict(sum(st.writes) == 0 && onlyLists(st.ops)))
	})
	row("restart: new process settled; provider requests; API writes; RSS after", "", func(r scaleResult) string {
		rr := r.restart
		return fmt.Sprintf("%s; %d (%s); %d (%s); %s", dur(rr.settle), rr.requests, opsString(rr.ops), sum(rr.writes), mapString(rr.writes), mib(r.restartedRSS))
	})
	for _, r := range rs {
		if d := r.decoy; d.count > 0 {
			grew := int64(d.rssAfter) - int64(d.rssBefore)
			w("\n**Decoy Secrets** (at %d namespaces): one tenant creates %d Secrets of %s each carrying the operator's labels (`app.kubernetes.io/managed-by=scopedns`, `scopedns.io/scope`) in %s. The manager's RSS goes %s → %s (**%+.1f MiB**; target ≤ +50 MB %s), heap in use %s → %s.\n",
				r.n, d.count, mib(uint64(d.bytes)), dur(d.create), mib(d.rssBefore), mib(d.rssAfter), float64(grew)/(1<<20), verdict(grew <= 50<<20), mib(d.heapBefore), mib(d.heapAfter))
		}
	}
	if len(rs) >= 2 && rs[len(rs)-1].converge > 0 {
		lo, hi := rs[0], rs[len(rs)-1]
		w("\n**Per-namespace cost, %d against %d namespaces** (target: within 1.2×):\n\n| cost per namespace | %d | %d | ratio | met |\n|---|---|---|---|---|\n", hi.n, lo.n, lo.n, hi.n)
		ratio := func(name string, a, b float64, unit string) {
			r := b / a
			if a == 0 {
				r = 0
			}
			w("| %s | %.3g %s | %.3g %s | **%.2f** | %s |\n", name, a, unit, b, unit, r, verdict(a > 0 && r <= 1.2))
		}
		per := func(x float64, n int) float64 { return x / float64(n) }
		ratio("manager time to converge", per(lo.converge.Seconds()*1000, lo.n), per(hi.converge.Seconds()*1000, hi.n), "ms")
		ratio("manager CPU to converge", per(lo.cpu["manager"]*1000, lo.n), per(hi.cpu["manager"]*1000, hi.n), "ms")
		ratio("kube-apiserver + etcd CPU while the manager converges", per((lo.cpu["kube-apiserver"]+lo.cpu["etcd"])*1000, lo.n), per((hi.cpu["kube-apiserver"]+hi.cpu["etcd"])*1000, hi.n), "ms")
		ratio("manager heap in use", per(float64(lo.heap)/1024, lo.n), per(float64(hi.heap)/1024, hi.n), "KiB")
		ratio("manager RSS", per(float64(lo.rss)/1024, lo.n), per(float64(hi.rss)/1024, hi.n), "KiB")
		ratio("manager API writes", per(float64(lo.writesTotal()), lo.n), per(float64(hi.writesTotal()), hi.n), "")
		ratio("provider requests", per(float64(lo.requests), lo.n), per(float64(hi.requests), hi.n), "")
		ratio("API server create time", per(lo.create.Seconds()*1000, lo.n), per(hi.create.Seconds()*1000, hi.n), "ms")
	}
	for _, r := range rs {
		if r.heapTop != "" || r.cpuTop != "" {
			w("\n<details><summary>pprof at %d namespaces: CPU (first 60 s after the manager started) and heap (after convergence), top 10</summary>\n\n```\n%s\n%s```\n\n</details>\n", r.n, strings.TrimSpace(r.cpuTop), r.heapTop)
		}
		if r.apiCPUTop != "" {
			w("\n<details><summary>pprof at %d namespaces: kube-apiserver CPU over the same 60 s, cumulative, by what it served</summary>\n\n```\n%s\n```\n\n</details>\n", r.n, strings.TrimSpace(r.apiCPUTop))
		}
	}
	if b.res.runErr != nil {
		w("\n> **The run did not finish:** %s.\n", b.res.runErr)
	}
	w("%s\n", scaleMarkEnd)
	return s.String()
}

func perSec(n int, d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f/s", float64(n)/d.Seconds())
}

// onlyLists is true when every provider request was a read.
func onlyLists(ops map[string]int) bool {
	for op := range ops {
		if !strings.HasSuffix(op, ".list") && !strings.HasSuffix(op, ".get") && !strings.HasSuffix(op, ".verify") && op != "dns.query" {
			return false
		}
	}
	return true
}

// splice puts section into the document at path between its markers,
// replacing what is there or appending it.
func splice(path, begin, end, section string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	doc := string(old)
	if i, j := strings.Index(doc, begin), strings.Index(doc, end); i >= 0 && j > i {
		doc = doc[:i] + strings.TrimSuffix(section, "\n") + doc[j+len(end):]
	} else {
		doc = strings.TrimRight(doc, "\n") + "\n\n" + section
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

func memLimitNote(mib int) string {
	l := managerGoMemLimit(mib)
	if l == "" {
		return "no Go memory limit"
	}
	return fmt.Sprintf("`GOMEMLIMIT=%s` (what cmd/manager sets itself, 90 %%, in a container limited to %d MiB)", l, mib)
}
