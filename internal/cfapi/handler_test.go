package cfapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	cloudflare "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/dns"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/zones"

	"github.com/scopedns/scopedns/internal/cfapi"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/memory"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

const (
	zoneCom   = "example.com"
	zoneOrg   = "example.org"
	tokenA    = "team-a-token-value-0123456789abcdefghijk"
	tokenB    = "team-b-token-value-0123456789abcdefghijk"
	appA      = "app.team-a.example.com"
	appB      = "app.team-b.example.com"
	txtA      = "a-app.team-a.example.com"
	sharedTXT = "shared.example.com"
)

type fixture struct {
	store *memory.Store
	ts    *httptest.Server
	logs  *syncBuffer
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

func owner(ns string) string { return zonewriter.OwnerComment("test", ns) }

func token(store *memory.Store, ns, value string, grants ...zonewriter.Grant) cfapi.Token {
	g := map[zonewriter.Grant]int32{}
	for _, x := range grants {
		g[x] = 0
	}
	return cfapi.Token{
		ID: strings.Repeat(ns[len(ns)-1:], 32), Values: []string{value},
		Tenant: zonewriter.Tenant{Namespace: ns, Scope: "prod", Owner: owner(ns), Grants: g},
		Zones:  []cfapi.Zone{{ID: store.ZoneID(zoneCom), Name: zoneCom}},
	}
}

func newFixture(t *testing.T, o cfapi.Options) *fixture {
	t.Helper()
	store := memory.New(memory.Config{Zones: []string{zoneCom, zoneOrg}})
	w, err := zonewriter.New(zonewriter.Options{Providers: zonewriter.ProvidersFunc(func(context.Context, string) (zonewriter.Provider, error) {
		return store.Master(), nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: store, logs: &syncBuffer{}}
	o.Tokens = cfapi.NewTokenStore(
		token(store, "team-a", tokenA, zonewriter.Grant{Name: appA, Type: "A"}, zonewriter.Grant{Name: txtA, Type: "TXT"}, zonewriter.Grant{Name: sharedTXT, Type: "TXT"}),
		token(store, "team-b", tokenB, zonewriter.Grant{Name: appB, Type: "A"}, zonewriter.Grant{Name: sharedTXT, Type: "MX"}),
	)
	o.Writer = w
	o.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	h, err := cfapi.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(cfapi.Prefix, h)
	f.ts = httptest.NewServer(mux)
	t.Cleanup(f.ts.Close)
	return f
}

func (f *fixture) client(tok string) *cloudflare.Client {
	return cloudflare.NewClient(
		option.WithBaseURL(f.ts.URL+cfapi.Prefix), option.WithAPIToken(tok),
		option.WithHTTPClient(f.ts.Client()), option.WithMaxRetries(0),
	)
}

// seed writes records through the master credential, as another tenant or
// a person with the provider's console would.
func (f *fixture) seed(t *testing.T, recs ...provider.Record) {
	t.Helper()
	if _, err := f.store.Master().ApplyChanges(context.Background(), f.store.ZoneID(zoneCom), provider.Changes{Create: recs}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) records(name string) []string {
	var out []string
	for _, r := range f.store.Records(zoneCom) {
		if r.Name == name {
			out = append(out, r.Type+" "+r.Content)
		}
	}
	slices.Sort(out)
	return out
}

// raw sends one request and decodes the envelope.
func (f *fixture) raw(t *testing.T, tok, method, path, body string) (int, envelope) {
	t.Helper()
	req, err := http.NewRequest(method, f.ts.URL+"/client/v4"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%s %s: not an envelope: %s", method, path, b)
	}
	return resp.StatusCode, env
}

type envelope struct {
	Success bool `json:"success"`
	Errors  []struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"errors"`
	Result json.RawMessage `json:"result"`
}

func (e envelope) code() int {
	if len(e.Errors) == 0 {
		return 0
	}
	return e.Errors[0].Code
}

func apiError(t *testing.T, err error) (int, int, string) {
	t.Helper()
	var e *cloudflare.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *cloudflare.Error", err, err)
	}
	if len(e.Errors) == 0 {
		return e.StatusCode, 0, ""
	}
	return e.StatusCode, int(e.Errors[0].Code), e.Errors[0].Message
}

func TestATokenSeesOnlyItsZonesAndItsRRsets(t *testing.T) {
	f := newFixture(t, cfapi.Options{})
	f.seed(t,
		provider.Record{Name: appA, Type: "A", Content: "192.0.2.1", TTL: 60, Comment: owner("team-a")},
		provider.Record{Name: appB, Type: "A", Content: "192.0.2.2", TTL: 60, Comment: owner("team-b")},
		provider.Record{Name: sharedTXT, Type: "MX", Content: "10 mail.example.com", TTL: 60, Comment: owner("team-b")},
		provider.Record{Name: "payroll.example.com", Type: "TXT", Content: "secret-ish", TTL: 60},
	)
	ctx := context.Background()
	cf := f.client(tokenA)
	page, err := cf.Zones.List(ctx, zones.ZoneListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Result) != 1 || page.Result[0].Name != zoneCom {
		t.Fatalf("zones %+v, want only %s", page.Result, zoneCom)
	}
	if byName, err := cf.Zones.List(ctx, zones.ZoneListParams{Name: cloudflare.F(zoneOrg)}); err != nil || len(byName.Result) != 0 {
		t.Fatalf("zone %s by name: %+v %v, want none", zoneOrg, byName, err)
	}
	_, err = cf.Zones.Get(ctx, zones.ZoneGetParams{ZoneID: cloudflare.F(f.store.ZoneID(zoneOrg))})
	if status, code, msg := apiError(t, err); status != 403 || code != 9109 || !strings.Contains(msg, "namespace team-a") {
		t.Fatalf("another zone: %d %d %q, want 403 9109 naming the namespace", status, code, msg)
	}
	_, err = cf.DNS.Records.List(ctx, dns.RecordListParams{ZoneID: cloudflare.F("00000000000000000000000000000000")})
	if status, code, _ := apiError(t, err); status != 403 || code != 10000 {
		t.Fatalf("records of a zone that does not exist: %d %d, want 403 10000 (not 404: no oracle of zone IDs)", status, code)
	}
	list, err := cf.DNS.Records.List(ctx, dns.RecordListParams{ZoneID: cloudflare.F(f.store.ZoneID(zoneCom))})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Result) != 1 || list.Result[0].Name != appA || list.Result[0].Comment != "" {
		t.Fatalf("records %+v, want only %s, without the owner marker", list.Result, appA)
	}
}

func TestATokenWritesItsGrantsAndNothingElse(t *testing.T) {
	f := newFixture(t, cfapi.Options{})
	ctx := context.Background()
	cf := f.client(tokenA)
	zid := cloudflare.F(f.store.ZoneID(zoneCom))
	created, err := cf.DNS.Records.New(ctx, dns.RecordNewParams{ZoneID: zid, Body: dns.ARecordParam{
		Name: cloudflare.F(appA), Type: cloudflare.F(dns.ARecordTypeA), Content: cloudflare.F("192.0.2.10"), TTL: cloudflare.F(dns.TTL1),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.TTL != 1 || created.Content != "192.0.2.10" {
		t.Fatalf("created %+v, want an ID and the automatic TTL", created)
	}
	stored := f.store.Records(zoneCom)
	if len(stored) != 1 || stored[0].ID != created.ID || stored[0].Comment != owner("team-a") || stored[0].TTL != 1 {
		t.Fatalf("store %+v, want the record with team-a's owner marker and TTL 1", stored)
	}

	for _, tc := range []struct {
		name, typ, content string
	}{
		{appB, "A", "192.0.2.66"},                 // another namespace's name
		{appA, "AAAA", "2001:db8::1"},             // a type not granted at a granted name
		{"payroll.example.com", "TXT", "pwned"},   // a name nobody was granted
		{sharedTXT, "MX", "10 evil.example.net."}, // another namespace's type at a shared name
	} {
		var body dns.RecordNewParamsBodyUnion
		switch tc.typ {
		case "A":
			body = dns.ARecordParam{Name: cloudflare.F(tc.name), Type: cloudflare.F(dns.ARecordTypeA), Content: cloudflare.F(tc.content), TTL: cloudflare.F(dns.TTL1)}
		case "AAAA":
			body = dns.AAAARecordParam{Name: cloudflare.F(tc.name), Type: cloudflare.F(dns.AAAARecordTypeAAAA), Content: cloudflare.F(tc.content), TTL: cloudflare.F(dns.TTL1)}
		case "TXT":
			body = dns.TXTRecordParam{Name: cloudflare.F(tc.name), Type: cloudflare.F(dns.TXTRecordTypeTXT), Content: cloudflare.F(tc.content), TTL: cloudflare.F(dns.TTL1)}
		case "MX":
			body = dns.MXRecordParam{Name: cloudflare.F(tc.name), Type: cloudflare.F(dns.MXRecordTypeMX), Content: cloudflare.F("evil.example.net"), Priority: cloudflare.F(10.0), TTL: cloudflare.F(dns.TTL1)}
		}
		_, err := cf.DNS.Records.New(ctx, dns.RecordNewParams{ZoneID: zid, Body: body})
		status, code, msg := apiError(t, err)
		if status != 403 || code != 10000 || !strings.Contains(msg, "namespace team-a") || !strings.Contains(msg, "not granted") {
			t.Errorf("%s %s: %d %d %q, want 403 10000 naming the rule", tc.name, tc.typ, status, code, msg)
		}
	}
	if got := len(f.store.Records(zoneCom)); got != 1 {
		t.Fatalf("refused writes left %d records, want only team-a's one", got)
	}

	edited, err := cf.DNS.Records.Edit(ctx, created.ID, dns.RecordEditParams{ZoneID: zid, Body: dns.ARecordParam{Content: cloudflare.F("192.0.2.11")}})
	if err != nil || edited.Content != "192.0.2.11" || edited.ID == "" {
		t.Fatalf("PATCH content: %+v %v", edited, err)
	}
	ttlOnly, err := cf.DNS.Records.Edit(ctx, edited.ID, dns.RecordEditParams{ZoneID: zid, Body: dns.ARecordParam{TTL: cloudflare.F(dns.TTL(120))}})
	if err != nil || ttlOnly.ID != edited.ID || ttlOnly.TTL != 120 {
		t.Fatalf("PATCH TTL: %+v %v, want the same ID with TTL 120", ttlOnly, err)
	}
	if got := f.records(appA); !slices.Equal(got, []string{"A 192.0.2.11"}) {
		t.Fatalf("after the edits %v", got)
	}
	if _, err := cf.DNS.Records.Delete(ctx, ttlOnly.ID, dns.RecordDeleteParams{ZoneID: zid}); err != nil {
		t.Fatal(err)
	}
	if got := f.records(appA); len(got) != 0 {
		t.Fatalf("after the delete %v", got)
	}
}

func TestAForeignRecordAtAGrantedRRsetIsRefusedNotChanged(t *testing.T) {
	f := newFixture(t, cfapi.Options{})
	f.seed(t, provider.Record{Name: sharedTXT, Type: "TXT", Content: "by hand", TTL: 60})
	ctx := context.Background()
	cf := f.client(tokenA)
	zid := cloudflare.F(f.store.ZoneID(zoneCom))
	list, err := cf.DNS.Records.List(ctx, dns.RecordListParams{ZoneID: zid, Name: cloudflare.F(dns.RecordListParamsName{Exact: cloudflare.F(sharedTXT)})})
	if err != nil || len(list.Result) != 1 {
		t.Fatalf("list %+v %v", list, err)
	}
	_, err = cf.DNS.Records.Delete(ctx, list.Result[0].ID, dns.RecordDeleteParams{ZoneID: zid})
	if status, code, msg := apiError(t, err); status != 403 || code != 10000 || !strings.Contains(msg, "not written by namespace team-a") {
		t.Fatalf("delete of a record team-a did not write: %d %d %q", status, code, msg)
	}
	if got := f.records(sharedTXT); !slices.Equal(got, []string{"TXT by hand"}) {
		t.Fatalf("records %v", got)
	}
}

func TestABatchWithOneRefusedPartWritesNothing(t *testing.T) {
	f := newFixture(t, cfapi.Options{})
	ctx := context.Background()
	cf := f.client(tokenA)
	_, err := cf.DNS.Records.Batch(ctx, dns.RecordBatchParams{
		ZoneID: cloudflare.F(f.store.ZoneID(zoneCom)),
		Posts: cloudflare.F([]dns.RecordBatchParamsPostUnion{
			dns.ARecordParam{Name: cloudflare.F(appA), Type: cloudflare.F(dns.ARecordTypeA), Content: cloudflare.F("192.0.2.1"), TTL: cloudflare.F(dns.TTL1)},
			dns.ARecordParam{Name: cloudflare.F(appB), Type: cloudflare.F(dns.ARecordTypeA), Content: cloudflare.F("192.0.2.2"), TTL: cloudflare.F(dns.TTL1)},
		}),
	})
	if status, code, _ := apiError(t, err); status != 403 || code != 10000 {
		t.Fatalf("batch with another namespace's name: %d %d", status, code)
	}
	if got := f.store.Records(zoneCom); len(got) != 0 {
		t.Fatalf("a refused batch wrote %+v", got)
	}
	res, err := cf.DNS.Records.Batch(ctx, dns.RecordBatchParams{
		ZoneID: cloudflare.F(f.store.ZoneID(zoneCom)),
		Posts: cloudflare.F([]dns.RecordBatchParamsPostUnion{
			dns.ARecordParam{Name: cloudflare.F(appA), Type: cloudflare.F(dns.ARecordTypeA), Content: cloudflare.F("192.0.2.1"), TTL: cloudflare.F(dns.TTL1)},
			dns.TXTRecordParam{Name: cloudflare.F(txtA), Type: cloudflare.F(dns.TXTRecordTypeTXT), Content: cloudflare.F("\"heritage=external-dns\""), TTL: cloudflare.F(dns.TTL1)},
		}),
	})
	if err != nil || len(res.Posts) != 2 || res.Posts[0].ID == "" || res.Posts[1].ID == "" || res.Posts[0].ID == res.Posts[1].ID {
		t.Fatalf("batch of granted records: %+v %v", res, err)
	}
}

func TestWhatWouldWidenAKeyIsForbidden(t *testing.T) {
	f := newFixture(t, cfapi.Options{})
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/zones", `{"name":"evil.example","account":{"id":"x"}}`},
		{"DELETE", "/zones/" + f.store.ZoneID(zoneCom), ""},
		{"PATCH", "/zones/" + f.store.ZoneID(zoneCom) + "/settings/ssl", `{"value":"off"}`},
		{"GET", "/accounts", ""},
		{"POST", "/accounts/0123/tokens", `{"name":"more"}`},
		{"GET", "/user/tokens", ""},
		{"POST", "/user/tokens", `{"name":"more"}`},
		{"GET", "/user", ""},
		{"GET", "/zones/" + f.store.ZoneID(zoneCom) + "/dns_records/export", ""},
	} {
		status, env := f.raw(t, tokenA, tc.method, tc.path, tc.body)
		if status != 403 || env.Success || env.code() != 9109 {
			t.Errorf("%s %s: %d %+v, want 403 9109", tc.method, tc.path, status, env)
		}
	}
}

func TestAnUnknownTokenIsUnauthenticated(t *testing.T) {
	f := newFixture(t, cfapi.Options{})
	if status, env := f.raw(t, "not-a-token-of-anyone-0123456789abcdefgh", "GET", "/zones", ""); status != 401 || env.code() != 10000 {
		t.Fatalf("unknown token: %d %+v", status, env)
	}
	if status, env := f.raw(t, "not-a-token-of-anyone-0123456789abcdefgh", "GET", "/user/tokens/verify", ""); status != 401 || env.code() != 1000 {
		t.Fatalf("verify an unknown token: %d %+v", status, env)
	}
	if status, env := f.raw(t, "", "GET", "/zones", ""); status != 400 || env.code() != 9106 {
		t.Fatalf("no token: %d %+v", status, env)
	}
	status, env := f.raw(t, tokenA, "GET", "/user/tokens/verify", "")
	var res struct{ ID, Status string }
	if err := json.Unmarshal(env.Result, &res); status != 200 || err != nil || res.Status != "active" || res.ID == "" {
		t.Fatalf("verify: %d %s", status, env.Result)
	}
}

func TestATokenPastItsRequestLimitIsRateLimited(t *testing.T) {
	f := newFixture(t, cfapi.Options{RateLimit: 3})
	for i := 0; i < 3; i++ {
		if status, _ := f.raw(t, tokenA, "GET", "/zones", ""); status != 200 {
			t.Fatalf("request %d: %d", i, status)
		}
	}
	if status, env := f.raw(t, tokenA, "GET", "/zones", ""); status != 429 || env.code() != 971 {
		t.Fatalf("over the limit: %d %+v, want 429 971", status, env)
	}
	if status, _ := f.raw(t, tokenB, "GET", "/zones", ""); status != 200 {
		t.Fatalf("another namespace's token was limited too: %d", status)
	}
}

func TestProxiedRecordsAreRefused(t *testing.T) {
	f := newFixture(t, cfapi.Options{})
	status, env := f.raw(t, tokenA, "POST", "/zones/"+f.store.ZoneID(zoneCom)+"/dns_records",
		`{"name":"`+appA+`","type":"A","content":"192.0.2.1","proxied":true}`)
	if status != 400 || env.code() != 1004 {
		t.Fatalf("proxied: %d %+v, want 400 1004", status, env)
	}
	if got := f.store.Records(zoneCom); len(got) != 0 {
		t.Fatalf("wrote %+v", got)
	}
}

func TestNoTokenValueIsLoggedAndUnauthenticatedLinesAreSampled(t *testing.T) {
	f := newFixture(t, cfapi.Options{RateLimit: -1})
	for i := 0; i < 50; i++ {
		f.raw(t, "guess-"+strings.Repeat("x", 30)+string(rune('a'+i%26)), "GET", "/zones", "")
	}
	f.raw(t, tokenA, "GET", "/zones", "")
	logs := f.logs.String()
	if strings.Contains(logs, tokenA) || strings.Contains(logs, "guess-") {
		t.Fatalf("a token value is in the audit log:\n%s", logs)
	}
	if n := strings.Count(logs, "unknown token"); n == 0 || n > 10 {
		t.Fatalf("%d audit lines for 50 unauthenticated requests, want a few (sampled)", n)
	}
	if !strings.Contains(logs, "namespace=team-a") {
		t.Fatalf("no audit line for team-a's request:\n%s", logs)
	}
}
