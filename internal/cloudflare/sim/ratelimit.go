package sim

import (
	"github.com/scopedns/scopedns/internal/cloudflare/wire"

	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// rateLimiter is a sliding-window log per token: a request is allowed when
// fewer than limit requests were allowed in the window before it.
type rateLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	log    map[string][]time.Time // token ID -> allowed request times, oldest first
}

func newRateLimiter(limit int, window time.Duration) *rateLimiter {
	return &rateLimiter{limit: limit, window: window, log: map[string][]time.Time{}}
}

func (l *rateLimiter) set(limit int, window time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if window <= 0 {
		window = DefaultRateWindow
	}
	l.limit, l.window = limit, window
	l.log = map[string][]time.Time{}
}

// allow records a request by key at now, or answers 429 with Retry-After.
func (l *rateLimiter) allow(key string, now time.Time) *wire.Failure {
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
		f := wire.Fail(http.StatusTooManyRequests, CodeRateLimited, "Please wait and consider throttling your request speed")
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
