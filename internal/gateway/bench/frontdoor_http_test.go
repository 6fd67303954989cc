package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/scopedns/scopedns/internal/acmedns"
	"github.com/scopedns/scopedns/internal/dyndns"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// TestFrontDoorLoadDynDNS is TestFrontDoorLoad through the dyndns2 front
// door: every tenant's router sets a new address on its A name, waits, and
// again, over HTTP to the handler the manager serves, through the zone writer
// to the simulator at Cloudflare's rate. Each update replaces the address (a
// delete and a create in one batch).
func TestFrontDoorLoadDynDNS(t *testing.T) {
	tenants, run, pause := benchSize(t)

	p, zoneID, counter := startSim(t)
	zw := benchWriter(t, p)
	users := make([]dyndns.User, tenants)
	for i := range users {
		ns, host := fmt.Sprintf("t%d", i), hostName(i)
		users[i] = dyndns.User{
			Username: ns + ".prod", Passwords: []string{"password-" + ns},
			Hosts: map[string]dyndns.Host{host: {Zone: zone, ZoneID: zoneID}},
			Tenant: zonewriter.Tenant{Namespace: ns, Scope: "prod", Owner: zonewriter.OwnerComment("bench", ns),
				Grants: map[zonewriter.Grant]int32{{Name: host, Type: "A"}: 0}},
		}
	}
	h, err := dyndns.New(dyndns.Options{
		Users: dyndns.NewUserStore(users...), Writer: zw, Rate: rate.Inf,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	res := httpLoad(tenants, run, pause, func(i, n int) *http.Request {
		ip := fmt.Sprintf("198.51.%d.%d", n%200, i%250+1)
		req, _ := http.NewRequest(http.MethodGet, hs.URL+"/nic/update?hostname="+hostName(i)+"&myip="+ip, nil)
		req.SetBasicAuth(users[i].Username, users[i].Passwords[0])
		return req
	}, func(answer string) bool { return strings.HasPrefix(answer, "good ") })
	reportHTTP(t, fmt.Sprintf("%d tenants, each setting a new address on its A name (dyndns2 over HTTP), then waiting %s, for %s", tenants, pause, run),
		"dyndns2 (simulator, 4 req/s)", res, counter)
}

// TestFrontDoorLoadACMEDNS is TestFrontDoorLoad through the acme-dns front
// door: every tenant's ACME client posts a new challenge value for its
// _acme-challenge name, waits, and again (acme-dns clients never delete:
// each update adds a value and drops the oldest beyond two).
func TestFrontDoorLoadACMEDNS(t *testing.T) {
	tenants, run, pause := benchSize(t)

	p, zoneID, counter := startSim(t)
	zw := benchWriter(t, p)
	accounts := make([]acmedns.Account, tenants)
	for i := range accounts {
		ns, name := fmt.Sprintf("t%d", i), strings.TrimSuffix(tenantName(i), ".")
		accounts[i] = acmedns.Account{
			Username: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Passwords: []string{fmt.Sprintf("%040d", i)},
			Subdomain: fmt.Sprintf("00000000-0000-4000-9000-%012d", i), Name: name, Zone: zone, ZoneID: zoneID,
			Tenant: zonewriter.Tenant{Namespace: ns, Scope: "prod", Owner: zonewriter.OwnerComment("bench", ns),
				Grants: map[zonewriter.Grant]int32{{Name: name, Type: "TXT"}: 0}},
		}
	}
	h, err := acmedns.New(acmedns.Options{Accounts: acmedns.NewAccountStore(accounts...), Writer: zw, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	res := httpLoad(tenants, run, pause, func(i, n int) *http.Request {
		// A DNS-01 value: 43 characters of base64url.
		txt := fmt.Sprintf("%043d", i*100000+n)
		body := fmt.Sprintf(`{"subdomain":%q,"txt":%q}`, accounts[i].Subdomain, txt)
		req, _ := http.NewRequest(http.MethodPost, hs.URL+"/update", strings.NewReader(body))
		req.Header.Set("X-Api-User", accounts[i].Username)
		req.Header.Set("X-Api-Key", accounts[i].Passwords[0])
		return req
	}, func(answer string) bool { return strings.HasPrefix(answer, `{"txt"`) })
	reportHTTP(t, fmt.Sprintf("%d tenants, each posting a new challenge value (acme-dns over HTTP), then waiting %s, for %s", tenants, pause, run),
		"acme-dns (simulator, 4 req/s)", res, counter)
}

// benchWriter is the zone writer the manager builds, with the front doors'
// real budget, over p.
func benchWriter(t *testing.T, p zonewriter.Provider) *zonewriter.Writer {
	t.Helper()
	zw, err := zonewriter.New(zonewriter.Options{
		Providers:     zonewriter.ProvidersFunc(func(context.Context, string) (zonewriter.Provider, error) { return p, nil }),
		RequestBudget: cloudflare.DefaultRateLimit / 2, BudgetWindow: cloudflare.DefaultRateWindow, PaceBurst: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return zw
}

// httpLoad has every tenant send request(i, n) until the run ends, waiting
// pause between its requests; an answer ok does not accept counts as failed.
func httpLoad(tenants int, run, pause time.Duration, request func(i, n int) *http.Request, ok func(answer string) bool) loadResult {
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: tenants}}
	return runLoad(tenants, run, pause, func(i int) func(n int, update func(func() string)) {
		return func(n int, update func(func() string)) {
			update(func() string {
				answer, err := get(client, request(i, n))
				switch {
				case err != nil:
					return "error"
				case !ok(answer):
					return strings.Fields(answer + " ?")[0]
				}
				return ""
			})
		}
	})
}

func reportHTTP(t *testing.T, title, door string, res loadResult, counter *requestCounter) {
	t.Helper()
	sent, tooMany := counter.counts()
	var b strings.Builder
	fmt.Fprintf(&b, "\n%s\n", title)
	fmt.Fprintf(&b, "%-40s %10s %8s %10s %10s %12s %14s %6s\n", "front door", "updates/s", "failed", "p50", "p99", "prov. req.", "req./update", "429s")
	perUpdate := 0.0
	if res.ok > 0 {
		perUpdate = float64(sent) / float64(res.ok)
	}
	fmt.Fprintf(&b, "%-40s %10.1f %8d %10s %10s %12d %14.4f %6d\n", door, res.rate, res.failed,
		res.p50.Round(time.Millisecond), res.p99.Round(time.Millisecond), sent, perUpdate, tooMany)
	if res.failed > 0 {
		fmt.Fprintf(&b, "    failed: %v\n", res.why)
	}
	t.Log(b.String())
	if tooMany > 0 {
		t.Errorf("the simulator answered %d requests with 429", tooMany)
	}
}

func hostName(i int) string { return fmt.Sprintf("home.t%d.apps.example.com", i) }

func get(c *http.Client, req *http.Request) (string, error) {
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return strings.TrimSpace(string(body)), err
}
