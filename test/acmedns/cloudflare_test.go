package acmedns

import (
	"strings"
	"testing"

	legocloudflare "github.com/go-acme/lego/v5/providers/dns/cloudflare"

	"github.com/scopedns/scopedns/internal/cfapi"
)

// cfToken is a scopedns token as frontcreds draws them: 40 characters of
// Cloudflare's token alphabet.
const cfToken = "Zq3vN8wLk2Jd0Xs7Tb5Rm9Yc1Hf4Ga6Ep8Uo2Ii0"

// token is team-a's Cloudflare API token, granted the TXT at names.
func (f *fixture) token(names ...string) cfapi.Token {
	return cfapi.Token{
		ID: "0123456789abcdef0123456789abcdef", Values: []string{cfToken},
		Tenant: tenant("team-a", names...),
		Zones:  []cfapi.Zone{{ID: f.zoneID, Name: zone}},
	}
}

// legoCloudflare is lego's Cloudflare DNS provider configured as `lego
// --dns cloudflare` configures it, pointed at scopedns's front door by
// CLOUDFLARE_BASE_URL (lego ≥ 4.23).
func (f *fixture) legoCloudflare(t *testing.T, token string) *legocloudflare.DNSProvider {
	t.Helper()
	t.Setenv("CLOUDFLARE_DNS_API_TOKEN", token)
	t.Setenv("CLOUDFLARE_BASE_URL", f.frontURL+"/client/v4")
	p, err := legocloudflare.NewDNSProvider()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLegoCloudflareObtainsACertificate: lego's Cloudflare provider finds
// the zone, creates both challenge records (apex and wildcard share the TXT
// name) through the Cloudflare-compatible front door, pebble validates them
// through the simulator's DNS, and lego's cleanup deletes both by ID.
func TestLegoCloudflareObtainsACertificate(t *testing.T) {
	f := newFixture(t)
	f.tokens.Replace([]cfapi.Token{f.token(name)})
	c, err := f.obtain(t, f.legoCloudflare(t, cfToken), domain, "*."+domain)
	if err != nil {
		t.Fatalf("lego failed: %v\naudit:\n%s", err, f.logs.String())
	}
	t.Logf("issued certificate: subject %q, DNS names %v, issuer %q", c.Subject.String(), c.DNSNames, c.Issuer.String())
	if !sameSet(c.DNSNames, []string{domain, "*." + domain}) {
		t.Fatalf("certificate names %v, want %s and its wildcard", c.DNSNames, domain)
	}
	if got := f.txt(name); len(got) != 0 {
		t.Fatalf("TXT values at %s after lego's cleanup: %v", name, got)
	}
	if strings.Contains(f.logs.String(), cfToken) {
		t.Fatalf("the token is in the audit:\n%s", f.logs.String())
	}
}

func TestLegoCloudflareIsRefused(t *testing.T) {
	cases := map[string]struct {
		token  string
		grants []string
		want   string // in lego's error
	}{
		"a token of another namespace's name writes nothing": {
			token: cfToken, grants: []string{"_acme-challenge.web.team-b.example.com"}, want: "not granted",
		},
		"a revoked token is unauthenticated": {
			token: strings.Repeat("R", 40), grants: []string{name}, want: "10000",
		},
	}
	for tc, c := range cases {
		t.Run(tc, func(t *testing.T) {
			f := newFixture(t)
			f.tokens.Replace([]cfapi.Token{f.token(c.grants...)})
			_, err := f.obtain(t, f.legoCloudflare(t, c.token), domain)
			if err == nil {
				t.Fatal("lego obtained a certificate")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("lego's error lacks %q: %v", c.want, err)
			}
			if got := f.txt(name); len(got) != 0 {
				t.Fatalf("TXT written at %s: %v", name, got)
			}
		})
	}
}
