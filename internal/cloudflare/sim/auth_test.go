package sim

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/cloudflare/wire"
)

func TestScopedTokenAccess(t *testing.T) {
	f := newFixture(t)
	com, org := f.srv.ZoneID("example.com"), f.srv.ZoneID("example.org")
	if _, err := f.srv.AddRecord("example.org", Record{Name: "x", Type: "TXT", Content: "v"}); err != nil {
		t.Fatal(err)
	}
	// The DNS-01 token of the design: Zone Read + DNS Write on one zone.
	_, flat := f.mint(t, TokenSpec{Policies: []Policy{allow(zoneRes(com), PermZoneRead, PermDNSWrite)}})
	_, nested := f.mint(t, TokenSpec{Policies: []Policy{allow(map[string]any{
		resourceAccountPrefix + testAccount: map[string]string{resourceZonePrefix + com: "*"},
	}, PermZoneRead, PermDNSWrite)}})
	_, dnsOnly := f.mint(t, TokenSpec{Policies: []Policy{allow(zoneRes(com), PermDNSRead)}})
	_, account := f.mint(t, TokenSpec{Policies: []Policy{allow(accountRes(), PermDNSRead)}})

	txt := map[string]any{"type": "TXT", "name": "_acme-challenge", "content": "abc"}
	cases := map[string]struct {
		token, method, path  string
		body                 any
		wantStatus, wantCode int
	}{
		"a zone token reads its zone":                     {token: flat, method: "GET", path: "/zones/" + com, wantStatus: 200},
		"a zone token writes records in its zone":         {token: flat, method: "POST", path: "/zones/" + com + "/dns_records", body: txt, wantStatus: 200},
		"a zone token cannot read another zone":           {token: flat, method: "GET", path: "/zones/" + org, wantStatus: 403, wantCode: CodeUnauthorized},
		"a zone token cannot list another zone's records": {token: flat, method: "GET", path: "/zones/" + org + "/dns_records", wantStatus: 403, wantCode: CodeAuthError},
		"a zone token cannot write another zone":          {token: flat, method: "POST", path: "/zones/" + org + "/dns_records", body: txt, wantStatus: 403, wantCode: CodeAuthError},
		"a zone token cannot batch in another zone":       {token: flat, method: "POST", path: "/zones/" + org + "/dns_records/batch", body: map[string]any{"posts": []any{txt}}, wantStatus: 403, wantCode: CodeAuthError},
		"a zone token cannot list tokens":                 {token: flat, method: "GET", path: "/accounts/" + testAccount + "/tokens", wantStatus: 403, wantCode: CodeUnauthorized},
		"a zone token cannot mint tokens": {token: flat, method: "POST", path: "/accounts/" + testAccount + "/tokens", body: map[string]any{
			"name": "escalate", "policies": []map[string]any{{"effect": "allow", "permission_groups": []map[string]string{{"id": PermDNSWrite}}, "resources": accountRes()}},
		}, wantStatus: 403, wantCode: CodeUnauthorized},
		"a nested resource grants the zone":               {token: nested, method: "POST", path: "/zones/" + com + "/dns_records", body: map[string]any{"type": "TXT", "name": "n", "content": "v"}, wantStatus: 200},
		"a nested resource does not grant another zone":   {token: nested, method: "GET", path: "/zones/" + org + "/dns_records", wantStatus: 403, wantCode: CodeAuthError},
		"DNS Read does not write":                         {token: dnsOnly, method: "POST", path: "/zones/" + com + "/dns_records", body: txt, wantStatus: 403, wantCode: CodeAuthError},
		"DNS Read without Zone Read cannot read the zone": {token: dnsOnly, method: "GET", path: "/zones/" + com, wantStatus: 403, wantCode: CodeUnauthorized},
		"an account resource covers every zone":           {token: account, method: "GET", path: "/zones/" + org + "/dns_records", wantStatus: 200},
		"an unknown zone routes nowhere":                  {token: flat, method: "GET", path: "/zones/00000000000000000000000000000000/dns_records", wantStatus: 404, wantCode: CodeCouldNotRoute},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := f.call(t, tc.method, tc.path, tc.token, tc.body)
			if r.Status != tc.wantStatus || (tc.wantCode != 0 && r.code() != tc.wantCode) {
				t.Fatalf("status %d errors %+v, want %d code %d", r.Status, r.Errors, tc.wantStatus, tc.wantCode)
			}
		})
	}

	listed := map[string][]string{}
	for name, tok := range map[string]string{"flat": flat, "dns only": dnsOnly, "master": testMaster} {
		r := f.mustOK(t, "GET", "/zones", tok, nil)
		for _, z := range decode[[]wire.ZoneJSON](t, r.Result) {
			listed[name] = append(listed[name], z.Name)
		}
	}
	if strings.Join(listed["flat"], ",") != "example.com" || len(listed["dns only"]) != 0 || strings.Join(listed["master"], ",") != "example.com,example.org" {
		t.Fatalf("zone lists by token: %v", listed)
	}
}

func TestDenyPolicyWins(t *testing.T) {
	f := newFixture(t)
	com, org := f.srv.ZoneID("example.com"), f.srv.ZoneID("example.org")
	_, tok := f.mint(t, TokenSpec{Policies: []Policy{
		allow(accountRes(), PermZoneRead, PermDNSWrite),
		{Effect: "deny", PermissionGroupIDs: []string{PermDNSWrite}, Resources: zoneRes(org)},
	}})
	txt := map[string]any{"type": "TXT", "name": "d", "content": "v"}
	cases := map[string]struct {
		method, path string
		body         any
		want         int
	}{
		"the allowed zone is writable":                {"POST", "/zones/" + com + "/dns_records", txt, 200},
		"the denied zone is not writable":             {"POST", "/zones/" + org + "/dns_records", txt, 403},
		"denying DNS Write leaves the implied read":   {"GET", "/zones/" + org + "/dns_records", nil, 200},
		"denying DNS Write leaves Zone Read in place": {"GET", "/zones/" + org, nil, 200},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if r := f.call(t, tc.method, tc.path, tok, tc.body); r.Status != tc.want {
				t.Fatalf("status %d, want %d: %+v", r.Status, tc.want, r.Errors)
			}
		})
	}
}

func TestTokenTimeBounds(t *testing.T) {
	f := newFixture(t)
	com := f.srv.ZoneID("example.com")
	now := f.clock.Now()
	info, tok := f.mint(t, TokenSpec{
		Policies:  []Policy{allow(zoneRes(com), PermZoneRead)},
		NotBefore: now.Add(time.Hour),
		ExpiresOn: now.Add(3 * time.Hour),
	})
	steps := map[string]struct {
		at         time.Duration
		wantStatus int
		wantToken  string
	}{
		"1 before not_before the token is refused": {at: 0, wantStatus: 401, wantToken: "active"},
		"2 at not_before the token works":          {at: time.Hour, wantStatus: 200, wantToken: "active"},
		"3 just before expires_on the token works": {at: 3*time.Hour - time.Second, wantStatus: 200, wantToken: "active"},
		"4 at expires_on the token is expired":     {at: 3 * time.Hour, wantStatus: 401, wantToken: "expired"},
	}
	for _, name := range []string{
		"1 before not_before the token is refused", "2 at not_before the token works",
		"3 just before expires_on the token works", "4 at expires_on the token is expired",
	} {
		tc := steps[name]
		t.Run(name, func(t *testing.T) {
			f.clock.Set(now.Add(tc.at))
			r := f.call(t, "GET", "/zones/"+com, tok, nil)
			if r.Status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %+v", r.Status, tc.wantStatus, r.Errors)
			}
			if tc.wantStatus == 401 && r.code() != CodeAuthError {
				t.Fatalf("code %d, want %d", r.code(), CodeAuthError)
			}
			var status string
			for _, ti := range f.srv.Tokens() {
				if ti.ID == info.ID {
					status = ti.Status
				}
			}
			if status != tc.wantToken {
				t.Fatalf("token status %q, want %q", status, tc.wantToken)
			}
		})
	}
	t.Run("the list hides expired tokens unless asked", func(t *testing.T) {
		ids := func(q string) string {
			var out []string
			for _, x := range decode[[]tokenJSON](t, f.mustOK(t, "GET", "/accounts/"+testAccount+"/tokens"+q, testMaster, nil).Result) {
				out = append(out, x.ID+"="+x.Status)
			}
			return strings.Join(out, ",")
		}
		if strings.Contains(ids(""), info.ID) {
			t.Fatalf("expired token listed by default: %s", ids(""))
		}
		if !strings.Contains(ids("?include_expired=true"), info.ID+"=expired") {
			t.Fatalf("expired token missing with include_expired: %s", ids("?include_expired=true"))
		}
	})
}

func TestTokenIPCondition(t *testing.T) {
	f := newFixture(t)
	com := f.srv.ZoneID("example.com")
	pol := []Policy{allow(zoneRes(com), PermZoneRead)}
	cases := map[string]struct {
		cond Condition
		want int
	}{
		"a client inside the allowed range gets in":       {Condition{RequestIPIn: []string{"127.0.0.0/8"}}, 200},
		"a client outside the allowed range is refused":   {Condition{RequestIPIn: []string{"203.0.113.0/24"}}, 403},
		"an excluded address inside the range is refused": {Condition{RequestIPIn: []string{"127.0.0.0/8"}, RequestIPNotIn: []string{"127.0.0.1/32"}}, 403},
		"an exclusion alone refuses only that address":    {Condition{RequestIPNotIn: []string{"127.0.0.1"}}, 403},
		"an exclusion elsewhere does not matter":          {Condition{RequestIPNotIn: []string{"198.51.100.0/24"}}, 200},
		"an IPv6 range does not admit an IPv4 client":     {Condition{RequestIPIn: []string{"::/0"}}, 403},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, tok := f.mint(t, TokenSpec{Policies: pol, Condition: tc.cond})
			r := f.call(t, "GET", "/zones/"+com, tok, nil)
			if r.Status != tc.want {
				t.Fatalf("status %d, want %d: %+v", r.Status, tc.want, r.Errors)
			}
			if tc.want == 403 && (r.code() != CodeUnauthorized || !strings.Contains(r.Errors[0].Message, "127.0.0.1")) {
				t.Fatalf("errors %+v", r.Errors)
			}
		})
	}
	t.Run("the condition is given as request.ip over HTTP and shown back", func(t *testing.T) {
		r := f.mustOK(t, "POST", "/accounts/"+testAccount+"/tokens", testMaster, map[string]any{
			"name":      "ip",
			"policies":  []map[string]any{{"effect": "allow", "permission_groups": []map[string]string{{"id": PermZoneRead}}, "resources": zoneRes(com)}},
			"condition": map[string]any{"request.ip": map[string]any{"in": []string{"203.0.113.0/24"}}},
		})
		tj := decode[tokenJSON](t, r.Result)
		if c := tj.Condition["request.ip"]; len(c.In) != 1 || c.In[0] != "203.0.113.0/24" {
			t.Fatalf("condition %+v", tj.Condition)
		}
		if r := f.call(t, "GET", "/zones/"+com, tj.Value, nil); r.Status != 403 {
			t.Fatalf("status %d", r.Status)
		}
	})
}

func TestTokenEndpoints(t *testing.T) {
	f := newFixture(t)
	base := "/accounts/" + testAccount + "/tokens"
	com := f.srv.ZoneID("example.com")
	_, reader := f.mint(t, TokenSpec{Name: "reader", Policies: []Policy{allow(accountRes(), PermAccountAPITokensRead)}})
	_, writer := f.mint(t, TokenSpec{Name: "writer", Policies: []Policy{allow(accountRes(), PermAccountAPITokensWrite)}})
	body := map[string]any{
		"name":       "scopedns-test-team-a",
		"policies":   []map[string]any{{"effect": "allow", "permission_groups": []map[string]string{{"id": PermZoneRead}, {"id": PermDNSWrite}}, "resources": zoneRes(com)}},
		"expires_on": f.clock.Now().Add(24 * time.Hour).Format(time.RFC3339),
	}

	t.Run("the value is returned by create and never again", func(t *testing.T) {
		r := f.mustOK(t, "POST", base, writer, body)
		created := decode[tokenJSON](t, r.Result)
		if len(created.Value) != 40 || created.Status != "active" || created.ExpiresOn == nil {
			t.Fatalf("created %+v", created)
		}
		for _, path := range []string{base, base + "/" + created.ID} {
			raw := string(f.mustOK(t, "GET", path, reader, nil).Result)
			if strings.Contains(raw, created.Value) || strings.Contains(raw, `"value"`) {
				t.Fatalf("GET %s shows the value: %s", path, raw)
			}
		}
		for _, ti := range f.srv.Tokens() {
			if ti.ID == created.ID && (ti.Name != "scopedns-test-team-a" || len(ti.Policies) != 1) {
				t.Fatalf("snapshot %+v", ti)
			}
		}
		if r := f.call(t, "GET", "/zones/"+com, created.Value, nil); r.Status != 200 {
			t.Fatalf("the new token does not work: %d", r.Status)
		}
	})

	cases := map[string]struct {
		token, method, path string
		body                any
		want, code          int
	}{
		"API Tokens Read lists tokens":           {token: reader, method: "GET", path: base, want: 200},
		"API Tokens Read cannot create":          {token: reader, method: "POST", path: base, body: body, want: 403, code: CodeUnauthorized},
		"API Tokens Write implies read":          {token: writer, method: "GET", path: base, want: 200},
		"permission groups need API Tokens Read": {token: reader, method: "GET", path: base + "/permission_groups", want: 200},
		"another account is out of reach":        {token: writer, method: "GET", path: "/accounts/ffffffffffffffffffffffffffffffff/tokens", want: 403, code: CodeUnauthorized},
		"an unknown token is not found":          {token: writer, method: "GET", path: base + "/ffffffffffffffffffffffffffffffff", want: 404, code: CodeTokenNotFound},
		"an unknown permission group is invalid": {token: writer, method: "POST", path: base, body: map[string]any{
			"name": "bad", "policies": []map[string]any{{"effect": "allow", "permission_groups": []map[string]string{{"id": "nope"}}, "resources": accountRes()}},
		}, want: 400, code: CodeTokenInvalid},
		"a resource in an unknown zone is invalid": {token: writer, method: "POST", path: base, body: map[string]any{
			"name": "bad", "policies": []map[string]any{{"effect": "allow", "permission_groups": []map[string]string{{"id": PermDNSRead}}, "resources": zoneRes("ffffffffffffffffffffffffffffffff")}},
		}, want: 400, code: CodeTokenInvalid},
		"a token needs a name": {token: writer, method: "POST", path: base, body: map[string]any{
			"policies": []map[string]any{{"effect": "allow", "permission_groups": []map[string]string{{"id": PermDNSRead}}, "resources": accountRes()}},
		}, want: 400, code: CodeTokenInvalid},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := f.call(t, tc.method, tc.path, tc.token, tc.body)
			if r.Status != tc.want || (tc.code != 0 && r.code() != tc.code) {
				t.Fatalf("status %d errors %+v, want %d code %d", r.Status, r.Errors, tc.want, tc.code)
			}
		})
	}

	t.Run("update keeps the value, changes scope, disable stops the token", func(t *testing.T) {
		created := decode[tokenJSON](t, f.mustOK(t, "POST", base, writer, body).Result)
		org := f.srv.ZoneID("example.org")
		if r := f.call(t, "GET", "/zones/"+org, created.Value, nil); r.Status != 403 {
			t.Fatalf("before update: %d", r.Status)
		}
		upd := decode[tokenJSON](t, f.mustOK(t, "PUT", base+"/"+created.ID, writer, map[string]any{
			"name":     created.Name,
			"policies": []map[string]any{{"effect": "allow", "permission_groups": []map[string]string{{"id": PermZoneRead}}, "resources": zoneRes(org)}},
		}).Result)
		if upd.ExpiresOn == nil || upd.Value != "" {
			t.Fatalf("update dropped expires_on or showed a value: %+v", upd)
		}
		if r := f.call(t, "GET", "/zones/"+org, created.Value, nil); r.Status != 200 {
			t.Fatalf("after update the same value should reach the new zone: %d", r.Status)
		}
		if r := f.call(t, "GET", "/zones/"+com, created.Value, nil); r.Status != 403 {
			t.Fatalf("after update the old zone should be gone: %d", r.Status)
		}
		f.mustOK(t, "PUT", base+"/"+created.ID, writer, map[string]any{"status": "disabled"})
		if r := f.call(t, "GET", "/zones/"+org, created.Value, nil); r.Status != 401 {
			t.Fatalf("a disabled token answered %d", r.Status)
		}
		f.mustOK(t, "DELETE", base+"/"+created.ID, writer, nil)
		if r := f.call(t, "GET", base+"/"+created.ID, reader, nil); r.Status != 404 {
			t.Fatalf("deleted token: %d", r.Status)
		}
	})
}

func TestTokenQuota(t *testing.T) {
	f := newFixture(t)
	f.srv.SetTokenQuota(3) // the master token is one of them
	base := "/accounts/" + testAccount + "/tokens"
	body := map[string]any{"name": "q", "policies": []map[string]any{{"effect": "allow", "permission_groups": []map[string]string{{"id": PermDNSRead}}, "resources": accountRes()}}}
	first := decode[tokenJSON](t, f.mustOK(t, "POST", base, testMaster, body).Result)
	f.mustOK(t, "POST", base, testMaster, body)
	r := f.call(t, "POST", base, testMaster, body)
	if r.Status != 400 || r.code() != CodeTokenQuota {
		t.Fatalf("over quota: %d %+v", r.Status, r.Errors)
	}
	if _, _, err := f.srv.MintToken(TokenSpec{Name: "direct", Policies: []Policy{allow(accountRes(), PermDNSRead)}}); err == nil {
		t.Fatal("MintToken ignored the quota")
	}
	f.mustOK(t, "DELETE", base+"/"+first.ID, testMaster, nil)
	f.mustOK(t, "POST", base, testMaster, body)
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t)
	f.srv.SetRateLimit(5, time.Minute)
	com := f.srv.ZoneID("example.com")
	_, other := f.mint(t, TokenSpec{Policies: []Policy{allow(zoneRes(com), PermZoneRead)}})
	path := "/zones/" + com
	for i := 0; i < 5; i++ {
		f.mustOK(t, "GET", path, testMaster, nil)
		f.clock.Advance(time.Second)
	}
	r := f.call(t, "GET", path, testMaster, nil)
	if r.Status != http.StatusTooManyRequests || r.code() != CodeRateLimited {
		t.Fatalf("sixth request: %d %+v", r.Status, r.Errors)
	}
	// The first request leaves the window 60s after it was made, 5s ago.
	if ra := r.Header.Get("Retry-After"); ra != "55" {
		t.Fatalf("Retry-After %q, want 55", ra)
	}
	if r := f.call(t, "GET", path, other, nil); r.Status != 200 {
		t.Fatalf("another token shares the limit: %d", r.Status)
	}
	secs, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	f.clock.Advance(time.Duration(secs) * time.Second)
	if r := f.call(t, "GET", path, testMaster, nil); r.Status != 200 {
		t.Fatalf("after Retry-After: %d", r.Status)
	}
	if r := f.call(t, "GET", path, testMaster, nil); r.Status != 429 {
		t.Fatalf("the window slides, one slot only: %d", r.Status)
	}
}

func TestVerify(t *testing.T) {
	f := newFixture(t)
	_, tok := f.mint(t, TokenSpec{Policies: []Policy{allow(zoneRes(f.srv.ZoneID("example.com")), PermDNSRead)}})
	cases := map[string]struct {
		path, token string
		want, code  int
	}{
		"any valid account token verifies":               {path: "/accounts/" + testAccount + "/tokens/verify", token: tok, want: 200},
		"an unknown token is an invalid API token":       {path: "/accounts/" + testAccount + "/tokens/verify", token: "unknown-token-value-123", want: 401, code: CodeInvalidAPIToken},
		"another account's path does not verify":         {path: "/accounts/ffffffffffffffffffffffffffffffff/tokens/verify", token: tok, want: 401, code: CodeInvalidAPIToken},
		"the user endpoint does not know account tokens": {path: "/user/tokens/verify", token: tok, want: 401, code: CodeInvalidAPIToken},
		"a missing header is a bad request":              {path: "/accounts/" + testAccount + "/tokens/verify", token: "", want: 400, code: CodeMissingAuth},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := f.call(t, "GET", tc.path, tc.token, nil)
			if r.Status != tc.want || (tc.code != 0 && r.code() != tc.code) {
				t.Fatalf("status %d errors %+v", r.Status, r.Errors)
			}
			if tc.want == 200 {
				v := decode[verifyJSON](t, r.Result)
				msgs := decode[[]Message](t, r.Raw["messages"])
				if v.Status != "active" || v.ID == "" || len(msgs) != 1 || msgs[0].Message != "This API Token is valid and active" {
					t.Fatalf("verify %s %s", r.Result, r.Raw["messages"])
				}
			}
		})
	}
	t.Run("a malformed Authorization header is refused", func(t *testing.T) {
		req, _ := http.NewRequest("GET", f.ts.URL+"/client/v4/zones", nil)
		req.Header.Set("Authorization", "Basic dXNlcjpwYXNz")
		res, err := f.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
}

func TestFaults(t *testing.T) {
	f := newFixture(t)
	base := "/zones/" + f.srv.ZoneID("example.com") + "/dns_records"
	txt := func(n string) map[string]any { return map[string]any{"type": "TXT", "name": n, "content": "v"} }

	t.Run("FailOps fails the next N requests of one operation only", func(t *testing.T) {
		f.srv.SetFaults(Faults{FailOps: map[string]int{"dns_records.create": 2}})
		defer f.srv.SetFaults(Faults{})
		for i := 0; i < 2; i++ {
			if r := f.call(t, "POST", base, testMaster, txt("f")); r.Status != 500 || r.code() != CodeInternal {
				t.Fatalf("attempt %d: %d", i, r.Status)
			}
		}
		f.mustOK(t, "GET", base, testMaster, nil)
		f.mustOK(t, "POST", base, testMaster, txt("f"))
	})
	t.Run("FailStatus 429 acts as a burst limit", func(t *testing.T) {
		f.srv.SetFaults(Faults{FailOps: map[string]int{"tokens.create": 1}, FailStatus: 429})
		defer f.srv.SetFaults(Faults{})
		r := f.call(t, "POST", "/accounts/"+testAccount+"/tokens", testMaster, map[string]any{})
		if r.Status != 429 || r.Header.Get("Retry-After") != "1" {
			t.Fatalf("%d %v", r.Status, r.Header)
		}
	})
	t.Run("RefuseContent refuses a batch holding one such record, whole", func(t *testing.T) {
		f.srv.SetFaults(Faults{RefuseContent: []string{"poison"}})
		defer f.srv.SetFaults(Faults{})
		bad := map[string]any{"type": "TXT", "name": "bad", "content": "a poison value"}
		r := f.call(t, "POST", base+"/batch", testMaster, map[string]any{"posts": []any{txt("good"), bad}})
		if r.Status != 400 || r.code() != CodeDNSValidation || !strings.Contains(r.Errors[0].Message, "posts[1]") {
			t.Fatalf("status %d, errors %+v; want 400 %d for posts[1]", r.Status, r.Errors, CodeDNSValidation)
		}
		got := f.mustOK(t, "GET", base+"?name=good.example.com", testMaster, nil)
		if n := len(decode[[]rec](t, got.Result)); n != 0 {
			t.Fatalf("the refused batch left %d records", n)
		}
		f.mustOK(t, "POST", base+"/batch", testMaster, map[string]any{"posts": []any{txt("good")}})
	})
	t.Run("LoseResponses applies the change and answers 502", func(t *testing.T) {
		f.srv.SetFaults(Faults{LoseResponses: map[string]int{"dns_records.create": 1}})
		defer f.srv.SetFaults(Faults{})
		if r := f.call(t, "POST", base, testMaster, txt("lost")); r.Status != 502 {
			t.Fatalf("status %d", r.Status)
		}
		r := f.mustOK(t, "GET", base+"?name=lost.example.com", testMaster, nil)
		if n := len(decode[[]rec](t, r.Result)); n != 1 {
			t.Fatalf("the lost create left %d records", n)
		}
	})
	t.Run("ErrorRate 1 fails everything with a 5xx", func(t *testing.T) {
		f.srv.SetFaults(Faults{ErrorRate: 1})
		defer f.srv.SetFaults(Faults{})
		for i := 0; i < 10; i++ {
			if r := f.call(t, "GET", base, testMaster, nil); r.Status < 500 || r.Status > 503 || r.Success {
				t.Fatalf("status %d", r.Status)
			}
		}
	})
	t.Run("Latency delays answers", func(t *testing.T) {
		f.srv.SetFaults(Faults{Latency: 50 * time.Millisecond})
		defer f.srv.SetFaults(Faults{})
		start := time.Now()
		f.mustOK(t, "GET", base, testMaster, nil)
		if d := time.Since(start); d < 50*time.Millisecond {
			t.Fatalf("took %v", d)
		}
	})
	t.Run("OpLatency delays only its operation", func(t *testing.T) {
		f.srv.SetFaults(Faults{OpLatency: map[string]time.Duration{"dns_records.create": 300 * time.Millisecond}})
		defer f.srv.SetFaults(Faults{})
		start := time.Now()
		f.mustOK(t, "GET", base, testMaster, nil)
		if d := time.Since(start); d >= 300*time.Millisecond {
			t.Fatalf("a list took %v: another operation's latency was applied", d)
		}
		start = time.Now()
		f.mustOK(t, "POST", base, testMaster, txt("slow"))
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Fatalf("a create took %v, want at least 300ms", d)
		}
	})
	t.Run("Requests counts every routed request by operation", func(t *testing.T) {
		f.srv.ResetRequests()
		f.call(t, "GET", base, testMaster, nil)
		f.call(t, "GET", base, "bad-token-value-xyz", nil)
		f.call(t, "POST", base, testMaster, txt("counted"))
		got := f.srv.Requests()
		if got["dns_records.list"] != 2 || got["dns_records.create"] != 1 || len(got) != 2 {
			t.Fatalf("Requests() = %v", got)
		}
	})
}

func TestLogNeverShowsTokenValues(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	f := newFixture(t, func(c *Config) { c.Logger = logger })
	r := f.mustOK(t, "POST", "/accounts/"+testAccount+"/tokens", testMaster, map[string]any{
		"name": "logged", "policies": []map[string]any{{"effect": "allow", "permission_groups": []map[string]string{{"id": PermDNSRead}}, "resources": accountRes()}},
	})
	value := decode[tokenJSON](t, r.Result).Value
	f.call(t, "GET", "/zones", value, nil)
	out := buf.String()
	if strings.Contains(out, value) || strings.Contains(out, testMaster) {
		t.Fatal("a token value reached the log")
	}
	if !strings.Contains(out, `"op":"tokens.create"`) || !strings.Contains(out, `"token_id":"`) || !strings.Contains(out, `"status":200`) {
		t.Fatalf("log lacks op, token ID or status:\n%s", out)
	}
}
