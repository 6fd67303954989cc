package sim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

const (
	testMaster  = "Master-Token-Value-0123456789abcdefghijk"
	testAccount = "0123456789abcdef0123456789abcdef"
)

// fakeClock is an injectable clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	srv   *Server
	ts    *httptest.Server
	clock *fakeClock
}

func newFixture(t testing.TB, mutate ...func(*Config)) *fixture {
	t.Helper()
	clk := newFakeClock()
	cfg := Config{
		AccountID:   testAccount,
		AccountName: "test account",
		Zones:       []string{"example.com", "example.org"},
		MasterToken: testMaster,
		Now:         clk.Now,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &fixture{srv: srv, ts: ts, clock: clk}
}

// apiResp is a decoded API answer.
type apiResp struct {
	Status  int
	Header  http.Header
	Raw     map[string]json.RawMessage
	Success bool
	Errors  []APIError
	Result  json.RawMessage
	Info    *ResultInfo
}

func (r apiResp) code() int {
	if len(r.Errors) == 0 {
		return 0
	}
	return r.Errors[0].Code
}

func (f *fixture) call(t testing.TB, method, path, token string, body any) apiResp {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, f.ts.URL+"/client/v4"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := apiResp{Status: res.StatusCode, Header: res.Header}
	if err := json.Unmarshal(raw, &out.Raw); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
	}
	_ = json.Unmarshal(out.Raw["success"], &out.Success)
	_ = json.Unmarshal(out.Raw["errors"], &out.Errors)
	out.Result = out.Raw["result"]
	if ri, ok := out.Raw["result_info"]; ok {
		out.Info = new(ResultInfo)
		_ = json.Unmarshal(ri, out.Info)
	}
	return out
}

func (f *fixture) mustOK(t testing.TB, method, path, token string, body any) apiResp {
	t.Helper()
	r := f.call(t, method, path, token, body)
	if r.Status != http.StatusOK || !r.Success {
		t.Fatalf("%s %s: status %d, errors %+v", method, path, r.Status, r.Errors)
	}
	return r
}

func decode[T any](t testing.TB, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// mint makes a token directly and returns its value.
func (f *fixture) mint(t testing.TB, spec TokenSpec) (TokenInfo, string) {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "test"
	}
	info, value, err := f.srv.MintToken(spec)
	if err != nil {
		t.Fatalf("MintToken: %v", err)
	}
	return info, value
}

func zoneRes(zoneID string) map[string]any {
	return map[string]any{resourceZonePrefix + zoneID: "*"}
}

func accountRes() map[string]any {
	return map[string]any{resourceAccountPrefix + testAccount: "*"}
}

func allow(res map[string]any, groups ...string) Policy {
	return Policy{Effect: "allow", PermissionGroupIDs: groups, Resources: res}
}

type rec struct {
	ID       string      `json:"id"`
	Name     string      `json:"name"`
	Type     string      `json:"type"`
	Content  string      `json:"content"`
	TTL      int         `json:"ttl"`
	Proxied  bool        `json:"proxied"`
	Comment  *string     `json:"comment"`
	Priority *int        `json:"priority"`
	Data     *RecordData `json:"data"`
}
