package main

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// offsetClock is the operator's clock: the wall clock plus an offset the
// benchmark moves forward, so time keeps flowing (zone snapshot ages, backoff)
// and a rotation can still be brought forward by weeks at once.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// meter wraps the simulator's HTTP handler and records every request made
// with the operator's master token: arrival time and answer status. Requests
// made with tenant tokens (the benchmark's own token checks) are not counted.
type meter struct {
	next   http.Handler
	bearer string

	mu       sync.Mutex
	arrivals []time.Time
	status   map[int]int
}

func newMeter(next http.Handler, masterToken string) *meter {
	return &meter{next: next, bearer: "Bearer " + masterToken, status: map[int]int{}}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (m *meter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != m.bearer {
		m.next.ServeHTTP(w, r)
		return
	}
	if traceProvider {
		logf("provider request: %s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery)
	}
	m.mu.Lock()
	m.arrivals = append(m.arrivals, time.Now())
	m.mu.Unlock()
	sw := &statusRecorder{ResponseWriter: w}
	m.next.ServeHTTP(sw, r)
	m.mu.Lock()
	m.status[sw.status]++
	m.mu.Unlock()
}

type meterMark struct {
	n      int
	status map[int]int
	at     time.Time
}

func (m *meter) mark() meterMark {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := make(map[int]int, len(m.status))
	for k, v := range m.status {
		st[k] = v
	}
	return meterMark{n: len(m.arrivals), status: st, at: time.Now()}
}

// since reports requests and 429s after mark, and the most requests that
// arrived in any window of the given length among them.
func (m *meter) since(mk meterMark, window time.Duration) (requests, tooMany, maxInWindow int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ts := m.arrivals[mk.n:]
	requests = len(ts)
	tooMany = m.status[http.StatusTooManyRequests] - mk.status[http.StatusTooManyRequests]
	lo := 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= window {
			lo++
		}
		maxInWindow = max(maxInWindow, hi-lo+1)
	}
	return requests, tooMany, maxInWindow
}

// opsDiff is b - a per operation, without zero entries.
func opsDiff(a, b map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range b {
		if d := v - a[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// opsString renders per-operation counts, largest first.
func opsString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+" "+itoa(m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// providerWrites are the simulator operations that change records or tokens.
var providerWrites = map[string]bool{
	"dns_records.create": true, "dns_records.batch": true, "dns_records.update": true, "dns_records.edit": true,
	"dns_records.delete": true, "tokens.create": true, "tokens.update": true, "tokens.delete": true, "tokens.roll": true,
}

func writesOf(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if providerWrites[k] {
			out[k] = v
		}
	}
	return out
}

// apiCounter counts the manager's requests to the API server by verb and
// resource, through rest.Config.WrapTransport.
type apiCounter struct {
	mu sync.Mutex
	m  map[string]int
}

func (a *apiCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		a.count(r.Method, r.URL)
		return rt.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (a *apiCounter) count(method string, u *url.URL) {
	verb := method
	if method == http.MethodGet {
		verb = "GET"
		if u.Query().Get("watch") == "true" {
			verb = "WATCH"
		}
	}
	key := verb + " " + resourceOf(u.Path)
	a.mu.Lock()
	if a.m == nil {
		a.m = map[string]int{}
	}
	a.m[key]++
	a.mu.Unlock()
}

func (a *apiCounter) snapshot() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]int, len(a.m))
	for k, v := range a.m {
		out[k] = v
	}
	return out
}

// resourceOf turns /api/v1/namespaces/x/secrets/y or
// /apis/g/v/namespaces/x/r/y/status into "secrets" or "r/status".
func resourceOf(path string) string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(segs) >= 2 && segs[0] == "api":
		segs = segs[2:]
	case len(segs) >= 3 && segs[0] == "apis":
		segs = segs[3:]
	default:
		return path
	}
	if len(segs) >= 3 && segs[0] == "namespaces" {
		segs = segs[2:]
	}
	if len(segs) == 0 {
		return "?"
	}
	if len(segs) >= 3 {
		return segs[0] + "/" + segs[2]
	}
	return segs[0]
}

func writesToAPI(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if !strings.HasPrefix(k, "GET ") && !strings.HasPrefix(k, "WATCH ") {
			out[k] = v
		}
	}
	return out
}

func getsOf(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if strings.HasPrefix(k, "GET ") {
			out[k] = v
		}
	}
	return out
}

// traceProvider logs every metered request's method, path and query (never
// its headers or body: no token or record value), to tell which operations
// a figure is made of (flag -trace-provider).
var traceProvider bool
