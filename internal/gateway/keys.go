package gateway

import (
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/time/rate"
)

// KeyStore is a Keys the controllers can fill: safe for concurrent use, keys
// looked up by name without regard to case or a trailing dot.
type KeyStore struct {
	mu   sync.RWMutex
	keys map[string]Key
}

// NewKeyStore returns a store holding keys.
func NewKeyStore(keys ...Key) *KeyStore {
	s := &KeyStore{keys: map[string]Key{}}
	for _, k := range keys {
		s.keys[keyName(k.Name)] = k
	}
	return s
}

// Key implements Keys.
func (s *KeyStore) Key(name string) (Key, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k, ok := s.keys[keyName(name)]
	return k, ok
}

// Put adds or replaces a key. The store keeps k as given: the caller must not
// change its maps or slices afterwards.
func (s *KeyStore) Put(k Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[string]Key{}
	}
	s.keys[keyName(k.Name)] = k
}

// Delete removes a key by name.
func (s *KeyStore) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, keyName(name))
}

// Replace swaps the whole set of keys at once.
func (s *KeyStore) Replace(keys []Key) {
	m := make(map[string]Key, len(keys))
	for _, k := range keys {
		m[keyName(k.Name)] = k
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = m
}

// Len is the number of keys held.
func (s *KeyStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.keys)
}

func keyName(n string) string { return dns.CanonicalName(strings.TrimSpace(n)) }

// CanonicalAlgorithm returns the TSIG algorithm name (dns.HmacSHA256 or
// dns.HmacSHA512) for the spellings in use: "hmac-sha256", "hmac-sha256.",
// "HMACSHA256" (cert-manager), "sha256". Every other algorithm, MD5 and SHA-1
// included, gives false.
func CanonicalAlgorithm(a string) (string, bool) {
	s := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(a), "."))
	s = strings.ReplaceAll(s, "-", "")
	switch s {
	case "hmacsha256", "sha256":
		return dns.HmacSHA256, true
	case "hmacsha512", "sha512":
		return dns.HmacSHA512, true
	}
	return "", false
}

// limiters holds one token bucket per key name.
type limiters struct {
	limit rate.Limit
	burst int
	mu    sync.Mutex
	m     map[string]*rate.Limiter
}

const limiterPruneAt = 10000

func newLimiters(perSecond float64, burst int) *limiters {
	l := rate.Limit(perSecond)
	if perSecond < 0 {
		l = rate.Inf
	}
	return &limiters{limit: l, burst: burst, m: map[string]*rate.Limiter{}}
}

func (l *limiters) allow(key string, now time.Time) bool {
	if l.limit == rate.Inf {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.m[key]
	if lim == nil {
		if len(l.m) >= limiterPruneAt {
			// A full bucket is the same as a new one: forget those.
			for k, v := range l.m {
				if v.TokensAt(now) >= float64(l.burst) {
					delete(l.m, k)
				}
			}
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.m[key] = lim
	}
	return lim.AllowN(now, 1)
}
