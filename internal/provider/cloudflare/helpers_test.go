package cloudflare_test

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

const masterToken = "sim-master-token-0123456789abcdefghijklmn"

// fixture is a simulator on loopback HTTP and what talks to it.
type fixture struct {
	sim     *sim.Server
	srv     *httptest.Server
	baseURL string
	logs    *syncBuffer
	opts    cloudflare.Options // template for providers
}

func newFixture(t testing.TB, configure ...func(*sim.Config)) *fixture {
	t.Helper()
	logs := &syncBuffer{}
	cfg := sim.Config{
		Zones:       []string{"example.com", "example.org"},
		MasterToken: masterToken,
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, c := range configure {
		c(&cfg)
	}
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	f := &fixture{sim: s, srv: srv, baseURL: srv.URL + "/client/v4/", logs: logs}
	f.opts = cloudflare.Options{
		AccountID:      s.AccountID(),
		APIToken:       masterToken,
		BaseURL:        f.baseURL,
		HTTPClient:     srv.Client(),
		RetryBaseDelay: 10 * time.Millisecond,
		RetryMaxDelay:  50 * time.Millisecond,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return f
}

// provider builds a provider on the fixture with the template options, changed
// by mutate.
func (f *fixture) provider(t testing.TB, mutate ...func(*cloudflare.Options)) *cloudflare.Provider {
	t.Helper()
	o := f.opts
	for _, m := range mutate {
		m(&o)
	}
	p, err := cloudflare.New(o)
	if err != nil {
		t.Fatalf("cloudflare.New: %v", err)
	}
	return p
}

func withToken(v provider.Secret) func(*cloudflare.Options) {
	return func(o *cloudflare.Options) { o.APIToken = v }
}

// recorder is an Observer that remembers what it saw.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) observe(op, result string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, op+"="+result)
}

func (r *recorder) count(s string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, x := range r.seen {
		if x == s {
			n++
		}
	}
	return n
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
