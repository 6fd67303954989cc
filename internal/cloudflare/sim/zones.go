package sim

import (
	"sort"
	"strings"
	"time"
)

type zoneAccountJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type zoneJSON struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	Status              string          `json:"status"`
	Paused              bool            `json:"paused"`
	Type                string          `json:"type"`
	DevelopmentMode     int             `json:"development_mode"`
	NameServers         []string        `json:"name_servers"`
	OriginalNameServers []string        `json:"original_name_servers"`
	OriginalRegistrar   *string         `json:"original_registrar"`
	OriginalDnshost     *string         `json:"original_dnshost"`
	CreatedOn           time.Time       `json:"created_on"`
	ModifiedOn          time.Time       `json:"modified_on"`
	ActivatedOn         time.Time       `json:"activated_on"`
	Meta                map[string]any  `json:"meta"`
	Owner               map[string]any  `json:"owner"`
	Account             zoneAccountJSON `json:"account"`
	Tenant              map[string]any  `json:"tenant"`
	TenantUnit          map[string]any  `json:"tenant_unit"`
	Permissions         []string        `json:"permissions"`
	Plan                map[string]any  `json:"plan"`
}

func (s *Server) zoneJSON(z *zone, t *token) zoneJSON {
	modified := z.modified
	if modified.IsZero() {
		modified = z.created
	}
	var perms []string
	for _, p := range []struct {
		p    perm
		name string
	}{
		{permZoneRead, "#zone:read"}, {permZoneWrite, "#zone:edit"},
		{permDNSRead, "#dns_records:read"}, {permDNSWrite, "#dns_records:edit"},
	} {
		if t.can(p.p, s.acctID, z.id) {
			perms = append(perms, p.name)
		}
	}
	return zoneJSON{
		ID: z.id, Name: z.name, Status: "active", Type: "full",
		NameServers: append([]string(nil), s.nameServers...),
		CreatedOn:   z.created, ModifiedOn: modified, ActivatedOn: z.created,
		Meta:        map[string]any{"step": 2, "custom_certificate_quota": 0, "page_rule_quota": 3, "phishing_detected": false, "cdn_only": false, "dns_only": false, "foundation_dns": false},
		Owner:       map[string]any{"id": nil, "type": "user", "email": nil},
		Account:     zoneAccountJSON{ID: s.acctID, Name: s.acctName},
		Tenant:      map[string]any{"id": nil, "name": nil},
		TenantUnit:  map[string]any{"id": nil},
		Permissions: perms,
		Plan: map[string]any{
			"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "name": "Free Website", "price": 0, "currency": "USD",
			"frequency": "", "is_subscribed": false, "can_subscribe": false, "legacy_id": "free",
			"legacy_discount": false, "externally_managed": false,
		},
	}
}

// listZones lists the zones the token has Zone Read on, with Cloudflare's
// name, account.id, account.name and status filters.
func (s *Server) listZones(rq *request) (any, *ResultInfo, []Message, *failure) {
	q := rq.r.URL.Query()
	var preds []func(*zone) bool
	if q.Has("name") {
		preds = append(preds, nameFilter(q.Get("name")))
	}
	if v := q.Get("account.id"); v != "" {
		preds = append(preds, func(*zone) bool { return v == s.acctID })
	}
	if v := q.Get("account.name"); v != "" {
		preds = append(preds, func(*zone) bool { return strings.EqualFold(v, s.acctName) })
	}
	if v := q.Get("status"); v != "" {
		preds = append(preds, func(*zone) bool { return v == "active" })
	}
	anyOf := q.Get("match") == "any"

	s.mu.RLock()
	var zs []*zone
	for _, z := range s.zones {
		if !rq.tok.can(permZoneRead, s.acctID, z.id) {
			continue
		}
		ok := len(preds) == 0 || !anyOf
		for _, p := range preds {
			if anyOf && p(z) {
				ok = true
				break
			}
			if !anyOf && !p(z) {
				ok = false
				break
			}
		}
		if ok {
			zs = append(zs, z)
		}
	}
	sort.Slice(zs, func(i, j int) bool { return zs[i].name < zs[j].name })
	if q.Get("direction") == "desc" {
		sort.Slice(zs, func(i, j int) bool { return zs[i].name > zs[j].name })
	}
	lo, hi, info := paginate(q, len(zs), 20, 5, 50)
	out := make([]zoneJSON, 0, hi-lo)
	for _, z := range zs[lo:hi] {
		out = append(out, s.zoneJSON(z, rq.tok))
	}
	s.mu.RUnlock()
	return out, &info, nil, nil
}

// nameFilter matches a zone name exactly, or with Cloudflare's operators
// ("contains:foo", "starts_with:foo", "not_equal:foo", …). Zone names are
// lower case, so the case-sensitive variants behave like the others.
func nameFilter(v string) func(*zone) bool {
	v = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(v), "."))
	ops := map[string]func(name, arg string) bool{
		"equal":                      func(n, a string) bool { return n == a },
		"not_equal":                  func(n, a string) bool { return n != a },
		"starts_with":                strings.HasPrefix,
		"ends_with":                  strings.HasSuffix,
		"contains":                   strings.Contains,
		"starts_with_case_sensitive": strings.HasPrefix,
		"ends_with_case_sensitive":   strings.HasSuffix,
		"contains_case_sensitive":    strings.Contains,
	}
	if op, arg, ok := strings.Cut(v, ":"); ok && ops[op] != nil {
		f := ops[op]
		return func(z *zone) bool { return f(z.name, arg) }
	}
	if n, err := normalizeHostname(v); err == nil {
		v = n
	}
	return func(z *zone) bool { return z.name == v }
}

func (s *Server) getZone(rq *request) (any, *ResultInfo, []Message, *failure) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	z, f := s.zoneForLocked(rq)
	if f != nil {
		return nil, nil, nil, f
	}
	if !rq.tok.can(permZoneRead, s.acctID, z.id) {
		return nil, nil, nil, errUnauthorized()
	}
	return s.zoneJSON(z, rq.tok), nil, nil, nil
}

type accountJSON struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Type      string         `json:"type"`
	CreatedOn time.Time      `json:"created_on"`
	Settings  map[string]any `json:"settings"`
}

func (s *Server) account() accountJSON {
	return accountJSON{ID: s.acctID, Name: s.acctName, Type: "standard", Settings: map[string]any{"enforce_twofactor": false}}
}

// listAccounts shows the account to tokens with Account Settings Read.
func (s *Server) listAccounts(rq *request) (any, *ResultInfo, []Message, *failure) {
	out := []accountJSON{}
	if rq.tok.can(permAccountRead, s.acctID, "") {
		out = append(out, s.account())
	}
	lo, hi, info := paginate(rq.r.URL.Query(), len(out), 20, 5, 50)
	return out[lo:hi], &info, nil, nil
}

func (s *Server) getAccount(rq *request) (any, *ResultInfo, []Message, *failure) {
	if f := s.checkAccount(rq); f != nil {
		return nil, nil, nil, f
	}
	if !rq.tok.can(permAccountRead, s.acctID, "") {
		return nil, nil, nil, errUnauthorized()
	}
	return s.account(), nil, nil, nil
}
