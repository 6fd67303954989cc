package acmedns

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/lego"
	legolog "github.com/go-acme/lego/v5/log"
	legoacmedns "github.com/go-acme/lego/v5/providers/dns/acmedns"
	"github.com/go-acme/lego/v5/registration"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"github.com/scopedns/scopedns/internal/acmedns"
	"github.com/scopedns/scopedns/internal/cfapi"
	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
	"github.com/scopedns/scopedns/internal/testdns"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

const (
	accountID   = "0123456789abcdef0123456789abcdef"
	masterToken = "scopedns-acmedns-test-master-token"
	cluster     = "acmedns-test"
	zone        = "example.com"
)

// fixture is the whole path of a DNS-01 issuance: the Cloudflare simulator
// (API over HTTP, DNS over UDP and TCP on one loopback port), scopedns's
// Cloudflare provider with the master token, the zone writer, the acme-dns
// front door on HTTP, and pebble on HTTPS with its VA resolving through the
// simulator's DNS.
type fixture struct {
	sim      *sim.Server
	dnsAddr  string
	zoneID   string
	accounts *acmedns.AccountStore
	handler  *acmedns.Handler
	// tokens are the Cloudflare-compatible API's, served beside acme-dns.
	tokens *cfapi.TokenStore
	// skew is added to the front door's clock, to age the values it wrote.
	skew     atomic.Int64
	frontURL string
	acmeURL  string
	caFile   string
	logs     *syncBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s, err := sim.New(sim.Config{AccountID: accountID, AccountName: "scopedns-test", Zones: []string{zone}, MasterToken: masterToken})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{sim: s, zoneID: s.ZoneID(zone), accounts: acmedns.NewAccountStore(), tokens: cfapi.NewTokenStore(), logs: &syncBuffer{}}
	api := httptest.NewServer(s)
	t.Cleanup(api.Close)
	f.dnsAddr = testdns.Serve(t, s)

	p, err := cloudflare.New(cloudflare.Options{AccountID: accountID, APIToken: provider.Secret(masterToken), BaseURL: api.URL + "/client/v4/"})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(f.logs, nil))
	w, err := zonewriter.New(zonewriter.Options{
		Providers: zonewriter.ProvidersFunc(func(context.Context, string) (zonewriter.Provider, error) { return p, nil }),
		Logger:    logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := acmedns.New(acmedns.Options{Accounts: f.accounts, Writer: w, Logger: logger,
		Now: func() time.Time { return time.Now().Add(time.Duration(f.skew.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	f.handler = h
	cf, err := cfapi.New(cfapi.Options{Tokens: f.tokens, Writer: w, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle(cfapi.Prefix, cf)
	front := httptest.NewServer(mux)
	t.Cleanup(front.Close)
	f.frontURL = front.URL

	f.startPebble(t)
	return f
}

// startPebble runs pebble's WFE, CA and VA in process, as its cmd/pebble
// does, on an httptest TLS server whose certificate lego is told to trust.
func (f *fixture) startPebble(t *testing.T) {
	t.Helper()
	// Read by va.New and wfe.New: validate at once instead of after a random
	// sleep of up to 15 s, never reject a good nonce on purpose, and never
	// reuse an authorization (each test must solve its own challenges).
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")
	// pebble logs from its own goroutines, also after the test: into a
	// buffer, shown when the test failed.
	pebbleLog := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("pebble's log:\n%s", pebbleLog.String())
		}
	})
	logger := log.New(pebbleLog, "pebble ", 0)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "the default profile", PromoteCommonName: true},
	})
	validator := va.New(logger, 0, 0, false, f.dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 1, 1)
	srv := httptest.NewTLSServer(front.Handler())
	t.Cleanup(srv.Close)
	f.acmeURL = srv.URL + wfe.DirectoryPath
	f.caFile = filepath.Join(t.TempDir(), "pebble-wfe.pem")
	if err := os.WriteFile(f.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tenant is a namespace's zone-writer tenant granted the TXT at names.
func tenant(namespace string, names ...string) zonewriter.Tenant {
	g := map[zonewriter.Grant]int32{}
	for _, n := range names {
		g[zonewriter.Grant{Name: n, Type: "TXT"}] = 0
	}
	return zonewriter.Tenant{Namespace: namespace, Scope: "prod", Owner: zonewriter.OwnerComment(cluster, namespace), Grants: g}
}

// storedAccount is one entry of the JSON cert-manager's acmeDNS solver and
// lego's acme-dns provider read (goacmedns's Account).
type storedAccount struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	Subdomain  string `json:"subdomain"`
	Fulldomain string `json:"fulldomain"`
	ServerURL  string `json:"server_url"`
}

// legoUser is the ACME account lego registers with pebble.
type legoUser struct {
	key     crypto.Signer
	account *acme.ExtendedAccount
}

func (u *legoUser) GetEmail() string                       { return "admin@example.com" }
func (u *legoUser) GetRegistration() *acme.ExtendedAccount { return u.account }
func (u *legoUser) GetPrivateKey() crypto.Signer           { return u.key }

// lego obtains a certificate for domains from pebble with lego's acme-dns
// provider, configured as `lego --dns acme-dns` configures it: from
// ACME_DNS_API_BASE and ACME_DNS_STORAGE_PATH, the storage file holding
// accounts keyed by domain, as the credentials Secret's acmedns.json does.
// lego asks the simulator's DNS (its recursive resolver here) whether the
// TXT is there, as `--dns.resolvers` does; the check of every authoritative
// server is off, as `--dns.propagation.disable-ans`, because they would be
// asked on port 53.
func (f *fixture) lego(t *testing.T, accounts map[string]storedAccount, domains ...string) (*x509.Certificate, error) {
	t.Helper()
	dir := t.TempDir()
	storage := filepath.Join(dir, "acmedns.json")
	b, err := json.Marshal(accounts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(storage, b, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ACME_DNS_API_BASE", f.frontURL)
	t.Setenv("ACME_DNS_STORAGE_PATH", storage)
	p, err := legoacmedns.NewDNSProvider()
	if err != nil {
		t.Fatal(err)
	}
	return f.obtain(t, p, domains...)
}

// obtain obtains a certificate for domains from pebble with a lego DNS
// provider, as lego's run command does.
func (f *fixture) obtain(t *testing.T, p challenge.Provider, domains ...string) (*x509.Certificate, error) {
	t.Helper()
	t.Setenv("LEGO_CA_CERTIFICATES", f.caFile)
	legoLog := &syncBuffer{}
	legolog.SetDefault(slog.New(slog.NewTextHandler(legoLog, nil)))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("lego's log:\n%s", legoLog.String())
		}
	})

	key, err := certcrypto.GeneratePrivateKey(certcrypto.EC256)
	if err != nil {
		t.Fatal(err)
	}
	u := &legoUser{key: key}
	cfg := lego.NewConfig(u)
	cfg.CADirURL = f.acmeURL
	client, err := lego.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if u.account, err = client.Registration.Register(ctx, registration.RegisterOptions{TermsOfServiceAgreed: true}); err != nil {
		t.Fatalf("lego could not register with pebble: %v", err)
	}
	opts := dns01.NewOptions()
	opts.RecursiveNameservers = []string{f.dnsAddr}
	dns01.SetDefaultClient(dns01.NewClient(opts))
	t.Cleanup(func() { dns01.SetDefaultClient(dns01.NewClient(nil)) })
	if err := client.Challenge.SetDNS01Provider(p, dns01.DisableAuthoritativeNssPropagationRequirement()); err != nil {
		t.Fatal(err)
	}
	res, err := client.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: domains, KeyType: certcrypto.EC256})
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(res.Certificate)
	if block == nil {
		t.Fatalf("lego's certificate holds no PEM:\n%s", res.Certificate)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c, nil
}

// txt is the TXT values at name in the simulator.
func (f *fixture) txt(name string) []string {
	var out []string
	for _, r := range f.sim.Records(zone) {
		if r.Type == "TXT" && r.Name == name {
			out = append(out, r.Content)
		}
	}
	return out
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
