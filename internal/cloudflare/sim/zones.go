package sim

import (
	"github.com/scopedns/scopedns/internal/cloudflare/wire"

	"sort"
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
	match := wire.ZoneFilter(q, s.acctID, s.acctName)
	s.mu.RLock()
	var zs []*zone
	for _, z := range s.zones {
		if rq.tok.can(permZoneRead, s.acctID, z.id) && match(z.name) {
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
