// Package frontcreds derives the logins of the HTTP front doors (acme-dns
// accounts, dyndns2 users) from what the operator already keeps: a
// namespace's TSIG secrets in the DNSCredential vault and the records the one
// verdict reserved for its key. Nothing new is stored, so there is no second
// state to lose, migrate or keep in step: rotating the TSIG key rotates every
// front-door password of the namespace, and the previous TSIG secret's
// overlap is the previous password's.
//
// Passwords are HMAC-SHA256 of the TSIG secret over a label naming the front
// door and the login, so a password is worth one login: it cannot be turned
// back into the TSIG secret (HMAC is one-way) nor into another login's
// password. Usernames and acme-dns subdomains are UUIDs hashed from
// (cluster, scope, namespace, name): stable across restarts and replicas, and
// not secret.
package frontcreds

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/scopedns/scopedns/internal/acmedns"
	"github.com/scopedns/scopedns/internal/cfapi"
	"github.com/scopedns/scopedns/internal/dyndns"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// Identity is whose logins these are: one namespace under one scope, in one
// cluster.
type Identity struct {
	Cluster, Scope, Namespace string
}

// Reservation is one (name, type) the one verdict lets the namespace's key
// write, with the zone holding it.
type Reservation struct {
	// Name is normalised; Type upper case.
	Name, Type string
	// Zone is the zone apex; ZoneID the provider's ID for it.
	Zone, ZoneID string
	// MaxTTL is the granting rule's; 0: any.
	MaxTTL int32
}

// ACMEChallengePrefix starts every name an acme-dns account is made for.
const ACMEChallengePrefix = "_acme-challenge."

// PasswordLength is the length of every derived password: acme-dns's own
// keys are 40 characters, which some clients check, and 40 base64 characters
// carry 240 bits.
const PasswordLength = 40

// ACMEDNSAccounts are the acme-dns accounts of the namespace: one per
// reserved TXT name under _acme-challenge., each allowed exactly that
// (name, TXT). secrets are the TSIG secrets, [current, previous]; none, no
// accounts. The accounts come sorted by name.
func ACMEDNSAccounts(id Identity, secrets []string, rs []Reservation) []acmedns.Account {
	if len(secrets) == 0 {
		return nil
	}
	var out []acmedns.Account
	seen := map[string]bool{}
	for _, r := range rs {
		name := provider.NormalizeName(r.Name)
		if !strings.EqualFold(r.Type, "TXT") || !IsACMEChallenge(name) || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, acmedns.Account{
			Username:  hashUUID("acme-dns-username", id, name),
			Passwords: passwords(secrets, "acme-dns", name),
			Subdomain: hashUUID("acme-dns-subdomain", id, name),
			Name:      name,
			Zone:      r.Zone,
			ZoneID:    r.ZoneID,
			Tenant:    tenant(id, map[zonewriter.Grant]int32{{Name: name, Type: "TXT"}: r.MaxTTL}),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IsACMEChallenge reports whether a normalised name is an _acme-challenge
// name of some domain.
func IsACMEChallenge(name string) bool {
	return strings.HasPrefix(name, ACMEChallengePrefix) && len(name) > len(ACMEChallengePrefix)
}

// DynDNSUser is the namespace's dyndns2 user: allowed the values of the
// reserved A and AAAA names, and nothing else. ok is false without secrets
// or without any such name (a login that could update nothing).
func DynDNSUser(id Identity, secrets []string, rs []Reservation) (u dyndns.User, ok bool) {
	if len(secrets) == 0 {
		return dyndns.User{}, false
	}
	hosts := map[string]dyndns.Host{}
	grants := map[zonewriter.Grant]int32{}
	for _, r := range rs {
		t := strings.ToUpper(r.Type)
		if t != "A" && t != "AAAA" {
			continue
		}
		name := provider.NormalizeName(r.Name)
		hosts[name] = dyndns.Host{Zone: r.Zone, ZoneID: r.ZoneID}
		grants[zonewriter.Grant{Name: name, Type: t}] = r.MaxTTL
	}
	if len(hosts) == 0 {
		return dyndns.User{}, false
	}
	username := DynDNSUsername(id)
	return dyndns.User{
		Username:  username,
		Passwords: passwords(secrets, "dyndns2", username),
		Hosts:     hosts,
		Tenant:    tenant(id, grants),
	}, true
}

// DynDNSUsername is the namespace's dyndns2 username: "<namespace>.<scope>".
// A namespace is one DNS label and neither holds a ':' (which HTTP Basic
// auth cannot carry), so it is unambiguous and readable in router configs.
func DynDNSUsername(id Identity) string { return id.Namespace + "." + id.Scope }

// ACMEDNSEntry is one account as cert-manager's acmeDNS solver and lego's
// acme-dns storage read it.
type ACMEDNSEntry struct {
	Username   string `json:"username"`
	Password   string `json:"password"`
	Subdomain  string `json:"subdomain"`
	FullDomain string `json:"fulldomain"`
	ServerURL  string `json:"server_url"`
}

// ACMEDNSJSON is the credentials Secret's acmedns.json: the accounts keyed
// by the domain they prove (the name without _acme-challenge.; cert-manager
// looks the challenge's domain up there, the apex and its wildcard alike),
// each with its current password. fulldomain is the _acme-challenge name
// itself: scopedns writes the TXT there, so no CNAME to an acme-dns zone is
// needed.
func ACMEDNSJSON(accounts []acmedns.Account, serverURL string) ([]byte, error) {
	m := make(map[string]ACMEDNSEntry, len(accounts))
	for _, a := range accounts {
		if len(a.Passwords) == 0 {
			continue
		}
		m[strings.TrimPrefix(a.Name, ACMEChallengePrefix)] = ACMEDNSEntry{
			Username: a.Username, Password: a.Passwords[0], Subdomain: a.Subdomain,
			FullDomain: a.Name, ServerURL: serverURL,
		}
	}
	return json.Marshal(m) // map keys are sorted: the same accounts give the same bytes
}

func tenant(id Identity, grants map[zonewriter.Grant]int32) zonewriter.Tenant {
	return zonewriter.Tenant{
		Namespace: id.Namespace, Scope: id.Scope,
		Owner:  zonewriter.OwnerComment(id.Cluster, id.Namespace),
		Grants: grants,
	}
}

// passwords derives one password per TSIG secret, in their order. The label
// keeps the front doors' passwords apart; the NUL cannot occur in a label or
// a DNS name, so no two (door, login) pairs share a message.
func passwords(secrets []string, door, login string) []string {
	out := make([]string, 0, len(secrets))
	for _, s := range secrets {
		m := hmac.New(sha256.New, []byte(s))
		m.Write([]byte(door + "\x00" + login))
		out = append(out, base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:PasswordLength])
	}
	return out
}

// space is the UUID namespace of scopedns's derived identifiers.
var space = uuid.NewSHA1(uuid.NameSpaceDNS, []byte("frontcreds.scopedns.io"))

// hashUUID is a version 8 (hash-based) UUID of (kind, identity, name).
func hashUUID(kind string, id Identity, name string) string {
	data := strings.Join([]string{kind, id.Cluster, id.Scope, id.Namespace, name}, "\x00")
	return uuid.NewHash(sha256.New(), space, []byte(data), 8).String()
}

// CloudflareAPIToken is the namespace's token for the Cloudflare-compatible
// API: allowed every (name, type) the namespace reserved, in the zones that
// hold them. ok is false without secrets or reservations. Its values are
// 40 characters of Cloudflare's token alphabet (base64url), one per TSIG
// secret; its ID, like a Cloudflare token's, is 32 hex characters, hashed
// from the identity and not secret.
func CloudflareAPIToken(id Identity, secrets []string, rs []Reservation) (cfapi.Token, bool) {
	if len(secrets) == 0 || len(rs) == 0 {
		return cfapi.Token{}, false
	}
	grants := map[zonewriter.Grant]int32{}
	zones := map[string]cfapi.Zone{}
	for _, r := range rs {
		grants[zonewriter.Grant{Name: provider.NormalizeName(r.Name), Type: strings.ToUpper(r.Type)}] = r.MaxTTL
		zones[r.ZoneID] = cfapi.Zone{ID: r.ZoneID, Name: r.Zone}
	}
	t := cfapi.Token{
		ID:     strings.ReplaceAll(hashUUID("cloudflare-api-token", id, ""), "-", ""),
		Values: passwords(secrets, "cloudflare-api", DynDNSUsername(id)),
		Tenant: tenant(id, grants),
	}
	for _, z := range zones {
		t.Zones = append(t.Zones, z)
	}
	sort.Slice(t.Zones, func(i, j int) bool { return t.Zones[i].Name < t.Zones[j].Name })
	return t, true
}
