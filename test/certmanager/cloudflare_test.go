package certmanager

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	cmcloudflare "github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/cloudflare"
	cmutil "github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"

	"github.com/scopedns/scopedns/internal/cloudflare/sim"
)

// The key authorization digest cert-manager would put in the TXT record.
const challengeValue = "LHDhK3oGRvkiefQnx7OOczTY5Tic_xZ6HcMOc_gmtoM"

func TestCertManagerCloudflareSolver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := newFixture(t)
	comID, netID := f.sim.ZoneID("example.com"), f.sim.ZoneID("example.net")

	tok := f.mint(ctx, t, "example.com")
	if !slices.Equal(tok.ZoneIDs, []string{comID}) {
		t.Fatalf("minted token's zones = %v, want only example.com (%s)", tok.ZoneIDs, comID)
	}
	// The solver exactly as cert-manager builds it for an Issuer with
	// cloudflare.apiTokenSecretRef: no e-mail, no API key, the token.
	solver, err := cmcloudflare.NewDNSProviderCredentials("", "", tok.Value.Reveal(), []string{f.dnsAddr}, "cert-manager/scopedns-test")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("the minted token presents and cleans up a challenge in its zone", func(t *testing.T) {
		const domain, fqdn, name = "web.example.com", "_acme-challenge.web.example.com.", "_acme-challenge.web.example.com"

		if err := solver.Present(ctx, domain, fqdn, challengeValue); err != nil {
			t.Fatalf("Present: %v", err)
		}
		// cert-manager presents again when a challenge is retried; it must
		// find its record and not add a second one.
		if err := solver.Present(ctx, domain, fqdn, challengeValue); err != nil {
			t.Fatalf("second Present: %v", err)
		}
		recs := f.txtRecords("example.com", name)
		if len(recs) != 1 || recs[0].Content != challengeValue || recs[0].ZoneID != comID {
			t.Fatalf("example.com TXT %s after Present = %+v, want one record with %q", name, recs, challengeValue)
		}
		if recs[0].TTL != 120 {
			t.Errorf("TTL = %d, want the 120 cert-manager asks for", recs[0].TTL)
		}

		for _, network := range []string{"udp", "tcp"} {
			rcode, txts := f.queryTXT(t, network, name)
			if rcode != dns.RcodeSuccess || !slices.Equal(txts, []string{challengeValue}) {
				t.Errorf("DNS over %s after Present: %s %q, want NOERROR [%q]", network, dns.RcodeToString[rcode], txts, challengeValue)
			}
		}
		// cert-manager's own view through the simulator's DNS: the zone
		// apex by SOA, and the self check it runs before telling the ACME
		// server the challenge is ready.
		zone, err := cmutil.FindZoneByFqdn(ctx, fqdn, []string{f.dnsAddr})
		if err != nil || zone != "example.com." {
			t.Errorf("FindZoneByFqdn = %q, %v; want example.com.", zone, err)
		}
		ok, err := cmutil.PreCheckDNS(ctx, fqdn, challengeValue, []string{f.dnsAddr}, false)
		if err != nil || !ok {
			t.Errorf("PreCheckDNS after Present = %v, %v; want true", ok, err)
		}

		if err := solver.CleanUp(ctx, domain, fqdn, challengeValue); err != nil {
			t.Fatalf("CleanUp: %v", err)
		}
		if recs := f.txtRecords("example.com", name); len(recs) != 0 {
			t.Errorf("example.com TXT %s after CleanUp = %+v, want none", name, recs)
		}
		for _, network := range []string{"udp", "tcp"} {
			rcode, txts := f.queryTXT(t, network, name)
			if rcode != dns.RcodeNameError || len(txts) != 0 {
				t.Errorf("DNS over %s after CleanUp: %s %q, want NXDOMAIN and no TXT", network, dns.RcodeToString[rcode], txts)
			}
		}
		ok, err = cmutil.PreCheckDNS(ctx, fqdn, challengeValue, []string{f.dnsAddr}, false)
		if err != nil || ok {
			t.Errorf("PreCheckDNS after CleanUp = %v, %v; want false", ok, err)
		}
		// Cleaning up what is gone is not an error.
		if err := solver.CleanUp(ctx, domain, fqdn, challengeValue); err != nil {
			t.Errorf("second CleanUp: %v", err)
		}
	})

	t.Run("the minted token cannot present a challenge in a zone it was not given", func(t *testing.T) {
		const domain, fqdn, name = "web.example.net", "_acme-challenge.web.example.net.", "_acme-challenge.web.example.net"
		before := f.sim.Records("example.net")
		creates := f.sim.Requests()["dns_records.create"]

		err := solver.Present(ctx, domain, fqdn, challengeValue)
		if err == nil {
			t.Fatal("Present in example.net succeeded with a token for example.com only")
		}
		// The token cannot see example.net, so the solver finds no zone.
		if !strings.Contains(err.Error(), "Found no Zones for domain "+fqdn) {
			t.Errorf("Present error = %v, want cert-manager's \"Found no Zones\"", err)
		}
		if strings.Contains(err.Error(), tok.Value.Reveal()) {
			t.Error("the error shows the token value")
		}

		if after := f.sim.Records("example.net"); !slices.EqualFunc(before, after, func(a, b sim.Record) bool { return a.ID == b.ID && a.ModifiedOn.Equal(b.ModifiedOn) }) {
			t.Errorf("example.net records changed: before %+v, after %+v", before, after)
		}
		if recs := f.txtRecords("example.net", name); len(recs) != 0 {
			t.Errorf("example.net TXT %s = %+v, want none", name, recs)
		}
		if n := f.sim.Requests()["dns_records.create"]; n != creates {
			t.Errorf("the simulator saw %d record creates, want none", n-creates)
		}
		for _, network := range []string{"udp", "tcp"} {
			if rcode, txts := f.queryTXT(t, network, name); len(txts) != 0 {
				t.Errorf("DNS over %s: %s %q, want no TXT", network, dns.RcodeToString[rcode], txts)
			}
		}
	})

	t.Run("the minted token is refused when it writes to the other zone by ID", func(t *testing.T) {
		// What the solver would send had it found example.net's ID some
		// other way: Cloudflare answers 403 with code 10000.
		status, codes := apiCall(ctx, t, http.MethodPost, "/zones/"+netID+"/dns_records", tok.Value.Reveal(),
			`{"type":"TXT","name":"_acme-challenge.web.example.net","content":"`+challengeValue+`","ttl":120}`)
		if status != http.StatusForbidden || !slices.Contains(codes, 10000) {
			t.Errorf("POST example.net record = %d %v, want 403 [10000]", status, codes)
		}
		if recs := f.txtRecords("example.net", "_acme-challenge.web.example.net"); len(recs) != 0 {
			t.Errorf("example.net TXT = %+v, want none", recs)
		}
		// The same request in the token's own zone works, so the refusal
		// above is the zone limit and not a malformed request.
		status, codes = apiCall(ctx, t, http.MethodPost, "/zones/"+comID+"/dns_records", tok.Value.Reveal(),
			`{"type":"TXT","name":"_acme-challenge.web.example.com","content":"`+challengeValue+`","ttl":120}`)
		if status != http.StatusOK {
			t.Errorf("POST example.com record = %d %v, want 200", status, codes)
		}
	})
}
