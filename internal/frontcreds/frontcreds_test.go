package frontcreds

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/scopedns/scopedns/internal/zonewriter"
)

var teamA = Identity{Cluster: "c1", Scope: "prod", Namespace: "team-a"}

func res(name, typ string) Reservation {
	return Reservation{Name: name, Type: typ, Zone: "example.com", ZoneID: "z1", MaxTTL: 300}
}

func TestACMEDNSAccounts(t *testing.T) {
	for name, tc := range map[string]struct {
		secrets []string
		rs      []Reservation
		want    []string // account names
	}{
		"should make one account per reserved _acme-challenge TXT name": {
			[]string{"s1"}, []Reservation{res("_acme-challenge.web.team-a.example.com", "TXT"), res("_acme-challenge.api.team-a.example.com", "TXT")},
			[]string{"_acme-challenge.api.team-a.example.com", "_acme-challenge.web.team-a.example.com"}},
		"should make none for a TXT name outside _acme-challenge": {
			[]string{"s1"}, []Reservation{res("web.team-a.example.com", "TXT")}, nil},
		"should make none for another type at an _acme-challenge name": {
			[]string{"s1"}, []Reservation{res("_acme-challenge.web.team-a.example.com", "CNAME")}, nil},
		"should make none for the bare _acme-challenge prefix": {
			[]string{"s1"}, []Reservation{res("_acme-challenge.", "TXT")}, nil},
		"should make none without a TSIG secret to derive passwords from": {
			nil, []Reservation{res("_acme-challenge.web.team-a.example.com", "TXT")}, nil},
		"should normalise the name and make one account of two spellings": {
			[]string{"s1"}, []Reservation{res("_ACME-challenge.Web.team-a.example.com.", "txt"), res("_acme-challenge.web.team-a.example.com", "TXT")},
			[]string{"_acme-challenge.web.team-a.example.com"}},
	} {
		t.Run(name, func(t *testing.T) {
			got := ACMEDNSAccounts(teamA, tc.secrets, tc.rs)
			if len(got) != len(tc.want) {
				t.Fatalf("%d accounts, want %d", len(got), len(tc.want))
			}
			for i, a := range got {
				if a.Name != tc.want[i] {
					t.Fatalf("account %d is for %q, want %q", i, a.Name, tc.want[i])
				}
				wantGrants := map[zonewriter.Grant]int32{{Name: a.Name, Type: "TXT"}: 300}
				if len(a.Tenant.Grants) != 1 || a.Tenant.Grants[zonewriter.Grant{Name: a.Name, Type: "TXT"}] != 300 {
					t.Fatalf("grants = %v, want only %v", a.Tenant.Grants, wantGrants)
				}
				if a.Tenant.Owner != zonewriter.OwnerComment("c1", "team-a") || a.Tenant.Namespace != "team-a" || a.Tenant.Scope != "prod" {
					t.Fatalf("tenant = %+v", a.Tenant)
				}
				if a.Zone != "example.com" || a.ZoneID != "z1" || len(a.Passwords) != len(tc.secrets) {
					t.Fatalf("zone %q/%q, %d passwords", a.Zone, a.ZoneID, len(a.Passwords))
				}
			}
		})
	}
}

func TestDerivedIdentifiers(t *testing.T) {
	name := "_acme-challenge.web.team-a.example.com"
	base := ACMEDNSAccounts(teamA, []string{"s1"}, []Reservation{res(name, "TXT")})[0]
	for title, other := range map[string]struct {
		id   Identity
		name string
	}{
		"should give another name its own username and subdomain":      {teamA, "_acme-challenge.api.team-a.example.com"},
		"should give another namespace its own username and subdomain": {Identity{"c1", "prod", "team-b"}, name},
		"should give another scope its own username and subdomain":     {Identity{"c1", "staging", "team-a"}, name},
		"should give another cluster its own username and subdomain":   {Identity{"c2", "prod", "team-a"}, name},
	} {
		t.Run(title, func(t *testing.T) {
			o := ACMEDNSAccounts(other.id, []string{"s1"}, []Reservation{res(other.name, "TXT")})[0]
			if o.Username == base.Username || o.Subdomain == base.Subdomain {
				t.Fatalf("username or subdomain shared with %s under %+v", name, teamA)
			}
		})
	}
	t.Run("should be UUIDs, the username apart from the subdomain, the same on every call", func(t *testing.T) {
		again := ACMEDNSAccounts(teamA, []string{"s1"}, []Reservation{res(name, "TXT")})[0]
		for _, s := range []string{base.Username, base.Subdomain} {
			if u, err := uuid.Parse(s); err != nil || u.Version() != 8 || u.String() != s {
				t.Fatalf("%q is not a lower-case version 8 UUID: %v", s, err)
			}
		}
		if base.Username == base.Subdomain || again.Username != base.Username || again.Subdomain != base.Subdomain || again.Passwords[0] != base.Passwords[0] {
			t.Fatal("identifiers are not stable, or the username equals the subdomain")
		}
	})
}

func TestPasswords(t *testing.T) {
	name := "_acme-challenge.web.team-a.example.com"
	acct := func(secrets ...string) []string {
		return ACMEDNSAccounts(teamA, secrets, []Reservation{res(name, "TXT")})[0].Passwords
	}
	user := func(secrets ...string) []string {
		u, _ := DynDNSUser(teamA, secrets, []Reservation{res("home.team-a.example.com", "A")})
		return u.Passwords
	}
	cur, prev := "Y3VycmVudC10c2lnLXNlY3JldA==", "cHJldmlvdXMtdHNpZy1zZWNyZXQ="
	for title, check := range map[string]func(t *testing.T){
		"should give [current, previous] passwords from [current, previous] TSIG secrets": func(t *testing.T) {
			both := acct(cur, prev)
			if len(both) != 2 || both[0] != acct(cur)[0] || both[1] != acct(prev)[0] || both[0] == both[1] {
				t.Fatal("the passwords do not follow the TSIG secrets one for one")
			}
		},
		"should be 40 URL-safe characters, like acme-dns's own keys": func(t *testing.T) {
			for _, p := range append(acct(cur), user(cur)...) {
				if len(p) != PasswordLength || strings.Trim(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
					t.Fatalf("password of %d characters outside base64url", len(p))
				}
			}
		},
		"should keep the acme-dns and dyndns2 passwords of one secret apart": func(t *testing.T) {
			if acct(cur)[0] == user(cur)[0] {
				t.Fatal("one password opens both front doors")
			}
		},
		"should not carry the TSIG secret or any part of it": func(t *testing.T) {
			for _, p := range append(acct(cur), user(cur)...) {
				if strings.Contains(p, strings.TrimRight(cur, "=")[:8]) || strings.Contains(cur, p[:8]) {
					t.Fatal("a password shares characters in a row with the TSIG secret")
				}
			}
		},
		// A change of the derivation changes every delivered password at once:
		// it must be a deliberate rotation, not an accident.
		"should derive the password it always derived": func(t *testing.T) {
			if acct(cur)[0] != goldenACMEDNSPassword {
				t.Fatal("the acme-dns password derivation changed (value not printed)")
			}
		},
	} {
		t.Run(title, check)
	}
}

// goldenACMEDNSPassword was computed apart from this code: base64url(HMAC-SHA256(secret,
// "acme-dns\x00"+name))[:40] in Python.
const goldenACMEDNSPassword = "XBgVcwKrBZhks1Xv7OOnU3yqFnsmUeAJr1KbGofU"

func TestDynDNSUser(t *testing.T) {
	for name, tc := range map[string]struct {
		secrets []string
		rs      []Reservation
		hosts   []string
		ok      bool
	}{
		"should let the user update the reserved A and AAAA names": {
			[]string{"s1"}, []Reservation{res("home.team-a.example.com", "A"), res("home6.team-a.example.com", "aaaa")},
			[]string{"home.team-a.example.com", "home6.team-a.example.com"}, true},
		"should leave out every other type": {
			[]string{"s1"}, []Reservation{res("home.team-a.example.com", "A"), res("_acme-challenge.team-a.example.com", "TXT"), res("alias.team-a.example.com", "CNAME")},
			[]string{"home.team-a.example.com"}, true},
		"should make no user that could update nothing": {
			[]string{"s1"}, []Reservation{res("_acme-challenge.team-a.example.com", "TXT")}, nil, false},
		"should make no user without a TSIG secret": {
			nil, []Reservation{res("home.team-a.example.com", "A")}, nil, false},
	} {
		t.Run(name, func(t *testing.T) {
			u, ok := DynDNSUser(teamA, tc.secrets, tc.rs)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if u.Username != "team-a.prod" || len(u.Passwords) != len(tc.secrets) || u.Tenant.Owner != zonewriter.OwnerComment("c1", "team-a") {
				t.Fatalf("user %q with %d passwords, owner %q", u.Username, len(u.Passwords), u.Tenant.Owner)
			}
			if len(u.Hosts) != len(tc.hosts) || len(u.Tenant.Grants) != len(tc.hosts) {
				t.Fatalf("hosts %v, grants %v, want %v", u.Hosts, u.Tenant.Grants, tc.hosts)
			}
			for _, h := range tc.hosts {
				if u.Hosts[h].ZoneID != "z1" {
					t.Fatalf("host %s missing or without its zone: %v", h, u.Hosts)
				}
			}
			for g := range u.Tenant.Grants {
				if g.Type != "A" && g.Type != "AAAA" {
					t.Fatalf("grant %v beyond A and AAAA", g)
				}
			}
		})
	}
}

func TestACMEDNSJSON(t *testing.T) {
	accounts := ACMEDNSAccounts(teamA, []string{"cur", "prev"}, []Reservation{
		res("_acme-challenge.team-a.example.com", "TXT"), res("_acme-challenge.web.team-a.example.com", "TXT")})
	b, err := ACMEDNSJSON(accounts, "https://dns-gateway.example.net")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]ACMEDNSEntry
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for title, check := range map[string]func() bool{
		"should key each account by the domain it proves, without _acme-challenge.": func() bool {
			_, apex := got["team-a.example.com"]
			_, web := got["web.team-a.example.com"]
			return len(got) == 2 && apex && web
		},
		"should point fulldomain at the _acme-challenge name itself": func() bool {
			return got["web.team-a.example.com"].FullDomain == "_acme-challenge.web.team-a.example.com"
		},
		"should hold the current password only": func() bool {
			return got["web.team-a.example.com"].Password == accounts[1].Passwords[0]
		},
		"should carry the account's username, subdomain and the server URL": func() bool {
			e := got["web.team-a.example.com"]
			return e.Username == accounts[1].Username && e.Subdomain == accounts[1].Subdomain && e.ServerURL == "https://dns-gateway.example.net"
		},
		"should use the field names cert-manager and lego read": func() bool {
			s := string(b)
			return strings.Contains(s, `"username":`) && strings.Contains(s, `"password":`) && strings.Contains(s, `"subdomain":`) &&
				strings.Contains(s, `"fulldomain":`) && strings.Contains(s, `"server_url":`)
		},
	} {
		t.Run(title, func(t *testing.T) {
			if !check() {
				t.Fatal("acmedns.json does not hold it (values not printed)")
			}
		})
	}
}
