package rfc2136_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/rfc2136"
	"github.com/scopedns/scopedns/internal/testdns"
)

// BenchmarkConvergeThroughNamed converges RFC2136_BENCH_RECORDS (default
// 10,000) records into a zone on a real named (and, as a sub-benchmark, a
// real knotd) the way the claim controller
// does: list the zone, apply what is missing, list again and find nothing to
// do. It reports the UPDATE messages against the least a batched writer can
// send, ceil(changes / batch size), and the requests overall against that
// plus the one listing:
//
//	go test ./internal/provider/rfc2136/ -run '^$' -bench ConvergeThroughNamed -benchtime 1x
func BenchmarkConvergeThroughNamed(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("RFC2136_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	for _, srv := range servers {
		b.Run(srv.name, func(b *testing.B) {
			converge(b, srv.start(b, testdns.Config{Zones: []string{zoneA}, Master: master}), n)
		})
	}
}

func converge(b *testing.B, s *testdns.Server, n int) {
	const batch = 200
	for i := range b.N {
		var mu sync.Mutex
		calls := map[string]int{}
		p := connect(b, s, master, func(o *rfc2136.Options) {
			o.BatchSize = batch
			o.Observer = func(op, _ string, _ time.Duration) { mu.Lock(); calls[op]++; mu.Unlock() }
		})
		owner := provider.OwnerComment("bench", "team-a", fmt.Sprintf("claim-%d", i))
		want := make([]provider.Record, n)
		for j := range want {
			want[j] = provider.Record{Name: fmt.Sprintf("r%05d.run%d.%s", j, i, zoneA), Type: "TXT", Content: fmt.Sprintf("value-%d", j), TTL: 300, Comment: owner}
		}
		ctx := context.Background()
		b.StartTimer()
		start := time.Now()
		have, err := p.Records(ctx, zoneA, provider.RecordFilter{Owner: owner})
		if err != nil {
			b.Fatal(err)
		}
		if len(have) != 0 {
			b.Fatalf("the zone already holds %d of the run's records", len(have))
		}
		if _, err := p.ApplyChanges(ctx, zoneA, provider.Changes{Create: want}); err != nil {
			b.Fatal(err)
		}
		converged := time.Since(start)
		mu.Lock()
		listings := calls[provider.OpRecordsList] + calls[provider.OpZonesList]
		mu.Unlock()
		again, err := p.Records(ctx, zoneA, provider.RecordFilter{Owner: owner})
		b.StopTimer()
		if err != nil || len(again) != n {
			b.Fatalf("after converging the zone holds %d of %d records (err %v)", len(again), n, err)
		}
		updates := calls[provider.OpRecordsBatch]
		minimum := (n + batch - 1) / batch
		b.ReportMetric(float64(n), "records")
		b.ReportMetric(float64(updates), "updates")
		b.ReportMetric(float64(minimum), "min-updates")
		b.ReportMetric(float64(updates+listings), "requests")
		b.ReportMetric(float64(minimum+1), "min-requests")
		b.ReportMetric(float64(n)/converged.Seconds(), "records/s")
		b.Logf("%d records converged through %s in %s with %d UPDATEs (minimum %d) and %d listing requests; the check after it: one more transfer",
			n, s.Kind, converged.Round(time.Millisecond), updates, minimum, listings)
	}
}
