package cloudflare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	cf "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/accounts"
	"github.com/cloudflare/cloudflare-go/v7/shared"

	"github.com/scopedns/scopedns/internal/provider"
)

// fakeAPI answers VerifyToken from a script; the other methods are not used here.
type fakeAPI struct {
	api
	verify []func() (*accounts.TokenVerifyResponse, error)
	calls  int
}

func (f *fakeAPI) VerifyToken(context.Context, accounts.TokenVerifyParams) (*accounts.TokenVerifyResponse, error) {
	i := min(f.calls, len(f.verify)-1)
	f.calls++
	return f.verify[i]()
}

func apiError(status int, header http.Header, body string) error {
	e := &cf.Error{StatusCode: status, Response: &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body))}}
	if err := e.UnmarshalJSON([]byte(body)); err != nil {
		panic(err)
	}
	return e
}

const secretValue = "very-secret-token-value-0123456789"

func testProvider(t *testing.T, a api) *Provider {
	t.Helper()
	opts := Options{AccountID: "acct", APIToken: secretValue, RateLimit: -1, RetryBaseDelay: time.Millisecond, RetryMaxDelay: 2 * time.Millisecond}.withDefaults()
	if err := opts.validate(); err != nil {
		t.Fatal(err)
	}
	return newProvider(opts, a)
}

func TestErrorsAreClassified(t *testing.T) {
	for name, tc := range map[string]struct {
		err        error
		kind       provider.Kind
		retryAfter time.Duration
	}{
		"a 401 with code 10000 is forbidden": {
			apiError(401, nil, `{"errors":[{"code":10000,"message":"Authentication error"}]}`), provider.KindForbidden, 0},
		"a 403 with code 9109 is forbidden": {
			apiError(403, nil, `{"errors":[{"code":9109,"message":"Unauthorized to access requested resource"}]}`), provider.KindForbidden, 0},
		"a 400 with a malformed Authorization header is forbidden": {
			apiError(400, nil, `{"errors":[{"code":6003,"message":"Invalid request headers","error_chain":[{"code":6111,"message":"Invalid format for Authorization header"}]}]}`), provider.KindForbidden, 0},
		"a 404 is not found": {
			apiError(404, nil, `{"errors":[{"code":1003,"message":"Token not found"}]}`), provider.KindNotFound, 0},
		"a record not found inside a batch validation error is not found": {
			apiError(400, nil, `{"errors":[{"code":1004,"message":"DNS Validation Error","error_chain":[{"code":81044,"message":"deletes[0]: Record does not exist."}]}]}`), provider.KindNotFound, 0},
		"an identical record is a conflict": {
			apiError(400, nil, `{"errors":[{"code":81057,"message":"Record already exists."}]}`), provider.KindConflict, 0},
		"the token quota is quota exceeded": {
			apiError(400, nil, `{"errors":[{"code":1005,"message":"Token quota exceeded"}]}`), provider.KindQuotaExceeded, 0},
		"a message about a quota is quota exceeded whatever the code": {
			apiError(400, nil, `{"errors":[{"code":1234,"message":"You have reached the API token quota"}]}`), provider.KindQuotaExceeded, 0},
		"the record quota is quota exceeded": {
			apiError(400, nil, `{"errors":[{"code":81045,"message":"Record quota exceeded."}]}`), provider.KindQuotaExceeded, 0},
		"a 429 is rate limited for Retry-After seconds": {
			apiError(429, http.Header{"Retry-After": {"7"}}, `{"errors":[{"code":971,"message":"Please wait"}]}`), provider.KindRateLimited, 7 * time.Second},
		"a 429 without Retry-After waits the default": {
			apiError(429, nil, `{"errors":[]}`), provider.KindRateLimited, defaultRetryAfter},
		"a 503 is unavailable": {
			apiError(503, nil, `{"errors":[{"code":10001,"message":"Service Unavailable"}]}`), provider.KindUnavailable, 0},
		"another 400 is invalid": {
			apiError(400, nil, `{"errors":[{"code":1004,"message":"DNS Validation Error","error_chain":[{"code":9003,"message":"content: not an IPv4 address"}]}]}`), provider.KindInvalid, 0},
		"a transport failure is unavailable": {
			&netError{}, provider.KindUnavailable, 0},
		"the client-side limiter refusing is rate limited": {
			&throttled{wait: 3 * time.Second}, provider.KindRateLimited, 3 * time.Second},
		"anything else is permanent": {
			errors.New("missing required account_id parameter"), provider.KindUnknown, 0},
	} {
		t.Run(name, func(t *testing.T) {
			p := testProvider(t, nil)
			e := p.classify("op", tc.err)
			if e.Kind != tc.kind || e.RetryAfter != tc.retryAfter {
				t.Fatalf("classify(%v) = kind %v, retry after %s; want %v, %s", tc.err, e.Kind, e.RetryAfter, tc.kind, tc.retryAfter)
			}
			if !errors.Is(e, provider.ErrForbidden) && tc.kind == provider.KindForbidden {
				t.Fatalf("%v does not match ErrForbidden", e)
			}
		})
	}
}

type netError struct{}

func (*netError) Error() string   { return "dial tcp 127.0.0.1:1: connect: connection refused" }
func (*netError) Timeout() bool   { return false }
func (*netError) Temporary() bool { return false }

func TestErrorTextRedactsTheCredentialAndKeepsTheChain(t *testing.T) {
	p := testProvider(t, nil)
	e := p.classify("op", apiError(400, nil, `{"errors":[{"code":1001,"message":"Invalid token: `+secretValue+` is not allowed","error_chain":[{"code":9003,"message":"name: too long"}]}]}`))
	if strings.Contains(e.Error(), secretValue) {
		t.Fatalf("error text carries the credential: %s", e)
	}
	if !strings.Contains(e.Error(), "name: too long") || !strings.Contains(e.Error(), "code 1001,9003") {
		t.Fatalf("error text %q lacks the chained message or codes", e)
	}
	extra := provider.Secret("another-secret-value-42")
	e = p.classify("op", errors.New("decoding "+string(extra)), extra)
	if strings.Contains(e.Error(), string(extra)) {
		t.Fatalf("error text carries a secret passed to classify: %s", e)
	}
}

func TestVerifyRetriesServerErrorsThenSucceeds(t *testing.T) {
	fail := func() (*accounts.TokenVerifyResponse, error) { return nil, apiError(502, nil, `{"errors":[]}`) }
	ok := func() (*accounts.TokenVerifyResponse, error) {
		return &accounts.TokenVerifyResponse{ID: "t", Status: accounts.TokenVerifyResponseStatusActive}, nil
	}
	f := &fakeAPI{verify: []func() (*accounts.TokenVerifyResponse, error){fail, fail, ok}}
	if err := testProvider(t, f).Verify(context.Background()); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if f.calls != 3 {
		t.Fatalf("%d calls, want 3", f.calls)
	}
}

func TestVerifyOfADisabledCredentialIsForbidden(t *testing.T) {
	f := &fakeAPI{verify: []func() (*accounts.TokenVerifyResponse, error){func() (*accounts.TokenVerifyResponse, error) {
		return &accounts.TokenVerifyResponse{ID: "t", Status: accounts.TokenVerifyResponseStatusDisabled}, nil
	}}}
	if err := testProvider(t, f).Verify(context.Background()); !provider.IsForbidden(err) {
		t.Fatalf("Verify: %v, want forbidden", err)
	}
}

func TestSplitChanges(t *testing.T) {
	rec := func(p string, i int) provider.Record {
		return provider.Record{ID: fmt.Sprintf("%s%d", p, i), Name: fmt.Sprintf("%s%d.example.com", p, i), Type: "TXT", Content: "x"}
	}
	var c provider.Changes
	for i := range 3 {
		c.Delete = append(c.Delete, rec("d", i))
		c.UpdateOld = append(c.UpdateOld, rec("u", i))
		c.UpdateNew = append(c.UpdateNew, rec("n", i))
		c.Create = append(c.Create, rec("c", i))
	}
	for name, tc := range map[string]struct {
		limit int
		want  string
	}{
		"everything fits in one batch":            {200, "[d0 d1 d2 u0>n0 u1>n1 u2>n2 c0 c1 c2]"},
		"batches fill deletes, updates, creates":  {5, "[d0 d1 d2 u0>n0 u1>n1] [u2>n2 c0 c1 c2]"},
		"a limit of one sends one change a batch": {1, "[d0] [d1] [d2] [u0>n0] [u1>n1] [u2>n2] [c0] [c1] [c2]"},
	} {
		t.Run(name, func(t *testing.T) {
			var parts []string
			for _, b := range splitChanges(c, tc.limit) {
				var ops []string
				for _, r := range b.Delete {
					ops = append(ops, r.ID)
				}
				for i, r := range b.UpdateNew {
					ops = append(ops, b.UpdateOld[i].ID+">"+r.ID)
				}
				for _, r := range b.Create {
					ops = append(ops, r.ID)
				}
				if len(ops) > tc.limit {
					t.Fatalf("batch of %d over the limit %d", len(ops), tc.limit)
				}
				parts = append(parts, "["+strings.Join(ops, " ")+"]")
			}
			if got := strings.Join(parts, " "); got != tc.want {
				t.Fatalf("split = %s, want %s", got, tc.want)
			}
		})
	}
	if got := splitChanges(provider.Changes{}, 10); len(got) != 0 {
		t.Fatalf("no changes split into %v", got)
	}
}

func TestLimiterAdmitsNPerSlidingWindow(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(3, 10*time.Second)
	l.now = func() time.Time { return now }
	step := func(d time.Duration) { now = now.Add(d) }
	for i := range 3 {
		if _, d := l.reserve(); d != 0 {
			t.Fatalf("request %d waits %s", i+1, d)
		}
		step(time.Second)
	}
	if _, d := l.reserve(); d != 7*time.Second {
		t.Fatalf("fourth request waits %s, want 7s (until the first leaves the window)", d)
	}
	step(7 * time.Second)
	if _, d := l.reserve(); d != 0 {
		t.Fatalf("after the first left the window, wait %s", d)
	}
	if _, d := l.reserve(); d != time.Second {
		t.Fatalf("next waits %s, want 1s", d)
	}
	l.pause(30 * time.Second)
	step(2 * time.Second)
	if _, d := l.reserve(); d != 28*time.Second {
		t.Fatalf("paused limiter waits %s, want 28s", d)
	}
	if _, err := l.wait(context.Background(), time.Second); err == nil {
		t.Fatal("wait longer than the maximum did not refuse")
	} else if _, ok := err.(*throttled); !ok {
		t.Fatalf("wait refused with %v, want *throttled", err)
	}
}

// A request's slot frees a window after its answer came back, not after it
// was sent: the server counted it on arrival, somewhere in between.
func TestLimiterCountsFromTheAnswer(t *testing.T) {
	now := time.Unix(0, 0)
	l := newLimiter(2, 10*time.Second)
	l.now = func() time.Time { return now }
	slow, d := l.reserve()
	if d != 0 {
		t.Fatalf("first request waits %s", d)
	}
	fast, _ := l.reserve()
	l.done(fast)
	now = now.Add(3 * time.Second) // the first request's answer takes 3 s
	l.done(slow)
	now = now.Add(7 * time.Second) // a window after the first was sent
	if _, d := l.reserve(); d != 3*time.Second {
		t.Fatalf("third request waits %s, want 3s (a window after the slow answer)", d)
	}
	now = now.Add(3 * time.Second)
	third, d := l.reserve()
	if d != 0 {
		t.Fatalf("a window after the slow answer the third request still waits %s", d)
	}
	// A stale ticket (its slot reused) must not move the new request's time.
	now = now.Add(time.Minute)
	l.done(slow)
	if l.slots[third.i].t != time.Unix(13, 0) {
		t.Fatalf("a stale ticket moved the slot to %s", l.slots[third.i].t)
	}
}

func TestRetryAfterHeader(t *testing.T) {
	for name, tc := range map[string]struct {
		value string
		want  time.Duration
	}{
		"whole seconds":       {"3", 3 * time.Second},
		"fractional seconds":  {"0.5", 500 * time.Millisecond},
		"missing":             {"", defaultRetryAfter},
		"garbage":             {"soon", defaultRetryAfter},
		"zero waits a moment": {"0", time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			if tc.value != "" {
				h.Set("Retry-After", tc.value)
			}
			if got := retryAfter(h); got != tc.want {
				t.Fatalf("retryAfter(%q) = %s, want %s", tc.value, got, tc.want)
			}
		})
	}
	d := retryAfter(http.Header{"Retry-After": {time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)}})
	if d < 58*time.Second || d > time.Minute {
		t.Fatalf("retryAfter(HTTP date a minute ahead) = %s", d)
	}
}

func TestFromTokenReadsZonesFromFlatAndNestedResources(t *testing.T) {
	tok := fromToken(shared.Token{
		ID: "t", Name: "n", Status: shared.TokenStatusActive,
		Policies: []shared.TokenPolicy{
			{Effect: shared.TokenPolicyEffectAllow, Resources: shared.TokenPolicyResourcesIAMResourcesTypeObjectString{
				zoneResourcePrefix + "bbb": "*", zoneResourcePrefix + "aaa": "*"}},
			{Effect: shared.TokenPolicyEffectAllow, Resources: shared.TokenPolicyResourcesIAMResourcesTypeObjectNested{
				"com.cloudflare.api.account.acct": {zoneResourcePrefix + "ccc": "*", zoneResourcePrefix + "aaa": "*"}}},
			{Effect: shared.TokenPolicyEffectDeny, Resources: shared.TokenPolicyResourcesIAMResourcesTypeObjectString{
				zoneResourcePrefix + "ddd": "*"}},
		},
	})
	if got := fmt.Sprint(tok.ZoneIDs); got != "[aaa bbb ccc]" {
		t.Fatalf("zones = %s, want [aaa bbb ccc]", got)
	}
}

func TestRecordsAreReadInCanonicalContent(t *testing.T) {
	for name, tc := range map[string]struct {
		json, want string
	}{
		"an MX record puts its priority before its host": {
			`{"type":"MX","content":"Mail.Example.com.","priority":10}`, "10 mail.example.com"},
		"an MX record of priority 0 keeps it": {
			`{"type":"MX","content":".","priority":0}`, "0 ."},
		"an SRV record is read from its data": {
			`{"type":"SRV","content":"5\t443\tsvc.example.com","priority":10,"data":{"priority":10,"weight":5,"port":443,"target":"SVC.example.com"}}`, "10 5 443 svc.example.com"},
		"an SRV record without data is read from tab-separated content and priority": {
			`{"type":"SRV","content":"5\t443\tsvc.example.com","priority":10}`, "10 5 443 svc.example.com"},
		"a CAA record is read from its data, the value quoted": {
			`{"type":"CAA","content":"0 issue letsencrypt.org","data":{"flags":0,"tag":"issue","value":"ca.example.net; account=\"1\""}}`, `0 issue "ca.example.net; account=\"1\""`},
		"a CAA record without data is read from tab-separated content": {
			`{"type":"CAA","content":"0\tissue\t\"letsencrypt.org\""}`, `0 issue "letsencrypt.org"`},
		"a NAPTR record's string flags do not stop the read": {
			`{"type":"NAPTR","content":"100 10 \"U\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .","data":{"flags":"U","order":100}}`, `100 10 "U" "E2U+sip" "!^.*$!sip:info@example.com!" .`},
		"an A record is read as it is": {
			`{"type":"A","content":"192.0.2.1","data":null}`, "192.0.2.1"},
	} {
		t.Run(name, func(t *testing.T) {
			var page recordPage
			if err := json.Unmarshal([]byte(`{"result":[`+tc.json+`]}`), &page); err != nil {
				t.Fatalf("decoding: %v", err)
			}
			if got := page.Result[0].record().Content; got != tc.want {
				t.Fatalf("content %q, want %q", got, tc.want)
			}
		})
	}
}
