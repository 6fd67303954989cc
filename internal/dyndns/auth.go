package dyndns

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// passwordMatches compares given with every password, in constant time
// each and without stopping at a match, so the time taken says neither
// which password matched nor how much of one. Hashing first makes the
// compared lengths equal: ConstantTimeCompare returns at once on a length
// difference. An empty stored password never matches.
func passwordMatches(given string, passwords []string) bool {
	g := sha256.Sum256([]byte(given))
	match := 0
	for _, p := range passwords {
		if p == "" {
			continue
		}
		want := sha256.Sum256([]byte(p))
		match |= subtle.ConstantTimeCompare(g[:], want[:])
	}
	return match == 1
}

// decoyPasswords are compared when the username is unknown, so an unknown
// username takes as long as a wrong password (a login has at most a current
// and a previous password).
func decoyPasswords() []string {
	out := make([]string, 2)
	for i := range out {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		out[i] = hex.EncodeToString(b)
	}
	return out
}

// limiters hold one token bucket per login that logged in. Only
// authenticated usernames get one, so their number is bounded by the
// logins that exist; when more than maxLimiters accumulate (logins come and
// go), the full buckets are dropped: a new one starts full, so nothing is
// forgotten that matters.
type limiters struct {
	limit rate.Limit
	burst int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

const maxLimiters = 4096

func newLimiters(limit rate.Limit, burst int) *limiters {
	return &limiters{limit: limit, burst: burst, m: map[string]*rate.Limiter{}}
}

// allow takes n tokens (one per hostname, at most the burst) from the
// login's bucket.
func (l *limiters) allow(username string, n int, now time.Time) bool {
	if l.limit == rate.Inf {
		return true
	}
	n = min(max(n, 1), l.burst)
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[username]
	if !ok {
		if len(l.m) >= maxLimiters {
			l.pruneLocked(now)
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.m[username] = lim
	}
	return lim.AllowN(now, n)
}

func (l *limiters) pruneLocked(now time.Time) {
	for k, lim := range l.m {
		if lim.TokensAt(now) >= float64(l.burst) {
			delete(l.m, k)
		}
	}
}
