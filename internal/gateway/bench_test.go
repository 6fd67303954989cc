package gateway

import (
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkSignedUpdate measures signed RFC 2136 updates over loopback UDP
// against the in-memory provider: each iteration is one add and one delete of
// a TXT record, both HMAC-SHA256 signed, answers verified by the client.
func BenchmarkSignedUpdate(b *testing.B) {
	for _, network := range []string{"udp", "tcp"} {
		b.Run(network, func(b *testing.B) {
			f := benchFixture(b)
			conn, err := dns.DialTimeout(network, f.addr, 5*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			defer func() { conn.Close() }()
			lat := make([]time.Duration, 0, 2*b.N)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if network == "tcp" && i > 0 && i%(maxTCPQueries/2) == 0 {
					// The server closes a connection after maxTCPQueries.
					conn.Close()
					if conn, err = dns.DialTimeout(network, f.addr, 5*time.Second); err != nil {
						b.Fatal(err)
					}
				}
				for _, m := range addDelete(b, fmt.Sprintf("token-%d", i)) {
					start := time.Now()
					r, err := exchangeOn(conn, asTeamA, m)
					if err != nil || r.Rcode != dns.RcodeSuccess {
						b.Fatalf("update: %v %v", r, err)
					}
					lat = append(lat, time.Since(start))
				}
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
	b.Run("udp-parallel", func(b *testing.B) {
		f := benchFixture(b)
		var seq atomic.Int64
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			conn, err := dns.DialTimeout("udp", f.addr, 5*time.Second)
			if err != nil {
				b.Error(err)
				return
			}
			defer conn.Close()
			for pb.Next() {
				for _, m := range addDelete(b, fmt.Sprintf("token-%d", seq.Add(1))) {
					r, err := exchangeOn(conn, asTeamA, m)
					if err != nil || r.Rcode != dns.RcodeSuccess {
						b.Errorf("update: %v %v", r, err)
						return
					}
				}
			}
		})
		b.ReportMetric(float64(2*b.N)/b.Elapsed().Seconds(), "updates/s")
	})
}

func benchFixture(b *testing.B) *fixture {
	b.Helper()
	return newFixture(b, func(o *Options) { o.Logger = nil })
}

func addDelete(tb testing.TB, value string) [2]*dns.Msg {
	add := update(testZone)
	add.Insert(rrs(tb, acmeName+". 120 IN TXT "+value))
	del := update(testZone)
	del.Remove(rrs(tb, acmeName+". 0 IN TXT "+value))
	return [2]*dns.Msg{add, del}
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	b.ReportMetric(float64(len(lat))/total.Seconds(), "updates/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
