package cloudflare_test

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
	"github.com/scopedns/scopedns/internal/provider/contract"
)

func TestContractOnTheSimulator(t *testing.T) {
	contract.Run(t, func(t *testing.T) contract.Env {
		f := newFixture(t)
		return contract.Env{
			Provider: f.provider(t),
			Connect: func(t *testing.T, c provider.Secret) provider.Provider {
				return f.provider(t, withToken(c))
			},
			ZoneA:    "example.com",
			ZoneB:    "example.org",
			PageSize: cloudflare.DefaultPageSize, // 205 records: two pages, and two batches at 200
			RateLimit: func(*testing.T) {
				f.sim.SetRateLimit(2, 2*time.Second)
			},
			SetTokenQuota: func(_ *testing.T, n int) { f.sim.SetTokenQuota(n) },
			Logs:          f.logs.String,
		}
	})
}

func TestContractOnRealCloudflare(t *testing.T) {
	token, account, zones := os.Getenv("CLOUDFLARE_API_TOKEN"), os.Getenv("CLOUDFLARE_ACCOUNT_ID"), os.Getenv("CLOUDFLARE_TEST_ZONES")
	names := strings.Split(zones, ",")
	if token == "" || account == "" || len(names) != 2 {
		t.Skip("real Cloudflare: set CLOUDFLARE_API_TOKEN, CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_TEST_ZONES to run")
	}
	logs := &syncBuffer{}
	opts := cloudflare.Options{
		AccountID: account,
		APIToken:  provider.Secret(token),
		BaseURL:   os.Getenv("CLOUDFLARE_BASE_URL"),
		PageSize:  20, // 45 records make three pages without filling a free zone
		Logger:    slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	newProvider := func(t *testing.T, o cloudflare.Options) provider.Provider {
		p, err := cloudflare.New(o)
		if err != nil {
			t.Fatalf("cloudflare.New: %v", err)
		}
		return p
	}
	contract.Run(t, func(t *testing.T) contract.Env {
		return contract.Env{
			Provider: newProvider(t, opts),
			Connect: func(t *testing.T, c provider.Secret) provider.Provider {
				o := opts
				o.APIToken = c
				return newProvider(t, o)
			},
			ZoneA:    strings.TrimSpace(names[0]),
			ZoneB:    strings.TrimSpace(names[1]),
			Cluster:  "contract-real",
			PageSize: opts.PageSize,
			Settle:   30 * time.Second,
			Logs:     logs.String,
		}
	})
}
