// Package memory is an in-process provider.Provider: zones, records and tokens in
// maps, with the same rules the contract suite checks on Cloudflare (tokens
// limited to their zones, revocation, quota, validity window). It is for unit
// tests and benchmarks that should not pay for HTTP.
package memory

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
)

// Config configures a Store.
type Config struct {
	// Zones are the zone names the store holds.
	Zones []string
	// MasterToken is the credential with full rights; default "memory-master".
	MasterToken provider.Secret
	// TokenQuota is how many tokens may exist at once; default 500.
	TokenQuota int
	// Now is the clock for token validity; default time.Now.
	Now func() time.Time
	// Observer, when set, is told about every call.
	Observer provider.Observer
}

// Store holds the state. Providers obtained from it act on it with a credential.
type Store struct {
	mu        sync.Mutex
	master    provider.Secret
	quota     int
	now       func() time.Time
	observer  provider.Observer
	zones     map[string]*zone // by ID
	zoneIDs   map[string]string
	tokens    map[string]*token // by ID
	byValue   map[provider.Secret]string
	faults    []fault
	seq       uint64
	calls     map[string]int
	rateLimit int // remaining calls to refuse with 429
	retryWait time.Duration
}

type zone struct {
	id, name string
	records  map[string]provider.Record
	order    []string // record IDs in creation order
}

type token struct {
	info  provider.Token
	value provider.Secret
}

type fault struct {
	op  string
	err error
}

// New builds a Store.
func New(cfg Config) *Store {
	s := &Store{
		master:   cfg.MasterToken,
		quota:    cfg.TokenQuota,
		now:      cfg.Now,
		observer: cfg.Observer,
		zones:    map[string]*zone{},
		zoneIDs:  map[string]string{},
		tokens:   map[string]*token{},
		byValue:  map[provider.Secret]string{},
		calls:    map[string]int{},
	}
	if s.master == "" {
		s.master = "memory-master"
	}
	if s.quota <= 0 {
		s.quota = 500
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, n := range cfg.Zones {
		n = provider.NormalizeName(n)
		if _, dup := s.zoneIDs[n]; dup || n == "" {
			continue
		}
		id := s.newID()
		s.zones[id] = &zone{id: id, name: n, records: map[string]provider.Record{}}
		s.zoneIDs[n] = id
	}
	return s
}

// Master is a provider acting with the master credential.
func (s *Store) Master() provider.Provider { return &Provider{s: s, cred: s.master} }

// Connect is a provider acting with the given credential, for example a minted
// token's value.
func (s *Store) Connect(credential provider.Secret) provider.Provider {
	return &Provider{s: s, cred: credential}
}

// ZoneID returns the ID of a zone by name, "" if there is none.
func (s *Store) ZoneID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.zoneIDs[provider.NormalizeName(name)]
}

// Records returns every record of a zone by name, in creation order.
func (s *Store) Records(zoneName string) []provider.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zones[s.zoneIDs[provider.NormalizeName(zoneName)]]
	if z == nil {
		return nil
	}
	out := make([]provider.Record, 0, len(z.order))
	for _, id := range z.order {
		out = append(out, z.records[id])
	}
	return out
}

// Tokens returns every token, without values, sorted by ID.
func (s *Store) Tokens() []provider.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]provider.Token, 0, len(s.tokens))
	for _, id := range slices.Sorted(maps.Keys(s.tokens)) {
		out = append(out, cloneToken(s.tokens[id].info))
	}
	return out
}

// Calls returns how many calls each operation received.
func (s *Store) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// SetTokenQuota changes how many tokens may exist at once.
func (s *Store) SetTokenQuota(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quota = n
}

// FailNext makes the next call of op (a provider.Op constant, or "" for any)
// fail with err.
func (s *Store) FailNext(op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, fault{op: op, err: err})
}

// RateLimitNext makes the next n calls fail as rate limited, asking to wait.
func (s *Store) RateLimitNext(n int, wait time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateLimit, s.retryWait = n, wait
}

func (s *Store) newID() string {
	s.seq++
	var b [8]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%016x%s", s.seq, hex.EncodeToString(b[:]))
}

// Provider is a provider.Provider acting on a Store with one credential.
type Provider struct {
	s    *Store
	cred provider.Secret
}

var _ provider.Provider = (*Provider)(nil)

// access is what a credential may do right now.
type access struct {
	master bool
	zones  map[string]bool
}

func (a access) zone(id string) bool { return a.master || a.zones[id] }

// begin takes the lock, counts the call, applies injected faults and resolves the
// credential. The caller must call end with the result.
func (p *Provider) begin(op string) (access, time.Time, error) {
	start := time.Now()
	s := p.s
	s.mu.Lock()
	s.calls[op]++
	for i, f := range s.faults {
		if f.op == "" || f.op == op {
			s.faults = slices.Delete(s.faults, i, i+1)
			return access{}, start, f.err
		}
	}
	if s.rateLimit > 0 {
		s.rateLimit--
		return access{}, start, &provider.Error{Op: op, Kind: provider.KindRateLimited, Status: 429, Codes: []int{971},
			Message: "Please wait and consider throttling your request speed", RetryAfter: s.retryWait}
	}
	if p.cred == s.master {
		return access{master: true}, start, nil
	}
	id, ok := s.byValue[p.cred]
	if !ok {
		return access{}, start, &provider.Error{Op: op, Kind: provider.KindForbidden, Status: 401, Codes: []int{1000}, Message: "Invalid API Token"}
	}
	t := s.tokens[id].info
	now := s.now()
	switch {
	case t.Status != provider.TokenActive:
		return access{}, start, &provider.Error{Op: op, Kind: provider.KindForbidden, Status: 401, Codes: []int{1000}, Message: "API token is " + string(t.Status)}
	case !t.NotBefore.IsZero() && now.Before(t.NotBefore):
		return access{}, start, &provider.Error{Op: op, Kind: provider.KindForbidden, Status: 401, Codes: []int{1000}, Message: "API token is not valid yet"}
	case !t.ExpiresOn.IsZero() && !now.Before(t.ExpiresOn):
		return access{}, start, &provider.Error{Op: op, Kind: provider.KindForbidden, Status: 401, Codes: []int{1000}, Message: "API token has expired"}
	}
	a := access{zones: map[string]bool{}}
	for _, z := range t.ZoneIDs {
		a.zones[z] = true
	}
	return a, start, nil
}

func (p *Provider) end(op string, start time.Time, err error) error {
	p.s.mu.Unlock()
	if p.s.observer != nil {
		p.s.observer(op, provider.ResultOf(err), time.Since(start))
	}
	return err
}

func forbidden(op string) error {
	return &provider.Error{Op: op, Kind: provider.KindForbidden, Status: 403, Codes: []int{10000}, Message: "Authentication error"}
}

// Verify implements provider.Provider.
func (p *Provider) Verify(_ context.Context) error {
	_, start, err := p.begin(provider.OpVerify)
	return p.end(provider.OpVerify, start, err)
}

// Zones implements provider.Provider.
func (p *Provider) Zones(_ context.Context, names []string) (out []provider.Zone, err error) {
	a, start, err := p.begin(provider.OpZonesList)
	defer func() { err = p.end(provider.OpZonesList, start, err) }()
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		id, ok := p.s.zoneIDs[provider.NormalizeName(n)]
		if ok && a.zone(id) {
			out = append(out, provider.Zone{ID: id, Name: p.s.zones[id].name})
		}
	}
	return out, nil
}

func (p *Provider) zone(op string, a access, id string) (*zone, error) {
	z := p.s.zones[id]
	if z == nil {
		if a.master {
			return nil, &provider.Error{Op: op, Kind: provider.KindNotFound, Status: 404, Codes: []int{7003}, Message: "Could not route to /zones/" + id}
		}
		return nil, forbidden(op)
	}
	if !a.zone(id) {
		return nil, forbidden(op)
	}
	return z, nil
}

// Records implements provider.Provider.
func (p *Provider) Records(_ context.Context, zoneID string, f provider.RecordFilter) (out []provider.Record, err error) {
	a, start, err := p.begin(provider.OpRecordsList)
	defer func() { err = p.end(provider.OpRecordsList, start, err) }()
	if err != nil {
		return nil, err
	}
	z, err := p.zone(provider.OpRecordsList, a, zoneID)
	if err != nil {
		return nil, err
	}
	for _, id := range z.order {
		if r := z.records[id]; f.Matches(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// ApplyChanges implements provider.Provider. The whole set is applied at once,
// all or nothing.
func (p *Provider) ApplyChanges(_ context.Context, zoneID string, c provider.Changes) (res provider.ApplyResult, err error) {
	const op = provider.OpRecordsBatch
	if err := c.Validate(); err != nil {
		return res, err
	}
	a, start, err := p.begin(op)
	defer func() { err = p.end(op, start, err) }()
	if err != nil {
		return res, err
	}
	z, err := p.zone(op, a, zoneID)
	if err != nil {
		return res, err
	}
	// Check first, so that nothing changes on failure.
	for _, r := range slices.Concat(c.Delete, c.UpdateOld) {
		if _, ok := z.records[r.ID]; !ok {
			return res, &provider.Error{Op: op, Kind: provider.KindNotFound, Status: 404, Codes: []int{81044}, Message: "Record " + r.ID + " does not exist"}
		}
	}
	next := maps.Clone(z.records)
	for _, r := range c.Delete {
		delete(next, r.ID)
	}
	for i, r := range c.UpdateNew {
		r.ID = c.UpdateOld[i].ID
		r = normalize(r)
		next[r.ID] = r
		res.Updated = append(res.Updated, r)
	}
	var created []string
	for _, r := range c.Create {
		r.ID = p.s.newID()
		r = normalize(r)
		next[r.ID] = r
		created = append(created, r.ID)
		res.Created = append(res.Created, r)
	}
	if err := checkZone(op, z.name, next); err != nil {
		return provider.ApplyResult{}, err
	}
	z.records = next
	z.order = slices.DeleteFunc(z.order, func(id string) bool { _, ok := next[id]; return !ok })
	z.order = append(z.order, created...)
	for _, r := range c.Delete {
		res.Deleted = append(res.Deleted, r.ID)
	}
	return res, nil
}

// normalize stores a record as Cloudflare would give it back: MX, SRV and
// CAA content in canonical form, since Cloudflare keeps their parts apart.
func normalize(r provider.Record) provider.Record {
	r.Name = provider.NormalizeName(r.Name)
	r.Type = strings.ToUpper(r.Type)
	switch r.Type {
	case "MX", "SRV", "CAA":
		r.Content = provider.CanonicalContent(r.Type, r.Content)
	}
	if r.TTL == 0 {
		r.TTL = 1
	}
	return r
}

// checkZone enforces what Cloudflare enforces on a zone's contents: names
// inside the zone, no exact duplicates, CNAME alone at its name.
func checkZone(op, zoneName string, records map[string]provider.Record) error {
	type key struct{ name, typ, content string }
	seen := map[key]bool{}
	types := map[string]map[string]bool{}
	for _, r := range records {
		if r.Name != zoneName && !strings.HasSuffix(r.Name, "."+zoneName) {
			return &provider.Error{Op: op, Kind: provider.KindInvalid, Status: 400, Codes: []int{9005}, Message: fmt.Sprintf("record %s is outside zone %s", r.Name, zoneName)}
		}
		k := key{r.Name, r.Type, r.Content}
		if seen[k] {
			return &provider.Error{Op: op, Kind: provider.KindConflict, Status: 400, Codes: []int{81058}, Message: "An identical record already exists: " + r.String()}
		}
		seen[k] = true
		if types[r.Name] == nil {
			types[r.Name] = map[string]bool{}
		}
		types[r.Name][r.Type] = true
	}
	for name, ts := range types {
		if ts["CNAME"] && len(ts) > 1 {
			return &provider.Error{Op: op, Kind: provider.KindConflict, Status: 400, Codes: []int{81053}, Message: "A CNAME record cannot exist beside other records at " + name}
		}
	}
	return nil
}

// MintToken implements provider.Provider.
func (p *Provider) MintToken(_ context.Context, spec provider.TokenSpec) (out provider.MintedToken, err error) {
	const op = provider.OpTokensCreate
	if err := spec.Validate(); err != nil {
		return out, err
	}
	a, start, err := p.begin(op)
	defer func() { err = p.end(op, start, err) }()
	if err != nil {
		return out, err
	}
	if !a.master {
		return out, forbidden(op)
	}
	if len(p.s.tokens) >= p.s.quota {
		return out, &provider.Error{Op: op, Kind: provider.KindQuotaExceeded, Status: 400, Codes: []int{1011}, Message: fmt.Sprintf("token quota of %d reached", p.s.quota)}
	}
	for _, z := range spec.ZoneIDs {
		if p.s.zones[z] == nil {
			return out, &provider.Error{Op: op, Kind: provider.KindInvalid, Status: 400, Codes: []int{1001}, Message: "unknown zone " + z}
		}
	}
	var b [30]byte
	_, _ = rand.Read(b[:])
	value := provider.Secret("mem_" + hex.EncodeToString(b[:]))
	now := p.s.now()
	t := provider.Token{
		ID:           p.s.newID(),
		Name:         spec.Name,
		ZoneIDs:      sortedUnique(spec.ZoneIDs),
		AllowedCIDRs: slices.Clone(spec.AllowedCIDRs),
		Status:       provider.TokenActive,
		IssuedOn:     now,
		ModifiedOn:   now,
		NotBefore:    spec.NotBefore,
		ExpiresOn:    spec.ExpiresOn,
	}
	p.s.tokens[t.ID] = &token{info: t, value: value}
	p.s.byValue[value] = t.ID
	return provider.MintedToken{Token: cloneToken(t), Value: value}, nil
}

// UpdateTokenZones implements provider.Provider.
func (p *Provider) UpdateTokenZones(_ context.Context, tokenID string, zoneIDs []string) (out provider.Token, err error) {
	const op = provider.OpTokensUpdate
	a, start, err := p.begin(op)
	defer func() { err = p.end(op, start, err) }()
	if err != nil {
		return out, err
	}
	if !a.master {
		return out, forbidden(op)
	}
	if len(zoneIDs) == 0 {
		return out, &provider.Error{Op: op, Kind: provider.KindInvalid, Message: "no zones"}
	}
	t := p.s.tokens[tokenID]
	if t == nil {
		return out, tokenNotFound(op, tokenID)
	}
	for _, z := range zoneIDs {
		if p.s.zones[z] == nil {
			return out, &provider.Error{Op: op, Kind: provider.KindInvalid, Status: 400, Codes: []int{1001}, Message: "unknown zone " + z}
		}
	}
	t.info.ZoneIDs = sortedUnique(zoneIDs)
	t.info.ModifiedOn = p.s.now()
	return cloneToken(t.info), nil
}

func tokenNotFound(op, id string) error {
	return &provider.Error{Op: op, Kind: provider.KindNotFound, Status: 404, Codes: []int{1003}, Message: "token " + id + " not found"}
}

// Token implements provider.Provider.
func (p *Provider) Token(_ context.Context, tokenID string) (out provider.Token, err error) {
	const op = provider.OpTokensGet
	a, start, err := p.begin(op)
	defer func() { err = p.end(op, start, err) }()
	if err != nil {
		return out, err
	}
	if !a.master {
		return out, forbidden(op)
	}
	t := p.s.tokens[tokenID]
	if t == nil {
		return out, tokenNotFound(op, tokenID)
	}
	return cloneToken(t.info), nil
}

// RevokeToken implements provider.Provider.
func (p *Provider) RevokeToken(_ context.Context, tokenID string) (err error) {
	const op = provider.OpTokensDelete
	a, start, err := p.begin(op)
	defer func() { err = p.end(op, start, err) }()
	if err != nil {
		return err
	}
	if !a.master {
		return forbidden(op)
	}
	t := p.s.tokens[tokenID]
	if t == nil {
		return tokenNotFound(op, tokenID)
	}
	delete(p.s.byValue, t.value)
	delete(p.s.tokens, tokenID)
	return nil
}

// Tokens implements provider.Provider.
func (p *Provider) Tokens(_ context.Context, prefix string) (out []provider.Token, err error) {
	const op = provider.OpTokensList
	a, start, err := p.begin(op)
	defer func() { err = p.end(op, start, err) }()
	if err != nil {
		return nil, err
	}
	if !a.master {
		return nil, forbidden(op)
	}
	for _, id := range slices.Sorted(maps.Keys(p.s.tokens)) {
		if t := p.s.tokens[id].info; strings.HasPrefix(t.Name, prefix) {
			out = append(out, cloneToken(t))
		}
	}
	return out, nil
}

func sortedUnique(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func cloneToken(t provider.Token) provider.Token {
	t.ZoneIDs = slices.Clone(t.ZoneIDs)
	t.AllowedCIDRs = slices.Clone(t.AllowedCIDRs)
	return t
}
