package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Cloudflare's permission-group IDs for the groups the simulator enforces.
// They are the public IDs Cloudflare lists under
// GET /accounts/{account_id}/tokens/permission_groups.
const (
	PermZoneRead              = "c8fed203ed3043cba015a93ad1616f1f"
	PermZoneWrite             = "e6d2666161e84845a636613608cee8d5"
	PermDNSRead               = "82e64a83756745bbbb1c9c2701bf816b"
	PermDNSWrite              = "4755a26eedb94da69e1066d98aa820be"
	PermAccountAPITokensRead  = "eb56a6953c034b9d97dd838155666f06"
	PermAccountAPITokensWrite = "5bc3f8b21c554832afc660159ab75fa4"
	PermAccountSettingsRead   = "c1fde68c7bcc44588cbb6ddbc16d6480"
)

// Resource scopes of permission groups and the prefixes of resource keys.
const (
	ScopeAccount = "com.cloudflare.api.account"
	ScopeZone    = "com.cloudflare.api.account.zone"

	resourceAccountPrefix = ScopeAccount + "."
	resourceZonePrefix    = ScopeZone + "."
	resourceUserPrefix    = "com.cloudflare.api.user."
)

// perm is one capability an endpoint needs.
type perm uint8

const (
	permZoneRead perm = 1 << iota
	permZoneWrite
	permDNSRead
	permDNSWrite
	permTokensRead
	permTokensWrite
	permAccountRead

	zonePerms = permZoneRead | permZoneWrite | permDNSRead | permDNSWrite
)

// PermissionGroup is one entry of the permission-group catalogue.
type PermissionGroup struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Category string   `json:"category"`
	Scopes   []string `json:"scopes"`

	own    perm // what a deny policy with this group takes away
	grants perm // what an allow policy with this group gives (write implies read)
}

var permissionGroups = []PermissionGroup{
	{ID: PermAccountAPITokensRead, Name: "Account API Tokens Read", Category: "account_and_billing", Scopes: []string{ScopeAccount}, own: permTokensRead, grants: permTokensRead},
	{ID: PermAccountAPITokensWrite, Name: "Account API Tokens Write", Category: "account_and_billing", Scopes: []string{ScopeAccount}, own: permTokensWrite, grants: permTokensRead | permTokensWrite},
	{ID: PermAccountSettingsRead, Name: "Account Settings Read", Category: "account_and_billing", Scopes: []string{ScopeAccount}, own: permAccountRead, grants: permAccountRead},
	{ID: PermDNSRead, Name: "DNS Read", Category: "dns_and_zones", Scopes: []string{ScopeZone}, own: permDNSRead, grants: permDNSRead},
	{ID: PermDNSWrite, Name: "DNS Write", Category: "dns_and_zones", Scopes: []string{ScopeZone}, own: permDNSWrite, grants: permDNSRead | permDNSWrite},
	{ID: PermZoneRead, Name: "Zone Read", Category: "dns_and_zones", Scopes: []string{ScopeZone}, own: permZoneRead, grants: permZoneRead},
	{ID: PermZoneWrite, Name: "Zone Write", Category: "dns_and_zones", Scopes: []string{ScopeZone}, own: permZoneWrite, grants: permZoneRead | permZoneWrite},
}

var permissionGroupByID = func() map[string]*PermissionGroup {
	m := make(map[string]*PermissionGroup, len(permissionGroups))
	for i := range permissionGroups {
		m[permissionGroups[i].ID] = &permissionGroups[i]
	}
	return m
}()

// PermissionGroups returns the catalogue of permission groups the simulator
// knows and enforces.
func PermissionGroups() []PermissionGroup {
	out := make([]PermissionGroup, len(permissionGroups))
	copy(out, permissionGroups)
	return out
}

// Policy is one access policy of a token.
type Policy struct {
	ID     string `json:"id,omitempty"`
	Effect string `json:"effect"` // "allow" or "deny"
	// PermissionGroupIDs are the IDs of the policy's permission groups.
	PermissionGroupIDs []string `json:"-"`
	// Resources maps resource keys to "*" or, for an account key, to a map
	// of zone keys to "*", as in Cloudflare's API.
	Resources map[string]any `json:"resources"`
}

// Condition restricts where a token may be used from.
type Condition struct {
	RequestIPIn    []string
	RequestIPNotIn []string
}

// TokenSpec describes a token to mint directly (see Server.MintToken).
type TokenSpec struct {
	Name      string
	Policies  []Policy
	Condition Condition
	NotBefore time.Time // zero: no lower bound
	ExpiresOn time.Time // zero: never expires
}

// TokenInfo is a snapshot of a token, without its value.
type TokenInfo struct {
	ID         string
	Name       string
	Status     string // active, disabled or expired
	IssuedOn   time.Time
	ModifiedOn time.Time
	LastUsedOn time.Time // zero if never used
	NotBefore  time.Time
	ExpiresOn  time.Time
	Policies   []Policy
	Condition  Condition
}

// resourceSet is a policy's parsed resources.
type resourceSet struct {
	allAccounts  bool
	accounts     map[string]bool // flat "com.cloudflare.api.account.<id>": "*"
	allZones     bool            // "com.cloudflare.api.account.zone.*": "*"
	zones        map[string]bool // "com.cloudflare.api.account.zone.<id>": "*"
	acctAllZones map[string]bool // nested "<account>": {"...zone.*": "*"}
	acctZones    map[string]map[string]bool
}

func (rs *resourceSet) coversAccount(acct string) bool {
	return rs.allAccounts || rs.accounts[acct]
}

func (rs *resourceSet) coversZone(acct, zoneID string) bool {
	return rs.allAccounts || rs.accounts[acct] || rs.allZones || rs.zones[zoneID] ||
		rs.acctAllZones[acct] || rs.acctZones[acct][zoneID]
}

type policy struct {
	id        string
	deny      bool
	groupIDs  []string
	resources json.RawMessage // echoed as given (re-encoded compactly)
	set       resourceSet
	perms     perm
}

type token struct {
	id        string
	name      string
	hash      [32]byte
	disabled  bool
	issued    time.Time
	modified  time.Time
	notBefore time.Time
	expiresOn time.Time
	policies  []policy
	ipIn      []netip.Prefix
	ipNotIn   []netip.Prefix
	ipInRaw   []string
	ipNotRaw  []string
	lastUsed  *atomic.Int64 // unix nanoseconds, shared between versions of the token
	seq       uint64        // creation order
}

func (t *token) status(now time.Time) string {
	switch {
	case t.disabled:
		return "disabled"
	case !t.expiresOn.IsZero() && !now.Before(t.expiresOn):
		return "expired"
	}
	return "active"
}

// usable reports whether the token authenticates at now.
func (t *token) usable(now time.Time) bool {
	if t.status(now) != "active" {
		return false
	}
	return t.notBefore.IsZero() || !now.Before(t.notBefore)
}

// ipAllowed applies the request.ip condition.
func (t *token) ipAllowed(ip netip.Addr) bool {
	if len(t.ipIn) == 0 && len(t.ipNotIn) == 0 {
		return true
	}
	if !ip.IsValid() {
		return false
	}
	for _, p := range t.ipNotIn {
		if p.Contains(ip) {
			return false
		}
	}
	if len(t.ipIn) == 0 {
		return true
	}
	for _, p := range t.ipIn {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// can reports whether the token's policies give p on the account or, when
// zoneID is set, on that zone. A matching deny policy wins over any allow.
func (t *token) can(p perm, acct, zoneID string) bool {
	allowed := false
	for i := range t.policies {
		pol := &t.policies[i]
		if pol.perms&p == 0 {
			continue
		}
		covered := false
		if p&zonePerms != 0 {
			covered = zoneID != "" && pol.set.coversZone(acct, zoneID)
		} else {
			covered = pol.set.coversAccount(acct)
		}
		if !covered {
			continue
		}
		if pol.deny {
			return false
		}
		allowed = true
	}
	return allowed
}

func (t *token) info(now time.Time) TokenInfo {
	ti := TokenInfo{
		ID:         t.id,
		Name:       t.name,
		Status:     t.status(now),
		IssuedOn:   t.issued,
		ModifiedOn: t.modified,
		NotBefore:  t.notBefore,
		ExpiresOn:  t.expiresOn,
		Condition: Condition{
			RequestIPIn:    append([]string(nil), t.ipInRaw...),
			RequestIPNotIn: append([]string(nil), t.ipNotRaw...),
		},
	}
	if n := t.lastUsed.Load(); n != 0 {
		ti.LastUsedOn = time.Unix(0, n).UTC()
	}
	for _, p := range t.policies {
		pol := Policy{ID: p.id, Effect: "allow", PermissionGroupIDs: append([]string(nil), p.groupIDs...)}
		if p.deny {
			pol.Effect = "deny"
		}
		_ = json.Unmarshal(p.resources, &pol.Resources)
		ti.Policies = append(ti.Policies, pol)
	}
	return ti
}

// policyInput is a policy as it arrives in a request body.
type policyInput struct {
	Effect           string          `json:"effect"`
	PermissionGroups []groupRef      `json:"permission_groups"`
	Resources        json.RawMessage `json:"resources"`
}

type groupRef struct {
	ID string `json:"id"`
}

type ipCondition struct {
	In    []string `json:"in"`
	NotIn []string `json:"not_in"`
}

// conditionInput accepts both spellings: Cloudflare documents
// "request.ip", cloudflare-go v7 sends "request_ip".
type conditionInput struct {
	RequestIPDot   *ipCondition `json:"request.ip"`
	RequestIPUnder *ipCondition `json:"request_ip"`
}

func (c *conditionInput) requestIP() *ipCondition {
	if c == nil {
		return nil
	}
	if c.RequestIPDot != nil {
		return c.RequestIPDot
	}
	return c.RequestIPUnder
}

// compilePolicies validates policies and resolves their resources against
// the account and its zones (zoneExists).
func compilePolicies(in []policyInput, acct string, zoneExists func(string) bool, newID func() string) ([]policy, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("policies: at least one policy is required")
	}
	out := make([]policy, 0, len(in))
	for i, pi := range in {
		var p policy
		switch pi.Effect {
		case "allow":
		case "deny":
			p.deny = true
		default:
			return nil, fmt.Errorf("policies[%d].effect: must be \"allow\" or \"deny\", got %q", i, pi.Effect)
		}
		if len(pi.PermissionGroups) == 0 {
			return nil, fmt.Errorf("policies[%d].permission_groups: at least one permission group is required", i)
		}
		for _, g := range pi.PermissionGroups {
			pg, ok := permissionGroupByID[g.ID]
			if !ok {
				return nil, fmt.Errorf("policies[%d].permission_groups: unknown permission group %q", i, g.ID)
			}
			p.groupIDs = append(p.groupIDs, pg.ID)
			if p.deny {
				p.perms |= pg.own
			} else {
				p.perms |= pg.grants
			}
		}
		set, raw, err := parseResources(pi.Resources, acct, zoneExists)
		if err != nil {
			return nil, fmt.Errorf("policies[%d].resources: %w", i, err)
		}
		p.set, p.resources = set, raw
		p.id = newID()
		out = append(out, p)
	}
	return out, nil
}

func parseResources(raw json.RawMessage, acct string, zoneExists func(string) bool) (resourceSet, json.RawMessage, error) {
	var rs resourceSet
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || len(m) == 0 {
		return rs, nil, fmt.Errorf("must be a non-empty object")
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := bytes.TrimSpace(m[k])
		var star string
		isStar := json.Unmarshal(v, &star) == nil
		if isStar && star != "*" {
			return rs, nil, fmt.Errorf("%s: the only supported value is \"*\"", k)
		}
		switch {
		case strings.HasPrefix(k, resourceZonePrefix):
			if !isStar {
				return rs, nil, fmt.Errorf("%s: must be \"*\"", k)
			}
			id := strings.TrimPrefix(k, resourceZonePrefix)
			if id == "*" {
				rs.allZones = true
				continue
			}
			if !zoneExists(id) {
				return rs, nil, fmt.Errorf("%s: no such zone", k)
			}
			if rs.zones == nil {
				rs.zones = map[string]bool{}
			}
			rs.zones[id] = true
		case strings.HasPrefix(k, resourceUserPrefix):
			// User resources carry no permission the simulator enforces.
		case strings.HasPrefix(k, resourceAccountPrefix):
			id := strings.TrimPrefix(k, resourceAccountPrefix)
			if id != "*" && id != acct {
				return rs, nil, fmt.Errorf("%s: no such account", k)
			}
			if isStar {
				if id == "*" {
					rs.allAccounts = true
				} else {
					if rs.accounts == nil {
						rs.accounts = map[string]bool{}
					}
					rs.accounts[id] = true
				}
				continue
			}
			if id == "*" {
				return rs, nil, fmt.Errorf("%s: must be \"*\"", k)
			}
			var nested map[string]string
			if err := json.Unmarshal(v, &nested); err != nil || len(nested) == 0 {
				return rs, nil, fmt.Errorf("%s: must be \"*\" or a non-empty object of zone resources", k)
			}
			for zk, zv := range nested {
				if zv != "*" || !strings.HasPrefix(zk, resourceZonePrefix) {
					return rs, nil, fmt.Errorf("%s: nested resources must be zone keys with value \"*\"", k)
				}
				zid := strings.TrimPrefix(zk, resourceZonePrefix)
				if zid == "*" {
					if rs.acctAllZones == nil {
						rs.acctAllZones = map[string]bool{}
					}
					rs.acctAllZones[id] = true
					continue
				}
				if !zoneExists(zid) {
					return rs, nil, fmt.Errorf("%s: no such zone", zk)
				}
				if rs.acctZones == nil {
					rs.acctZones = map[string]map[string]bool{}
				}
				if rs.acctZones[id] == nil {
					rs.acctZones[id] = map[string]bool{}
				}
				rs.acctZones[id][zid] = true
			}
		default:
			return rs, nil, fmt.Errorf("%s: unknown resource", k)
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return rs, nil, err
	}
	return rs, buf.Bytes(), nil
}

func parseCIDRs(list []string, field string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a CIDR", field, s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// policiesToInput converts exported policies (MintToken) to request form.
func policiesToInput(ps []Policy) ([]policyInput, error) {
	out := make([]policyInput, 0, len(ps))
	for _, p := range ps {
		raw, err := json.Marshal(p.Resources)
		if err != nil {
			return nil, err
		}
		pi := policyInput{Effect: p.Effect, Resources: raw}
		if pi.Effect == "" {
			pi.Effect = "allow"
		}
		for _, id := range p.PermissionGroupIDs {
			pi.PermissionGroups = append(pi.PermissionGroups, groupRef{ID: id})
		}
		out = append(out, pi)
	}
	return out, nil
}
