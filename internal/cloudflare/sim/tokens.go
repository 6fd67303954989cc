package sim

import (
	"github.com/scopedns/scopedns/internal/cloudflare/wire"

	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

const maxTokenNameLength = 120

// tokenInput is a token create or update body. Pointers tell absent fields
// on update, which keep their value.
type tokenInput struct {
	Name      string          `json:"name"`
	Policies  []policyInput   `json:"policies"`
	Condition *conditionInput `json:"condition"`
	NotBefore *time.Time      `json:"not_before"`
	ExpiresOn *time.Time      `json:"expires_on"`
	Status    *string         `json:"status"`
}

func tokenInvalid(err error) *wire.Failure {
	return wire.Fail(http.StatusBadRequest, CodeTokenInvalid, "Invalid token: "+err.Error())
}

// createTokenLocked stores a new token with the given value.
func (s *Server) createTokenLocked(in tokenInput, value string) (*token, *wire.Failure) {
	if len(s.tokens) >= s.tokenQuota {
		return nil, wire.Failf(http.StatusBadRequest, CodeTokenQuota,
			"Token quota exceeded: the account already has %d API tokens (limit %d)", len(s.tokens), s.tokenQuota)
	}
	now := s.now()
	t := &token{
		id:       s.newID(),
		hash:     sha256.Sum256([]byte(value)),
		issued:   now,
		modified: now,
		lastUsed: new(atomic.Int64),
		seq:      s.seq.Add(1),
	}
	if _, taken := s.byHash[t.hash]; taken {
		return nil, tokenInvalid(errors.New("value already in use"))
	}
	if f := s.applyTokenInput(t, in, true); f != nil {
		return nil, f
	}
	s.tokens[t.id] = t
	s.byHash[t.hash] = t
	return t, nil
}

// applyTokenInput validates in and writes it into t; on update (create
// false) absent fields keep their values.
func (s *Server) applyTokenInput(t *token, in tokenInput, create bool) *wire.Failure {
	name := strings.TrimSpace(in.Name)
	switch {
	case name != "":
		if len(name) > maxTokenNameLength {
			return tokenInvalid(errors.New("name: at most 120 characters"))
		}
		t.name = name
	case create:
		return tokenInvalid(errors.New("name: required"))
	}
	if in.Policies != nil || create {
		pols, err := compilePolicies(in.Policies, s.acctID, func(id string) bool { return s.zones[id] != nil }, s.newID)
		if err != nil {
			return tokenInvalid(err)
		}
		t.policies = pols
	}
	if in.Condition != nil {
		ipc := in.Condition.requestIP()
		t.ipIn, t.ipNotIn, t.ipInRaw, t.ipNotRaw = nil, nil, nil, nil
		if ipc != nil {
			in, err := parseCIDRs(ipc.In, "condition.request.ip.in")
			if err != nil {
				return tokenInvalid(err)
			}
			notIn, err := parseCIDRs(ipc.NotIn, "condition.request.ip.not_in")
			if err != nil {
				return tokenInvalid(err)
			}
			t.ipIn, t.ipNotIn = in, notIn
			t.ipInRaw, t.ipNotRaw = append([]string(nil), ipc.In...), append([]string(nil), ipc.NotIn...)
		}
	}
	if in.NotBefore != nil {
		t.notBefore = in.NotBefore.UTC()
	}
	if in.ExpiresOn != nil {
		t.expiresOn = in.ExpiresOn.UTC()
	}
	if !t.notBefore.IsZero() && !t.expiresOn.IsZero() && !t.expiresOn.After(t.notBefore) {
		return tokenInvalid(errors.New("expires_on must be after not_before"))
	}
	if in.Status != nil {
		switch *in.Status {
		case "active":
			t.disabled = false
		case "disabled":
			t.disabled = true
		default:
			return tokenInvalid(errors.New(`status: must be "active" or "disabled"`))
		}
	}
	return nil
}

type groupJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type policyJSON struct {
	ID               string          `json:"id"`
	Effect           string          `json:"effect"`
	Resources        json.RawMessage `json:"resources"`
	PermissionGroups []groupJSON     `json:"permission_groups"`
}

type ipConditionJSON struct {
	In    []string `json:"in"`
	NotIn []string `json:"not_in"`
}

type tokenJSON struct {
	ID         string                     `json:"id"`
	Name       string                     `json:"name"`
	Status     string                     `json:"status"`
	IssuedOn   time.Time                  `json:"issued_on"`
	ModifiedOn time.Time                  `json:"modified_on"`
	LastUsedOn *time.Time                 `json:"last_used_on,omitempty"`
	NotBefore  *time.Time                 `json:"not_before,omitempty"`
	ExpiresOn  *time.Time                 `json:"expires_on,omitempty"`
	Policies   []policyJSON               `json:"policies"`
	Condition  map[string]ipConditionJSON `json:"condition,omitempty"`
	Value      string                     `json:"value,omitempty"`
}

func (s *Server) tokenJSON(t *token) tokenJSON {
	now := s.now()
	j := tokenJSON{ID: t.id, Name: t.name, Status: t.status(now), IssuedOn: t.issued, ModifiedOn: t.modified}
	if n := t.lastUsed.Load(); n != 0 {
		lu := time.Unix(0, n).UTC()
		j.LastUsedOn = &lu
	}
	if !t.notBefore.IsZero() {
		nb := t.notBefore
		j.NotBefore = &nb
	}
	if !t.expiresOn.IsZero() {
		eo := t.expiresOn
		j.ExpiresOn = &eo
	}
	for _, p := range t.policies {
		pj := policyJSON{ID: p.id, Effect: "allow", Resources: p.resources}
		if p.deny {
			pj.Effect = "deny"
		}
		for _, id := range p.groupIDs {
			pj.PermissionGroups = append(pj.PermissionGroups, groupJSON{ID: id, Name: permissionGroupByID[id].Name})
		}
		j.Policies = append(j.Policies, pj)
	}
	if j.Policies == nil {
		j.Policies = []policyJSON{}
	}
	if len(t.ipInRaw)+len(t.ipNotRaw) > 0 {
		c := ipConditionJSON{In: append([]string{}, t.ipInRaw...), NotIn: append([]string{}, t.ipNotRaw...)}
		// Cloudflare documents "request.ip"; cloudflare-go v7 reads
		// "request_ip". Both are written so either client sees it.
		j.Condition = map[string]ipConditionJSON{"request.ip": c, "request_ip": c}
	}
	return j
}

func (s *Server) needAccountPerm(rq *request, p perm) *wire.Failure {
	if f := s.checkAccount(rq); f != nil {
		return f
	}
	if !rq.tok.can(p, s.acctID, "") {
		return wire.ErrUnauthorized()
	}
	return nil
}

func decodeTokenInput(rq *request) (tokenInput, *wire.Failure) {
	var in tokenInput
	body, err := wire.ReadBody(rq.r)
	if err != nil {
		return in, wire.ErrMalformedJSON()
	}
	if err := json.Unmarshal(body, &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return in, tokenInvalid(err)
		}
		return in, wire.ErrMalformedJSON()
	}
	return in, nil
}

func (s *Server) createToken(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	if f := s.needAccountPerm(rq, permTokensWrite); f != nil {
		return nil, nil, nil, f
	}
	in, f := decodeTokenInput(rq)
	if f != nil {
		return nil, nil, nil, f
	}
	if in.Status != nil && *in.Status != "active" {
		return nil, nil, nil, tokenInvalid(errors.New(`status: a new token is "active"`))
	}
	value := newTokenValue()
	s.mu.Lock()
	t, f := s.createTokenLocked(in, value)
	s.mu.Unlock()
	if f != nil {
		return nil, nil, nil, f
	}
	j := s.tokenJSON(t)
	j.Value = value // the only time the value is ever returned
	return j, nil, nil, nil
}

func (s *Server) listTokens(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	if f := s.needAccountPerm(rq, permTokensRead); f != nil {
		return nil, nil, nil, f
	}
	q := rq.r.URL.Query()
	includeExpired := q.Get("include_expired") == "true"
	now := s.now()
	s.mu.RLock()
	var toks []*token
	for _, t := range s.sortedTokensLocked() {
		if includeExpired || t.status(now) != "expired" {
			toks = append(toks, t)
		}
	}
	s.mu.RUnlock()
	if q.Get("direction") == "desc" {
		for i, j := 0, len(toks)-1; i < j; i, j = i+1, j-1 {
			toks[i], toks[j] = toks[j], toks[i]
		}
	}
	lo, hi, info := wire.Paginate(q, len(toks), 20, 5, 50)
	out := make([]tokenJSON, 0, hi-lo)
	for _, t := range toks[lo:hi] {
		out = append(out, s.tokenJSON(t))
	}
	return out, &info, nil, nil
}

func (s *Server) tokenForLocked(rq *request) (*token, *wire.Failure) {
	t := s.tokens[rq.params["token"]]
	if t == nil {
		return nil, wire.Fail(http.StatusNotFound, CodeTokenNotFound, "Token not found")
	}
	return t, nil
}

func (s *Server) getToken(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	if f := s.needAccountPerm(rq, permTokensRead); f != nil {
		return nil, nil, nil, f
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, f := s.tokenForLocked(rq)
	if f != nil {
		return nil, nil, nil, f
	}
	return s.tokenJSON(t), nil, nil, nil
}

// updateToken replaces the fields given; the value stays the same.
func (s *Server) updateToken(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	if f := s.needAccountPerm(rq, permTokensWrite); f != nil {
		return nil, nil, nil, f
	}
	in, f := decodeTokenInput(rq)
	if f != nil {
		return nil, nil, nil, f
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, f := s.tokenForLocked(rq)
	if f != nil {
		return nil, nil, nil, f
	}
	t := *old
	if f := s.applyTokenInput(&t, in, false); f != nil {
		return nil, nil, nil, f
	}
	t.modified = s.now()
	s.tokens[t.id] = &t
	s.byHash[t.hash] = &t
	return s.tokenJSON(&t), nil, nil, nil
}

func (s *Server) deleteToken(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	if f := s.needAccountPerm(rq, permTokensWrite); f != nil {
		return nil, nil, nil, f
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t, f := s.tokenForLocked(rq)
	if f != nil {
		return nil, nil, nil, f
	}
	delete(s.tokens, t.id)
	delete(s.byHash, t.hash)
	return map[string]string{"id": t.id}, nil, nil, nil
}

// rollToken gives the token a new value; the old one stops working at
// once.
func (s *Server) rollToken(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	if f := s.needAccountPerm(rq, permTokensWrite); f != nil {
		return nil, nil, nil, f
	}
	value := newTokenValue()
	s.mu.Lock()
	defer s.mu.Unlock()
	old, f := s.tokenForLocked(rq)
	if f != nil {
		return nil, nil, nil, f
	}
	t := *old
	t.hash = sha256.Sum256([]byte(value))
	t.modified = s.now()
	delete(s.byHash, old.hash)
	s.tokens[t.id] = &t
	s.byHash[t.hash] = &t
	return value, nil, nil, nil
}

type verifyJSON struct {
	ID        string     `json:"id"`
	Status    string     `json:"status"`
	NotBefore *time.Time `json:"not_before,omitempty"`
	ExpiresOn *time.Time `json:"expires_on,omitempty"`
}

func (s *Server) verifyAccountToken(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	if rq.params["account"] != s.acctID {
		return nil, nil, nil, wire.Fail(http.StatusUnauthorized, CodeInvalidAPIToken, "Invalid API Token")
	}
	t := rq.tok
	v := verifyJSON{ID: t.id, Status: t.status(s.now())}
	if !t.notBefore.IsZero() {
		nb := t.notBefore
		v.NotBefore = &nb
	}
	if !t.expiresOn.IsZero() {
		eo := t.expiresOn
		v.ExpiresOn = &eo
	}
	return v, nil, []Message{{Code: 10000, Message: "This API Token is valid and active"}}, nil
}

// verifyUserToken is /user/tokens/verify. Every simulator token is an
// account token, which Cloudflare's user endpoint does not know.
func (s *Server) verifyUserToken(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	return nil, nil, nil, wire.Fail(http.StatusUnauthorized, CodeInvalidAPIToken, "Invalid API Token")
}

func (s *Server) listPermissionGroups(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	if f := s.needAccountPerm(rq, permTokensRead); f != nil {
		return nil, nil, nil, f
	}
	q := rq.r.URL.Query()
	name, scope := q.Get("name"), q.Get("scope")
	out := []PermissionGroup{}
	for _, g := range permissionGroups {
		if name != "" && !strings.EqualFold(g.Name, name) {
			continue
		}
		if scope != "" && g.Scopes[0] != scope {
			continue
		}
		out = append(out, g)
	}
	info := ResultInfo{Page: 1, PerPage: len(out), Count: len(out), TotalCount: len(out), TotalPages: 1}
	return out, &info, nil, nil
}
