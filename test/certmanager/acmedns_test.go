package certmanager

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/acmedns"
	"github.com/miekg/dns"

	scopeacmedns "github.com/scopedns/scopedns/internal/acmedns"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// TestCertManagerACMEDNSSolver: cert-manager's acmeDNS solver, given the
// credentials Secret's acmedns.json, writes the challenge through the
// acme-dns front door and the zone writer into the simulator, and its DNS
// serves it; the wildcard's challenge at the same name keeps the first (two
// values are kept). A wrong password is refused with nothing written.
func TestCertManagerACMEDNSSolver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := newFixture(t)
	const (
		domain   = "web.example.com"
		fqdn     = "_acme-challenge.web.example.com."
		name     = "_acme-challenge.web.example.com"
		user     = "7d1a3c52-88b4-4c39-9a61-0c2f5e8d4b17"
		sub      = "c0ffee00-1234-4abc-8def-0123456789ab"
		password = "k3Jd9sLq0Wm2Xv7Zr5Tn8Yb1Hc4Fg6Ae0Pu3Oi9L"
		wildcard = "fX95Mt1SEUnA5rJRLHFHtfJ1b_t-VsAqHP2V0hjjC8s"
	)
	p := f.master(t)
	w, err := zonewriter.New(zonewriter.Options{
		Providers: zonewriter.ProvidersFunc(func(context.Context, string) (zonewriter.Provider, error) { return p, nil }),
	})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	accounts := scopeacmedns.NewAccountStore(scopeacmedns.Account{
		Username: user, Passwords: []string{password}, Subdomain: sub, Name: name,
		Zone: "example.com", ZoneID: f.sim.ZoneID("example.com"),
		Tenant: zonewriter.Tenant{Namespace: tenantNamespace, Scope: scopeName,
			Owner:  zonewriter.OwnerComment(gatewayCluster, tenantNamespace),
			Grants: map[zonewriter.Grant]int32{{Name: name, Type: "TXT"}: 0}},
	})
	h, err := scopeacmedns.New(scopeacmedns.Options{Accounts: accounts, Writer: w, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	t.Cleanup(front.Close)

	// acmedns.json as the operator writes it into the credentials Secret.
	secretJSON := func(key string) []byte {
		b, err := json.Marshal(map[string]map[string]string{domain: {
			"username": user, "password": key, "subdomain": sub, "fulldomain": name, "server_url": front.URL,
		}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	wrong, err := acmedns.NewDNSProviderHostBytes(front.URL, secretJSON(strings.Repeat("x", 40)), []string{f.dnsAddr})
	if err != nil {
		t.Fatal(err)
	}
	if err := wrong.Present(ctx, domain, fqdn, challengeValue); err == nil || !strings.Contains(err.Error(), `{"error": "forbidden"}`) {
		t.Fatalf("Present with a wrong password = %v, want forbidden", err)
	}
	if recs := f.txtRecords("example.com", name); len(recs) != 0 {
		t.Fatalf("a wrong password wrote %+v", recs)
	}

	solver, err := acmedns.NewDNSProviderHostBytes(front.URL, secretJSON(password), []string{f.dnsAddr})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{challengeValue, wildcard} {
		if err := solver.Present(ctx, domain, fqdn, v); err != nil {
			t.Fatalf("Present(%s): %v", v, err)
		}
	}
	for _, network := range []string{"udp", "tcp"} {
		rcode, txts := f.queryTXT(t, network, name)
		slices.Sort(txts)
		if want := []string{challengeValue, wildcard}; rcode != dns.RcodeSuccess || !slices.Equal(txts, sortedCopy(want)) {
			t.Errorf("DNS over %s: %s %q, want NOERROR %q", network, dns.RcodeToString[rcode], txts, want)
		}
	}
	if err := solver.CleanUp(ctx, domain, fqdn, challengeValue); err != nil {
		t.Fatalf("CleanUp: %v", err)
	}
	if strings.Contains(string(logs.Bytes()), password) {
		t.Fatalf("the password is in the audit:\n%s", logs.Bytes())
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
