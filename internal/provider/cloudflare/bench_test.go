package cloudflare_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

// benchProvider is the provider on a simulator over loopback HTTP, with rate
// limiting off on both sides so that the numbers are the code's, not the
// limit's.
func benchProvider(b *testing.B) (*cloudflare.Provider, *sim.Server) {
	b.Helper()
	s, err := sim.New(sim.Config{Zones: []string{"example.com"}, MasterToken: masterToken, RateLimit: -1, TokenQuota: 100_000})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s)
	b.Cleanup(srv.Close)
	p, err := cloudflare.New(cloudflare.Options{
		AccountID:  s.AccountID(),
		APIToken:   masterToken,
		BaseURL:    srv.URL + "/client/v4/",
		HTTPClient: srv.Client(),
		RateLimit:  -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	return p, s
}

// BenchmarkRecordWrites measures records written per second through
// ApplyChanges: each request deletes the records the previous one created and
// creates as many new ones, so the zone stays small.
func BenchmarkRecordWrites(b *testing.B) {
	for _, size := range []int{1, 50, 200} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			p, s := benchProvider(b)
			ctx := context.Background()
			zone := s.ZoneID("example.com")
			var prev []provider.Record
			writes := 0
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				c := provider.Changes{Delete: prev}
				for j := range size {
					c.Create = append(c.Create, txt(fmt.Sprintf("r%d-%d.example.com", i, j), "v"))
				}
				res, err := p.ApplyChanges(ctx, zone, c)
				if err != nil {
					b.Fatal(err)
				}
				writes += len(c.Delete) + len(c.Create)
				prev = res.Created
			}
			b.ReportMetric(float64(writes)/b.Elapsed().Seconds(), "writes/s")
		})
	}
	b.Run("batch=1/parallel", func(b *testing.B) {
		p, s := benchProvider(b)
		ctx := context.Background()
		zone := s.ZoneID("example.com")
		var seq, writes atomic.Int64
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			var prev []provider.Record
			for pb.Next() {
				c := provider.Changes{Delete: prev, Create: []provider.Record{txt(fmt.Sprintf("p%d.example.com", seq.Add(1)), "v")}}
				res, err := p.ApplyChanges(ctx, zone, c)
				if err != nil {
					b.Error(err)
					return
				}
				writes.Add(int64(len(c.Delete) + len(c.Create)))
				prev = res.Created
			}
		})
		b.ReportMetric(float64(writes.Load())/b.Elapsed().Seconds(), "writes/s")
	})
}

// BenchmarkTokenMints measures tokens minted per second; each is revoked in
// the same iteration (two requests).
func BenchmarkTokenMints(b *testing.B) {
	p, s := benchProvider(b)
	ctx := context.Background()
	zone := s.ZoneID("example.com")
	b.ReportAllocs()
	mints := 0
	for i := 0; b.Loop(); i++ {
		tok, err := p.MintToken(ctx, provider.TokenSpec{Name: provider.TokenName("bench", "s", "ns", fmt.Sprint(i)), ZoneIDs: []string{zone}})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.RevokeToken(ctx, tok.ID); err != nil {
			b.Fatal(err)
		}
		mints++
	}
	b.ReportMetric(float64(mints)/b.Elapsed().Seconds(), "mints/s")
}

// BenchmarkRecordsList measures reading a zone of 1,000 records (ten pages).
func BenchmarkRecordsList(b *testing.B) {
	p, s := benchProvider(b)
	ctx := context.Background()
	zone := s.ZoneID("example.com")
	var c provider.Changes
	for i := range 1000 {
		c.Create = append(c.Create, txt(fmt.Sprintf("l%d.example.com", i), "v"))
	}
	if _, err := p.ApplyChanges(ctx, zone, c); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	read := 0
	for b.Loop() {
		recs, err := p.Records(ctx, zone, provider.RecordFilter{})
		if err != nil || len(recs) < 1000 {
			b.Fatal(len(recs), err)
		}
		read += len(recs)
	}
	b.ReportMetric(float64(read)/b.Elapsed().Seconds(), "records/s")
}
