package dyndns

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/scopedns/scopedns/internal/zonewriter"
)

const (
	zone      = "dyn.example.com"
	zoneID    = "zone-dyn"
	otherZone = "example.org"

	userA     = "team-a.prod"
	passwordA = "current-password-of-team-a"
	previousA = "previous-password-of-team-a"
	userB     = "team-b.prod"
	passwordB = "password-of-team-b"

	home   = "home.team-a.dyn.example.com"
	v4only = "v4only.team-a.dyn.example.com"
	short  = "short.team-a.dyn.example.com"
	nas    = "nas.team-a.example.org"
	hostB  = "b.team-b.dyn.example.com"
)

func testUsers() *UserStore {
	return NewUserStore(
		User{
			Username:  userA,
			Passwords: []string{passwordA, previousA},
			Hosts: map[string]Host{
				home:   {Zone: zone, ZoneID: zoneID},
				v4only: {Zone: zone, ZoneID: zoneID},
				short:  {Zone: zone, ZoneID: zoneID},
				nas:    {Zone: otherZone, ZoneID: "zone-org"},
			},
			Tenant: zonewriter.Tenant{
				Namespace: "team-a", Scope: "prod", Owner: "owner-a",
				Grants: map[zonewriter.Grant]int32{
					{Name: home, Type: "A"}: 300, {Name: home, Type: "AAAA"}: 300,
					{Name: v4only, Type: "A"}: 0,
					{Name: short, Type: "A"}:  30,
					{Name: nas, Type: "A"}:    0,
				},
			},
		},
		User{
			Username:  userB,
			Passwords: []string{passwordB},
			Hosts:     map[string]Host{hostB: {Zone: zone, ZoneID: zoneID}},
			Tenant: zonewriter.Tenant{
				Namespace: "team-b", Scope: "prod", Owner: "owner-b",
				Grants: map[zonewriter.Grant]int32{{Name: hostB, Type: "A"}: 0},
			},
		},
	)
}

// fakeWriter answers Replace like the zone writer does from its snapshot:
// unchanged when the RRset already is the values. fail makes a name's
// writes fail with that error.
type fakeWriter struct {
	mu      sync.Mutex
	records map[string][]string // "name TYPE" -> values
	fail    map[string]error
	calls   []zonewriter.Request
}

func newFakeWriter() *fakeWriter {
	return &fakeWriter{records: map[string][]string{}, fail: map[string]error{}}
}

func (f *fakeWriter) Write(_ context.Context, r zonewriter.Request) (zonewriter.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r)
	for _, op := range r.Ops {
		if err := f.fail[op.Name]; err != nil {
			return zonewriter.Result{}, err
		}
	}
	var res zonewriter.Result
	for _, op := range r.Ops {
		if op.Kind != zonewriter.Replace {
			return res, &zonewriter.Error{Code: zonewriter.Invalid, Reason: "fake: only Replace"}
		}
		k := op.Name + " " + op.Type
		switch old, ok := f.records[k]; {
		case !ok:
			res.Created++
		case !slices.Equal(old, op.Values):
			res.Updated++
		default:
			continue
		}
		f.records[k] = slices.Clone(op.Values)
	}
	return res, nil
}

// writes lists what was written, "name TYPE value ttl", sorted.
func (f *fakeWriter) writes() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.calls {
		for _, op := range r.Ops {
			out = append(out, fmt.Sprintf("%s %s %s %d", op.Name, op.Type, strings.Join(op.Values, ","), op.TTL))
		}
	}
	slices.Sort(out)
	return out
}

func (f *fakeWriter) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	h      *Handler
	writer *fakeWriter
	clock  *clock
	logs   *syncBuffer
}

func newFixture(t *testing.T, mutate func(*Options)) *fixture {
	t.Helper()
	f := &fixture{writer: newFakeWriter(), clock: newClock(), logs: &syncBuffer{}}
	o := Options{
		Users: testUsers(), Writer: f.writer, Now: f.clock.Now, Rate: rate.Inf,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Logger:         slog.New(slog.NewJSONHandler(f.logs, nil)),
	}
	if mutate != nil {
		mutate(&o)
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// req describes one request.
type req struct {
	method     string
	query      string
	form       string
	user, pass string
	noAuth     bool
	remote     string
	xff        string
}

func (f *fixture) do(r req) *httptest.ResponseRecorder {
	method := r.method
	if method == "" {
		method = http.MethodGet
	}
	var body *strings.Reader
	if r.form != "" {
		body = strings.NewReader(r.form)
	} else {
		body = strings.NewReader("")
	}
	hr := httptest.NewRequest(method, "/nic/update", body)
	hr.URL.RawQuery = r.query
	if r.form != "" {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if !r.noAuth {
		user, pass := r.user, r.pass
		if user == "" {
			user, pass = userA, passwordA
		}
		hr.SetBasicAuth(user, pass)
	}
	hr.RemoteAddr = r.remote
	if hr.RemoteAddr == "" {
		hr.RemoteAddr = "198.51.100.9:40000"
	}
	if r.xff != "" {
		hr.Header.Set("X-Forwarded-For", r.xff)
	}
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, hr)
	return w
}
