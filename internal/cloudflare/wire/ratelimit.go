package wire

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// RateLimiter is Cloudflare's limit: a sliding-window log per token: a request is allowed when
// fewer than limit requests were allowed in the window before it.
type RateLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	log    map[string][]time.Time // token ID -> allowed request times, oldest first
}

// NewRateLimiter allows limit requests per window per key; limit <= 0
// allows everything.
func NewRateLimiter(limit int, window time.Duration) *RateLimiter {
	return &RateLimiter{limit: limit, window: window, log: map[string][]time.Time{}}
}

// Set changes the limit and forgets past requests.
func (l *RateLimiter) Set(limit int, window time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if window <= 0 {
		window = 5 * time.Minute
	}
	l.limit, l.window = limit, window
	l.log = map[string][]time.Time{}
}

// Allow records a request by key at now, or answers 429 with Retry-After.
func (l *RateLimiter) Allow(key string, now time.Time) *Failure {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.limit <= 0 {
		return nil
	}
	ts := l.log[key]
	cut := 0
	for cut < len(ts) && !ts[cut].After(now.Add(-l.window)) {
		cut++
	}
	ts = ts[cut:]
	if len(ts) >= l.limit {
		l.log[key] = ts
		wait := ts[len(ts)-l.limit].Add(l.window).Sub(now)
		secs := int((wait + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		f := Fail(http.StatusTooManyRequests, CodeRateLimited, "Please wait and consider throttling your request speed")
		f.Header = http.Header{}
		f.Header.Set("Retry-After", strconv.Itoa(secs))
		f.Header.Set("Ratelimit", fmt.Sprintf(`"default";r=0;t=%d`, secs))
		f.Header.Set("Ratelimit-Policy", fmt.Sprintf(`"default";q=%d;w=%d`, l.limit, int(l.window/time.Second)))
		return f
	}
	if cap(ts) > 4*l.limit {
		ts = append(make([]time.Time, 0, l.limit), ts...)
	}
	l.log[key] = append(ts, now)
	return nil
}
