package certmanager

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
	"github.com/scopedns/scopedns/internal/testdns"
)

const (
	accountID   = "0123456789abcdef0123456789abcdef"
	masterToken = "scopedns-certmanager-test-master-token"
)

// fixture is one simulator served three ways: its API over plain HTTP (for
// scopedns's provider), its API over TLS as api.cloudflare.com (for
// cert-manager's solver, see routing_test.go), and its DNS on one loopback
// port over UDP and TCP.
type fixture struct {
	sim     *sim.Server
	api     *httptest.Server
	dnsAddr string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, err := sim.New(sim.Config{
		AccountID:   accountID,
		AccountName: "scopedns-test",
		Zones:       []string{"example.com", "example.net"},
		MasterToken: masterToken,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sim: s}

	f.api = httptest.NewServer(s)
	t.Cleanup(f.api.Close)

	tlsAPI := httptest.NewUnstartedServer(s)
	tlsAPI.TLS = &tls.Config{Certificates: []tls.Certificate{apiTLS}, MinVersion: tls.VersionTLS12}
	tlsAPI.StartTLS()
	cloudflareAPIAddr.Store(tlsAPI.Listener.Addr().String())
	t.Cleanup(func() {
		cloudflareAPIAddr.Store("")
		tlsAPI.Close()
	})

	f.dnsAddr = testdns.Serve(t, s)
	return f
}

// master is scopedns's Cloudflare provider on the simulator with the master
// token, as the operator runs it.
func (f *fixture) master(t *testing.T) *cloudflare.Provider {
	t.Helper()
	p, err := cloudflare.New(cloudflare.Options{
		AccountID: accountID,
		APIToken:  provider.Secret(masterToken),
		BaseURL:   f.api.URL + "/client/v4/",
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mint mints a token for zones with scopedns's Cloudflare provider, as the
// operator does, using the master token.
func (f *fixture) mint(ctx context.Context, t *testing.T, zones ...string) provider.MintedToken {
	t.Helper()
	p := f.master(t)
	found, err := p.Zones(ctx, zones)
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != len(zones) {
		t.Fatalf("provider found zones %v for %v", found, zones)
	}
	var ids []string
	for _, z := range found {
		ids = append(ids, z.ID)
	}
	tok, err := p.MintToken(ctx, provider.TokenSpec{
		Name:    provider.TokenName("certmanager-test", "prod", "team-a", "1"),
		ZoneIDs: ids,
	})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// txtRecords are the TXT records named name that the simulator stores in
// zone.
func (f *fixture) txtRecords(zone, name string) []sim.Record {
	var out []sim.Record
	for _, r := range f.sim.Records(zone) {
		if r.Type == "TXT" && r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// queryTXT asks the simulator's DNS for name's TXT records over network
// ("udp" or "tcp") and returns the answer's rcode and TXT strings.
func (f *fixture) queryTXT(t *testing.T, network, name string) (int, []string) {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	in, _, err := c.Exchange(m, f.dnsAddr)
	if err != nil {
		t.Fatalf("%s TXT %s: %v", network, name, err)
	}
	if !in.Authoritative {
		t.Errorf("%s TXT %s: answer is not authoritative", network, name)
	}
	var txts []string
	for _, rr := range in.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			txts = append(txts, strings.Join(txt.Txt, ""))
		}
	}
	return in.Rcode, txts
}

// apiCall sends one request to the simulator's API with token as cert-manager
// would (through api.cloudflare.com) and returns the status and the
// envelope's error codes.
func apiCall(ctx context.Context, t *testing.T, method, path, token string, body string) (int, []int) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, "https://api.cloudflare.com/client/v4"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var env struct {
		Success bool
		Errors  []struct{ Code int }
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var codes []int
	for _, e := range env.Errors {
		codes = append(codes, e.Code)
	}
	return resp.StatusCode, codes
}
