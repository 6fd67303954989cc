package acmedns

import (
	"strings"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/acmedns"
)

const (
	domain = "web.team-a.example.com"
	name   = "_acme-challenge." + domain
	user   = "7d1a3c52-88b4-4c39-9a61-0c2f5e8d4b17"
	sub    = "c0ffee00-1234-4abc-8def-0123456789ab"
	// Passwords as the operator draws them: 40 characters, acme-dns's length.
	password = "k3Jd9sLq0Wm2Xv7Zr5Tn8Yb1Hc4Fg6Ae0Pu3Oi9L"
)

// account is team-a's acme-dns account for name, the tenant granted grants.
func (f *fixture) account(grants ...string) acmedns.Account {
	return acmedns.Account{
		Username: user, Passwords: []string{password}, Subdomain: sub, Name: name,
		Zone: zone, ZoneID: f.zoneID, Tenant: tenant("team-a", grants...),
	}
}

// stored is the credentials Secret's acmedns.json for the account, with key
// as the password.
func (f *fixture) stored(key string) map[string]storedAccount {
	return map[string]storedAccount{domain: {
		Username: user, Password: key, Subdomain: sub, Fulldomain: name, ServerURL: f.frontURL,
	}}
}

// TestLegoObtainsACertificate: lego's acme-dns provider writes both
// challenges of example's name and its wildcard (the same TXT name, at
// once: the keep-two rule is what lets both validate) through the front
// door, pebble validates them through the simulator's DNS, and lego saves a
// certificate for both names. Fifteen minutes later the front door removes
// both values itself (lego's cleanup does nothing).
func TestLegoObtainsACertificate(t *testing.T) {
	f := newFixture(t)
	f.accounts.Replace([]acmedns.Account{f.account(name)})
	c, err := f.lego(t, f.stored(password), domain, "*."+domain)
	if err != nil {
		t.Fatalf("lego failed: %v\naudit:\n%s", err, f.logs.String())
	}
	t.Logf("issued certificate: subject %q, DNS names %v, issuer %q", c.Subject.String(), c.DNSNames, c.Issuer.String())
	if !sameSet(c.DNSNames, []string{domain, "*." + domain}) {
		t.Fatalf("certificate names %v, want %s and its wildcard", c.DNSNames, domain)
	}
	if got := f.txt(name); len(got) != 2 {
		t.Fatalf("TXT values at %s: %v, want the two challenges", name, got)
	}
	f.skew.Store(int64(15 * time.Minute))
	f.handler.Sweep(t.Context())
	if got := f.txt(name); len(got) != 0 || f.handler.Pending() != 0 {
		t.Fatalf("TXT values at %s after their TTL: %v (%d pending)", name, got, f.handler.Pending())
	}
}

func TestLegoIsRefused(t *testing.T) {
	cases := map[string]struct {
		key    string
		grants []string
		want   string // in lego's output
	}{
		"a wrong password is forbidden and nothing is written": {
			key: strings.Repeat("x", 40), grants: []string{name}, want: `{"error": "forbidden"}`,
		},
		"an account whose name is not granted writes nothing": {
			key: password, grants: []string{"_acme-challenge.other.team-a.example.com"}, want: `{"error": "forbidden"}`,
		},
	}
	for tc, c := range cases {
		t.Run(tc, func(t *testing.T) {
			f := newFixture(t)
			f.accounts.Replace([]acmedns.Account{f.account(c.grants...)})
			_, err := f.lego(t, f.stored(c.key), domain)
			if err == nil {
				t.Fatal("lego obtained a certificate")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("lego's error lacks %s: %v", c.want, err)
			}
			if got := f.txt(name); len(got) != 0 {
				t.Fatalf("TXT written at %s: %v", name, got)
			}
			if strings.Contains(f.logs.String(), password) || strings.Contains(f.logs.String(), c.key) {
				t.Fatalf("a password is in the audit:\n%s", f.logs.String())
			}
		})
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, s := range a {
		m[s]++
	}
	for _, s := range b {
		m[s]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}
