package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// benchPost sends body to path b.N times over real HTTP, from as many
// goroutines as GOMAXPROCS, and reports requests per second.
func benchPost(b *testing.B, f *fixture, path string, body func(i int64) []byte) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			req, _ := http.NewRequest("POST", f.ts.URL+"/client/v4"+path, bytes.NewReader(body(i)))
			req.Header.Set("Authorization", "Bearer "+testMaster)
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	if secs := time.Since(start).Seconds(); secs > 0 {
		b.ReportMetric(math.Round(float64(b.N)/secs), "req/s")
	}
}

func BenchmarkRecordCreate(b *testing.B) {
	f := newFixture(b)
	f.srv.SetRateLimit(0, 0)
	path := "/zones/" + f.srv.ZoneID("example.com") + "/dns_records"
	benchPost(b, f, path, func(i int64) []byte {
		return []byte(fmt.Sprintf(`{"type":"TXT","name":"_acme-challenge.h%d","content":"value-%d","ttl":120,"comment":"scopedns: bench"}`, i, i))
	})
}

func BenchmarkTokenMint(b *testing.B) {
	f := newFixture(b)
	f.srv.SetRateLimit(0, 0)
	f.srv.SetTokenQuota(math.MaxInt32)
	body, _ := json.Marshal(map[string]any{
		"name": "bench",
		"policies": []map[string]any{{
			"effect":            "allow",
			"permission_groups": []map[string]string{{"id": PermZoneRead}, {"id": PermDNSWrite}},
			"resources":         zoneRes(f.srv.ZoneID("example.com")),
		}},
		"condition":  map[string]any{"request.ip": map[string]any{"in": []string{"203.0.113.0/24"}}},
		"expires_on": "2030-01-01T00:00:00Z",
	})
	benchPost(b, f, "/accounts/"+testAccount+"/tokens", func(int64) []byte { return body })
}
