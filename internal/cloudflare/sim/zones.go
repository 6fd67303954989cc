package sim

import (
	"github.com/scopedns/scopedns/internal/cloudflare/wire"

	"sort"
	"strings"
	"time"
)

func (s *Server) zoneJSON(z *zone, t *token) wire.ZoneJSON {
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
	return wire.NewZoneJSON(wire.ZoneInfo{
		ID: z.id, Name: z.name, Created: z.created, Modified: modified,
		NameServers: s.nameServers, AccountID: s.acctID, AccountName: s.acctName,
		Permissions: perms,
	})
}

// listZones lists the zones the token has Zone Read on, with Cloudflare's
// name, account.id, account.name and status filters.
func (s *Server) listZones(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	q := rq.r.URL.Query()
	var preds []func(*zone) bool
	if q.Has("name") {
		nf := wire.NameFilter(q.Get("name"))
		preds = append(preds, func(z *zone) bool { return nf(z.name) })
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
	lo, hi, info := wire.Paginate(q, len(zs), 20, 5, 50)
	out := make([]wire.ZoneJSON, 0, hi-lo)
	for _, z := range zs[lo:hi] {
		out = append(out, s.zoneJSON(z, rq.tok))
	}
	s.mu.RUnlock()
	return out, &info, nil, nil
}

func (s *Server) getZone(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	z, f := s.zoneForLocked(rq)
	if f != nil {
		return nil, nil, nil, f
	}
	if !rq.tok.can(permZoneRead, s.acctID, z.id) {
		return nil, nil, nil, wire.ErrUnauthorized()
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
func (s *Server) listAccounts(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	out := []accountJSON{}
	if rq.tok.can(permAccountRead, s.acctID, "") {
		out = append(out, s.account())
	}
	lo, hi, info := wire.Paginate(rq.r.URL.Query(), len(out), 20, 5, 50)
	return out[lo:hi], &info, nil, nil
}

func (s *Server) getAccount(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	if f := s.checkAccount(rq); f != nil {
		return nil, nil, nil, f
	}
	if !rq.tok.can(permAccountRead, s.acctID, "") {
		return nil, nil, nil, wire.ErrUnauthorized()
	}
	return s.account(), nil, nil, nil
}
