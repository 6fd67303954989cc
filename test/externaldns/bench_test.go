package externaldns

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/pkg/apis/externaldns"
	edprovider "sigs.k8s.io/external-dns/provider"

	"github.com/scopedns/scopedns/internal/cfapi"
)

// Benchmark sizes: the 20 namespaces of 1,000 endpoints each.
const (
	benchTenants   = 20
	benchEndpoints = 1000
)

// BenchmarkExternalDNSSync runs one external-dns per namespace, all at once,
// each syncing 1,000 A endpoints (and their TXT registry records): first
// creating them, then with nothing to change, then with every address
// changed. "front-door" is each instance's Cloudflare provider on scopedns's
// Cloudflare-compatible API with its namespace's token; "direct" is the same
// instances on the simulator with the master token, the baseline. Reported
// per phase: the simulator's requests (what the provider's rate limit
// counts) and the front door's, per namespace's sync, and the phase's time.
// Run: make bench-externaldns (go test -bench ExternalDNSSync -benchtime 1x),
// with --cloudflare-dns-records-per-page=5000 (Cloudflare's largest page).
func BenchmarkExternalDNSSync(b *testing.B) {
	for _, via := range []string{"front-door", "direct"} {
		b.Run(via, func(b *testing.B) {
			for b.Loop() {
				runSyncBench(b, via)
			}
		})
	}
}

func runSyncBench(b *testing.B, via string) {
	// external-dns logs every record it changes: 40,000 lines a phase.
	logrus.SetLevel(logrus.WarnLevel)
	s := newSuite(b)
	s.sim.SetRateLimit(-1, 0) // counted, not limited: the counts are the result
	zoneID := s.sim.ZoneID(zone)
	type instance struct {
		cfg *externaldns.Config
		p   edprovider.Provider
		ns  string
	}
	names := func(ns string) []string {
		out := make([]string, benchEndpoints)
		for i := range out {
			out[i] = fmt.Sprintf("e%04d.%s.apps.example.com", i, ns)
		}
		return out
	}
	var tokens []cfapi.Token
	for i := range benchTenants {
		ns := fmt.Sprintf("team-%02d", i)
		tokens = append(tokens, cfToken(ns, fmt.Sprintf("TokenOfTeam%02d0123456789abcdefghijklmnop", i), zoneID, names(ns)...))
	}
	var fd *frontDoor
	if via == "front-door" {
		fd = startFrontDoor(b, s, tokens...)
	}
	instances := make([]instance, benchTenants)
	for i := range instances {
		ns := fmt.Sprintf("team-%02d", i)
		cfg := baseConfig(ns)
		// Cloudflare's largest page: the fewest list requests for a zone
		// of 40,000 records, as a user of a large zone would set.
		cfg.CloudflareDNSRecordsPerPage = 5000
		base, token := s.api.URL+"/client/v4", masterToken
		if fd != nil {
			base, token = fd.url, tokens[i].Values[0]
		}
		instances[i] = instance{cfg: cfg, p: newCloudflare(b, base, token, cfg), ns: ns}
	}
	desired := func(ns, ip string) []*endpoint.Endpoint {
		var out []*endpoint.Endpoint
		for _, n := range names(ns) {
			out = append(out, a(n, 300, ip))
		}
		return out
	}
	for _, phase := range []struct{ name, ip string }{{"create", "192.0.2.10"}, {"unchanged", "192.0.2.10"}, {"change", "192.0.2.20"}} {
		s.sim.ResetRequests()
		fdBefore := 0
		if fd != nil {
			fdBefore = fd.requests()
		}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make([]error, len(instances))
		for i, in := range instances {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = syncOnce(context.Background(), b, in.cfg, in.p, desired(in.ns, phase.ip)...)
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		for i, err := range errs {
			if err != nil {
				b.Fatalf("%s %s: %s's sync: %v", via, phase.name, instances[i].ns, err)
			}
		}
		total := 0
		for _, n := range s.sim.Requests() {
			total += n
		}
		b.ReportMetric(float64(total)/benchTenants, phase.name+"-provider-req/sync")
		b.ReportMetric(elapsed.Seconds(), phase.name+"-s")
		if fd != nil {
			b.ReportMetric(float64(fd.requests()-fdBefore)/benchTenants, phase.name+"-frontdoor-req/sync")
		}
	}
	if got := len(s.sim.Records(zone)); got < benchTenants*benchEndpoints*2 {
		b.Fatalf("the zone holds %d records, want %d endpoints and their registry records", got, benchTenants*benchEndpoints*2)
	}
}
