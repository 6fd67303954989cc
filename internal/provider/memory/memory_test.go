package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/contract"
	"github.com/scopedns/scopedns/internal/provider/memory"
)

func TestContract(t *testing.T) {
	contract.Run(t, func(t *testing.T) contract.Env {
		s := memory.New(memory.Config{Zones: []string{"example.com", "example.org"}})
		return contract.Env{
			Provider:      s.Master(),
			Connect:       func(_ *testing.T, c provider.Secret) provider.Provider { return s.Connect(c) },
			ZoneA:         "example.com",
			ZoneB:         "example.org",
			PageSize:      100,
			RateLimit:     func(*testing.T) { s.RateLimitNext(3, 10*time.Millisecond) },
			SetTokenQuota: func(_ *testing.T, n int) { s.SetTokenQuota(n) },
		}
	})
}

func TestExpiredAndNotYetValidTokensAreForbidden(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := memory.New(memory.Config{Zones: []string{"example.com"}, Now: func() time.Time { return now }})
	ctx := context.Background()
	zone := s.ZoneID("example.com")
	for name, spec := range map[string]provider.TokenSpec{
		"a token past its expiry is forbidden":       {ExpiresOn: now.Add(-time.Second)},
		"a token before its not-before is forbidden": {NotBefore: now.Add(time.Hour), ExpiresOn: now.Add(2 * time.Hour)},
	} {
		t.Run(name, func(t *testing.T) {
			spec.Name = provider.TokenName("c", "s", "ns", name[:7])
			spec.ZoneIDs = []string{zone}
			tok, err := s.Master().MintToken(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Connect(tok.Value).Verify(ctx); !provider.IsForbidden(err) {
				t.Fatalf("Verify: %v, want forbidden", err)
			}
		})
	}
}

func TestFailNextInjectsAnError(t *testing.T) {
	s := memory.New(memory.Config{Zones: []string{"example.com"}})
	want := &provider.Error{Op: provider.OpRecordsList, Kind: provider.KindUnavailable, Status: 503}
	s.FailNext(provider.OpRecordsList, want)
	var seen []string
	s2 := memory.New(memory.Config{Zones: []string{"example.com"}, Observer: func(op, result string, _ time.Duration) { seen = append(seen, op+"="+result) }})
	s2.FailNext("", want)
	ctx := context.Background()
	if _, err := s.Master().Records(ctx, s.ZoneID("example.com"), provider.RecordFilter{}); !provider.IsRetryable(err) {
		t.Fatalf("first call: %v, want the injected error", err)
	}
	if _, err := s.Master().Records(ctx, s.ZoneID("example.com"), provider.RecordFilter{}); err != nil {
		t.Fatalf("second call: %v", err)
	}
	_ = s2.Master().Verify(ctx)
	_ = s2.Master().Verify(ctx)
	if fmt.Sprint(seen) != "[verify=server_error verify=ok]" {
		t.Fatalf("observer saw %v", seen)
	}
	if got := s.Calls()[provider.OpRecordsList]; got != 2 {
		t.Fatalf("Calls()[records.list] = %d, want 2", got)
	}
}

func BenchmarkApplyChanges(b *testing.B) {
	s := memory.New(memory.Config{Zones: []string{"example.com"}})
	p := s.Master()
	zone := s.ZoneID("example.com")
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r := provider.Record{Name: fmt.Sprintf("r%d.example.com", i), Type: "TXT", Content: "x", Comment: "scopedns:c:ns/claim"}
		res, err := p.ApplyChanges(ctx, zone, provider.Changes{Create: []provider.Record{r}})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.ApplyChanges(ctx, zone, provider.Changes{Delete: res.Created}); err != nil {
			b.Fatal(err)
		}
	}
}
