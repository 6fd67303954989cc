package cfapi

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/scopedns/scopedns/internal/logins"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// Token is one namespace's token.
type Token struct {
	// ID is what /user/tokens/verify answers: 32 hex characters, not secret.
	ID string
	// Values are the accepted bearer values: [current, previous during a
	// rotation overlap].
	Values []string
	// Tenant writes the records; its Grants are every (name, type) the
	// token may see and write.
	Tenant zonewriter.Tenant
	// Zones are the zones holding the grants, sorted by name.
	Zones []Zone
}

// Zone is a zone a token has grants in.
type Zone struct{ ID, Name string }

// zone returns the token's zone with that ID.
func (t *Token) zone(id string) (Zone, bool) {
	for _, z := range t.Zones {
		if z.ID == id {
			return z, true
		}
	}
	return Zone{}, false
}

// TokenStore holds the tokens, looked up by value. It is safe for concurrent
// use.
type TokenStore struct {
	s logins.Store[entry]
}

// entry is one accepted value of a token, by the value's SHA-256: the store
// holds no token value, and a lookup compares digests of fixed length.
type entry struct {
	digest string
	token  *Token
}

// NewTokenStore returns a store holding tokens.
func NewTokenStore(tokens ...Token) *TokenStore {
	s := &TokenStore{}
	s.Replace(tokens)
	return s
}

// Token returns the token a bearer value belongs to.
func (s *TokenStore) Token(value string) (*Token, bool) {
	e, ok := s.s.Get(digest(value))
	return e.token, ok
}

// Replace swaps the whole set at once. The store keeps the tokens as given:
// the caller must not change their maps or slices afterwards.
func (s *TokenStore) Replace(tokens []Token) { s.s.Replace(entries(tokens), entryDigest) }

// Set replaces the tokens of one owner (a namespace under a scope) only.
func (s *TokenStore) Set(owner string, tokens []Token) { s.s.Set(owner, entries(tokens), entryDigest) }

// entries are the accepted values of tokens, one entry each.
func entries(tokens []Token) []entry {
	var all []entry
	for i := range tokens {
		t := &tokens[i]
		for _, v := range t.Values {
			all = append(all, entry{digest: digest(v), token: t})
		}
	}
	return all
}

func entryDigest(e entry) string { return e.digest }

// Len is the number of accepted values held.
func (s *TokenStore) Len() int { return s.s.Len() }

func digest(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}
