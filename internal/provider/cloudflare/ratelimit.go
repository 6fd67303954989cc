package cloudflare

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"sync"
	"time"
	"weak"
)

// limiter paces requests of one credential: at most n in any window (a sliding
// window over the times of the last n requests, which is what Cloudflare
// enforces), and none while paused by a 429's Retry-After.
type limiter struct {
	mu          sync.Mutex
	n           int
	window      time.Duration
	times       []time.Time // ring of the last n admissions
	head        int         // oldest admission, once the ring is full
	pausedUntil time.Time
	now         func() time.Time
}

func newLimiter(n int, window time.Duration) *limiter {
	return &limiter{n: n, window: window, times: make([]time.Time, 0, min(n, 4096)), now: time.Now}
}

// reserve admits a request now and returns 0, or returns how long to wait
// before asking again.
func (l *limiter) reserve() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if now.Before(l.pausedUntil) {
		return l.pausedUntil.Sub(now)
	}
	if len(l.times) < l.n {
		l.times = append(l.times, now)
		return 0
	}
	if free := l.times[l.head].Add(l.window); now.Before(free) {
		return free.Sub(now)
	}
	l.times[l.head] = now
	l.head = (l.head + 1) % l.n
	return 0
}

// wait blocks until a request may be sent. When the wait would be longer than
// max, or longer than the context allows, it returns a *throttled error at
// once instead.
func (l *limiter) wait(ctx context.Context, max time.Duration) error {
	for {
		d := l.reserve()
		if d <= 0 {
			return nil
		}
		if d > max {
			return &throttled{wait: d}
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
			return &throttled{wait: d}
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// pause holds every request back for d (a 429's Retry-After).
func (l *limiter) pause(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until := l.now().Add(d); until.After(l.pausedUntil) {
		l.pausedUntil = until
	}
}

// throttled is the client-side limiter refusing to wait as long as needed.
type throttled struct{ wait time.Duration }

func (e *throttled) Error() string {
	return fmt.Sprintf("client-side rate limit: next request possible in %s", e.wait.Round(time.Millisecond))
}

// limiters shares one limiter per credential and API: the key is a hash of the
// base URL and the token, so the registry holds no secret. Entries go away when
// no Provider uses them any more.
var limiters = struct {
	sync.Mutex
	m map[string]weak.Pointer[limiter]
}{m: map[string]weak.Pointer[limiter]{}}

func limiterKey(baseURL, token string) string {
	h := sha256.Sum256([]byte(baseURL + "\x00" + token))
	return hex.EncodeToString(h[:])
}

// sharedLimiter returns the limiter for the key, creating it with n per window
// when there is none. The first Provider's limits win.
func sharedLimiter(key string, n int, window time.Duration) *limiter {
	limiters.Lock()
	defer limiters.Unlock()
	if l := limiters.m[key].Value(); l != nil {
		return l
	}
	l := newLimiter(n, window)
	wp := weak.Make(l)
	limiters.m[key] = wp
	runtime.AddCleanup(l, func(key string) {
		limiters.Lock()
		defer limiters.Unlock()
		if limiters.m[key] == wp {
			delete(limiters.m, key)
		}
	}, key)
	return l
}
