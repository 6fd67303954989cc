package acmedns

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/zonewriter"
)

const (
	userA      = "4b5b3a47-6a8c-4d1a-9d3c-2d7e0a1b2c3d"
	subA       = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
	passA      = "current-password-of-team-a-0123456789ab"
	passAPrev  = "previous-password-of-team-a-0123456789a"
	userB      = "0f1e2d3c-4b5a-4968-8776-655443322110"
	subB       = "11111111-2222-4333-8444-555555555555"
	passB      = "password-of-team-b-0123456789abcdefghij"
	nameA      = "_acme-challenge.web.team-a.example.com"
	nameB      = "_acme-challenge.web.team-b.example.com"
	validValue = "LHDhK3oGRvkiefQnx7OOczTY5Tic_xZ6HcMOc_gmtoM" // 43 characters
)

func accountA() Account {
	return Account{
		Username: userA, Passwords: []string{passA, passAPrev}, Subdomain: subA, Name: nameA,
		Zone: "example.com", ZoneID: "zone-1",
		Tenant: zonewriter.Tenant{Namespace: "team-a", Scope: "prod", Owner: "owner-a",
			Grants: map[zonewriter.Grant]int32{{Name: nameA, Type: "TXT"}: 0}},
	}
}

func accountB() Account {
	return Account{
		Username: userB, Passwords: []string{passB}, Subdomain: subB, Name: nameB,
		Zone: "example.com", ZoneID: "zone-1",
		Tenant: zonewriter.Tenant{Namespace: "team-b", Scope: "prod", Owner: "owner-b",
			Grants: map[zonewriter.Grant]int32{{Name: nameB, Type: "TXT"}: 0}},
	}
}

// fakeWriter records the requests and answers err (nil: success).
type fakeWriter struct {
	mu   sync.Mutex
	reqs []zonewriter.Request
	err  error
}

func (f *fakeWriter) Write(_ context.Context, r zonewriter.Request) (zonewriter.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reqs = append(f.reqs, r)
	if f.err != nil {
		return zonewriter.Result{}, f.err
	}
	return zonewriter.Result{Created: 1}, nil
}

func (f *fakeWriter) requests() []zonewriter.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]zonewriter.Request(nil), f.reqs...)
}

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

// clock is a settable clock for the stale-value tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	h     *Handler
	w     *fakeWriter
	logs  *syncBuffer
	clock *clock
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{w: &fakeWriter{}, logs: &syncBuffer{}, clock: &clock{t: time.Unix(1_800_000_000, 0)}}
	h, err := New(Options{
		Accounts: NewAccountStore(accountA(), accountB()), Writer: f.w,
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)), Now: f.clock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	return f
}

// do sends one request; headers are X-Api-User, X-Api-Key (empty: not sent).
func (f *fixture) do(method, path, user, key, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.RemoteAddr = "192.0.2.7:40000"
	if user != "" {
		r.Header.Set("X-Api-User", user)
	}
	if key != "" {
		r.Header.Set("X-Api-Key", key)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, r)
	return rec
}

func body(sub, txt string) string { return `{"subdomain":"` + sub + `","txt":"` + txt + `"}` }

func TestUpdateAnswers(t *testing.T) {
	cases := map[string]struct {
		method, path, user, key, body string
		writerErr                     error
		wantStatus                    int
		wantBody                      string
		wantWrite                     bool
	}{
		"a valid update is written and its value echoed": {
			user: userA, key: passA, body: body(subA, validValue),
			wantStatus: 200, wantBody: `{"txt": "` + validValue + `"}`, wantWrite: true,
		},
		"the previous password is accepted during a rotation": {
			user: userA, key: passAPrev, body: body(subA, validValue), wantStatus: 200, wantWrite: true,
		},
		"lego's capitalised keys are read as acme-dns reads them": {
			user: userA, key: passA, body: `{"SubDomain":"` + subA + `","Txt":"` + validValue + `"}`, wantStatus: 200, wantWrite: true,
		},
		"unknown keys and trailing bytes are ignored like acme-dns": {
			user: userA, key: passA, body: `{"subdomain":"` + subA + `","txt":"` + validValue + `","x":1} trailing`, wantStatus: 200, wantWrite: true,
		},
		"an unknown user is forbidden": {
			user: "00000000-0000-4000-8000-000000000000", key: passA, body: body(subA, validValue),
			wantStatus: 401, wantBody: `{"error": "forbidden"}`,
		},
		"no headers at all is forbidden": {body: body(subA, validValue), wantStatus: 401, wantBody: `{"error": "forbidden"}`},
		"a wrong key is forbidden": {
			user: userA, key: "wrong-password-0123456789abcdefghijklmn", body: body(subA, validValue),
			wantStatus: 401, wantBody: `{"error": "forbidden"}`,
		},
		"another account's key is forbidden": {
			user: userA, key: passB, body: body(subA, validValue), wantStatus: 401, wantBody: `{"error": "forbidden"}`,
		},
		"a key that is a prefix of the password is forbidden": {
			user: userA, key: passA[:20], body: body(subA, validValue), wantStatus: 401, wantBody: `{"error": "forbidden"}`,
		},
		"an unknown subdomain is forbidden": {
			user: userA, key: passA, body: body("00000000-0000-4000-8000-000000000000", validValue),
			wantStatus: 401, wantBody: `{"error": "forbidden"}`,
		},
		"another account's subdomain is forbidden": {
			user: userA, key: passA, body: body(subB, validValue), wantStatus: 401, wantBody: `{"error": "forbidden"}`,
		},
		"malformed JSON is forbidden as acme-dns answers it": {
			user: userA, key: passA, body: `{"subdomain":"` + subA + `","txt":`, wantStatus: 401, wantBody: `{"error": "forbidden"}`,
		},
		"an empty body is forbidden as acme-dns answers it": {
			user: userA, key: passA, body: ``, wantStatus: 401, wantBody: `{"error": "forbidden"}`,
		},
		"a body over 4 KiB is forbidden": {
			user: userA, key: passA, body: `{"subdomain":"` + subA + `","txt":"` + validValue + `","pad":"` + strings.Repeat("x", 5000) + `"}`,
			wantStatus: 401, wantBody: `{"error": "forbidden"}`,
		},
		"a subdomain that is not a DNS label is bad_subdomain": {
			user: userA, key: passA, body: body("not_a.label", validValue), wantStatus: 400, wantBody: `{"error": "bad_subdomain"}`,
		},
		"a 44-character TXT is bad_txt": {
			user: userA, key: passA, body: body(subA, validValue+"A"), wantStatus: 400, wantBody: `{"error": "bad_txt"}`,
		},
		"a 42-character TXT is bad_txt": {
			user: userA, key: passA, body: body(subA, validValue[:42]), wantStatus: 400, wantBody: `{"error": "bad_txt"}`,
		},
		"a TXT outside base64url is bad_txt": {
			user: userA, key: passA, body: body(subA, validValue[:42]+"="), wantStatus: 400, wantBody: `{"error": "bad_txt"}`,
		},
		"a TXT of the wrong JSON type is bad_txt as in acme-dns": {
			user: userA, key: passA, body: `{"subdomain":"` + subA + `","txt":5}`, wantStatus: 400, wantBody: `{"error": "bad_txt"}`,
		},
		"a write the zone writer refuses is forbidden": {
			user: userA, key: passA, body: body(subA, validValue), writerErr: &zonewriter.Error{Code: zonewriter.Refused, Reason: "not granted"},
			wantStatus: 401, wantBody: `{"error": "forbidden"}`, wantWrite: true,
		},
		"a write over budget is 429": {
			user: userA, key: passA, body: body(subA, validValue), writerErr: &zonewriter.Error{Code: zonewriter.OverBudget, Reason: "budget"},
			wantStatus: 429, wantBody: `{"error": "too_many_requests"}`, wantWrite: true,
		},
		"a provider failure is db_error as acme-dns answers a database error": {
			user: userA, key: passA, body: body(subA, validValue), writerErr: &zonewriter.Error{Code: zonewriter.Failed, Reason: "provider down"},
			wantStatus: 500, wantBody: `{"error": "db_error"}`, wantWrite: true,
		},
		"an error that is not the writer's is db_error": {
			user: userA, key: passA, body: body(subA, validValue), writerErr: errors.New("boom"),
			wantStatus: 500, wantBody: `{"error": "db_error"}`, wantWrite: true,
		},
		"GET /update is 405":  {method: "GET", user: userA, key: passA, wantStatus: 405},
		"GET /health is 200":  {method: "GET", path: "/health", wantStatus: 200},
		"POST /health is 405": {method: "POST", path: "/health", wantStatus: 405},
		"POST /register is 404: accounts come from claims": {
			path: "/register", body: `{"allowfrom":[]}`, wantStatus: 404,
		},
		"an unknown path is 404": {path: "/nic/update", wantStatus: 404},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			f.w.err = c.writerErr
			method, path := c.method, c.path
			if method == "" {
				method = http.MethodPost
			}
			if path == "" {
				path = "/update"
			}
			rec := f.do(method, path, c.user, c.key, c.body)
			if rec.Code != c.wantStatus {
				t.Fatalf("status %d, want %d; body %q", rec.Code, c.wantStatus, rec.Body.String())
			}
			if c.wantBody != "" {
				if got := rec.Body.String(); got != c.wantBody {
					t.Fatalf("body %q, want %q", got, c.wantBody)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
					t.Fatalf("Content-Type %q, want application/json", ct)
				}
			}
			if c.wantStatus == 429 && rec.Header().Get("Retry-After") != "30" {
				t.Fatalf("Retry-After %q, want 30", rec.Header().Get("Retry-After"))
			}
			reqs := f.w.requests()
			if got := len(reqs) > 0; got != c.wantWrite {
				t.Fatalf("wrote %v, want %v: %+v", got, c.wantWrite, reqs)
			}
			if c.wantWrite {
				checkAddRequest(t, reqs[0])
			}
			wantPending := 0
			if c.wantWrite && c.writerErr == nil {
				wantPending = 1
			}
			if f.h.Pending() != wantPending {
				t.Fatalf("%d values pending removal, want %d", f.h.Pending(), wantPending)
			}
			for _, secret := range []string{passA, passAPrev, passB, passA[:20]} {
				if strings.Contains(f.logs.String(), secret) || strings.Contains(rec.Body.String(), secret) {
					t.Fatalf("a password is in the audit or the body:\n%s", f.logs.String())
				}
			}
		})
	}
}

// checkAddRequest: the write is the account's one name, as the account's
// tenant, keeping two values, the value as plain TXT content.
func checkAddRequest(t *testing.T, r zonewriter.Request) {
	t.Helper()
	want := zonewriter.Op{Kind: zonewriter.AddKeepNewest, Name: nameA, Type: "TXT", Content: validValue, TTL: 60, Keep: 2}
	if r.Tenant.Namespace != "team-a" || r.Zone != "example.com" || r.ZoneID != "zone-1" || r.Protocol != "acme-dns" ||
		len(r.Ops) != 1 || len(r.Prereqs) != 0 || r.Ops[0].Kind != want.Kind || r.Ops[0].Name != want.Name ||
		r.Ops[0].Type != want.Type || r.Ops[0].Content != want.Content || r.Ops[0].TTL != want.TTL || r.Ops[0].Keep != want.Keep {
		t.Fatalf("request %+v, want team-a's zone-1 with op %+v", r, want)
	}
}

func TestOneAuditLinePerRequest(t *testing.T) {
	f := newFixture(t)
	f.do("POST", "/update", userA, passA, body(subA, validValue))
	f.do("POST", "/update", userA, passA, body(subA, validValue+"A"))
	logs := f.logs.String()
	if n := strings.Count(logs, `"msg":"acme-dns update"`); n != 2 {
		t.Fatalf("%d audit lines for 2 requests:\n%s", n, logs)
	}
	for _, want := range []string{`"status":200,"user":"` + userA + `","namespace":"team-a","name":"` + nameA + `"`, `"reason":"txt is not 43 characters of base64url"`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("audit lacks %s:\n%s", want, logs)
		}
	}
}

// TestUnknownUserHeaderIsNotLogged: a client that swapped its headers sends
// its password as X-Api-User; an unknown user is not named in the audit.
func TestUnknownUserHeaderIsNotLogged(t *testing.T) {
	f := newFixture(t)
	f.do("POST", "/update", passA, userA, body(subA, validValue))
	if logs := f.logs.String(); strings.Contains(logs, passA) || !strings.Contains(logs, `"status":401`) {
		t.Fatalf("audit names the unknown user or lacks the line:\n%s", logs)
	}
}

// TestUnauthenticatedFloodIsSampled: a thousand wrong-key requests from one
// address cost a handful of audit lines and one summary, every request still
// answered forbidden; an authenticated request is still logged.
func TestUnauthenticatedFloodIsSampled(t *testing.T) {
	f := newFixture(t)
	for i := range 1000 {
		if rec := f.do("POST", "/update", userA, "wrong", body(subA, validValue)); rec.Code != 401 {
			t.Fatalf("request %d answered %d", i, rec.Code)
		}
	}
	f.do("POST", "/update", userB, passB, body(subB, validValue))
	logs := f.logs.String()
	if n := strings.Count(logs, `"msg":"acme-dns update"`); n != 5+1 {
		t.Fatalf("%d audit lines, want 5 of the flood and 1 of team-b:\n%s", n, logs)
	}
	f.clock.add(time.Minute)
	f.do("POST", "/update", userA, "wrong", body(subA, validValue))
	if !strings.Contains(f.logs.String(), `"msg":"acme-dns unauthenticated updates not logged","suppressed":995`) {
		t.Fatalf("no summary line:\n%s", f.logs.String())
	}
	if len(f.w.requests()) != 1 {
		t.Fatalf("the flood wrote: %+v", f.w.requests())
	}
}

func TestNewRequiresAccountsAndWriter(t *testing.T) {
	if _, err := New(Options{Writer: &fakeWriter{}}); err == nil {
		t.Fatal("no Accounts accepted")
	}
	if _, err := New(Options{Accounts: NewAccountStore()}); err == nil {
		t.Fatal("no Writer accepted")
	}
}

func TestValidPassword(t *testing.T) {
	cases := map[string]struct {
		key       string
		passwords []string
		want      bool
	}{
		"the current password matches":         {"a", []string{"a", "b"}, true},
		"the previous password matches":        {"b", []string{"a", "b"}, true},
		"another password does not":            {"c", []string{"a", "b"}, false},
		"an empty key does not match an empty": {"", []string{"", "a"}, false},
		"no passwords match nothing":           {"a", nil, false},
		"a longer key does not":                {"ab", []string{"a"}, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if got := validPassword(c.key, c.passwords); got != c.want {
				t.Fatalf("validPassword(%q) = %v, want %v", c.key, got, c.want)
			}
		})
	}
}
