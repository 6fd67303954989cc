package cloudflare_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/cloudflare/sim"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

func txt(name, content string) provider.Record {
	return provider.Record{Name: name, Type: "TXT", Content: content, TTL: 120, Comment: provider.OwnerComment("test", "ns", "claim")}
}

func TestNewRejectsInvalidOptionsAllAtOnce(t *testing.T) {
	_, err := cloudflare.New(cloudflare.Options{BaseURL: "ftp://x", PageSize: 2, BatchLimit: -1, RetryBaseDelay: time.Second, RetryMaxDelay: time.Millisecond})
	if err == nil {
		t.Fatal("New accepted invalid options")
	}
	for _, want := range []string{"AccountID is required", "APIToken is required", "BaseURL", "PageSize 2", "BatchLimit -1", "RetryMaxDelay"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := cloudflare.New(cloudflare.Options{AccountID: "a", APIToken: "secret-value-123"}); err != nil {
		t.Fatalf("New with the required options only: %v", err)
	}
}

func TestServerErrorsOnReadsAreRetriedTransparently(t *testing.T) {
	f := newFixture(t)
	rec := &recorder{}
	p := f.provider(t, func(o *cloudflare.Options) { o.Observer = rec.observe })
	f.sim.SetFaults(sim.Faults{FailOps: map[string]int{"dns_records.list": 2}, FailStatus: http.StatusServiceUnavailable})
	if _, err := p.Records(context.Background(), f.sim.ZoneID("example.com"), provider.RecordFilter{}); err != nil {
		t.Fatalf("Records after two 503s: %v", err)
	}
	if got := rec.count("records.list=server_error"); got != 2 {
		t.Errorf("observer saw %d server errors, want 2 (%v)", got, rec.seen)
	}
	if got := rec.count("records.list=ok"); got != 1 {
		t.Errorf("observer saw %d successes, want 1", got)
	}
}

func TestServerErrorsThatOutlastTheRetriesAreRetryable(t *testing.T) {
	f := newFixture(t)
	p := f.provider(t, func(o *cloudflare.Options) { o.MaxRetries = 2 })
	f.sim.SetFaults(sim.Faults{FailOps: map[string]int{"tokens.list": 10}, FailStatus: http.StatusBadGateway})
	_, err := p.Tokens(context.Background(), "")
	if !provider.IsRetryable(err) || provider.KindOf(err) != provider.KindUnavailable {
		t.Fatalf("Tokens under 502s: %v, want a retryable unavailable error", err)
	}
	if got := f.sim.Requests()["tokens.list"]; got != 3 {
		t.Fatalf("the simulator saw %d requests, want 1 and 2 retries", got)
	}
}

func TestBatchesAndMintsAreNotRepeatedAfterAServerError(t *testing.T) {
	ctx := context.Background()
	for name, tc := range map[string]struct {
		op  string
		run func(p *cloudflare.Provider, f *fixture) error
	}{
		"a batch that may have been applied is not sent again": {"dns_records.batch", func(p *cloudflare.Provider, f *fixture) error {
			_, err := p.ApplyChanges(ctx, f.sim.ZoneID("example.com"), provider.Changes{Create: []provider.Record{txt("lost.example.com", "x")}})
			return err
		}},
		"a token that may have been minted is not minted again": {"tokens.create", func(p *cloudflare.Provider, f *fixture) error {
			_, err := p.MintToken(ctx, provider.TokenSpec{Name: "scopedns/test/s/ns/1", ZoneIDs: []string{f.sim.ZoneID("example.com")}})
			return err
		}},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			p := f.provider(t)
			f.sim.SetFaults(sim.Faults{LoseResponses: map[string]int{tc.op: 1}})
			err := tc.run(p, f)
			if !provider.IsRetryable(err) {
				t.Fatalf("err = %v, want a retryable error for the caller to re-plan", err)
			}
			if got := f.sim.Requests()[tc.op]; got != 1 {
				t.Fatalf("the simulator saw %d %s requests, want 1", got, tc.op)
			}
		})
	}
}

func TestAShort429IsWaitedOutAndALongOneIsReturned(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	rec := &recorder{}
	p := f.provider(t, func(o *cloudflare.Options) { o.Observer = rec.observe; o.MaxRateLimitWait = 2 * time.Second })
	zone := f.sim.ZoneID("example.com")

	f.sim.SetFaults(sim.Faults{FailOps: map[string]int{"dns_records.batch": 1}, FailStatus: http.StatusTooManyRequests}) // Retry-After: 1
	start := time.Now()
	if _, err := p.ApplyChanges(ctx, zone, provider.Changes{Create: []provider.Record{txt("a.example.com", "x")}}); err != nil {
		t.Fatalf("a batch refused once with Retry-After 1: %v", err)
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("the retry came after %s, before Retry-After", d)
	}
	if rec.count("records.batch=rate_limited") != 1 || rec.count("records.batch=ok") != 1 {
		t.Fatalf("observer saw %v", rec.seen)
	}

	f.sim.SetFaults(sim.Faults{})
	f.sim.SetRateLimit(1, time.Minute)
	if err := p.Verify(ctx); err != nil {
		t.Fatalf("first request under a limit of 1 per minute: %v", err)
	}
	start = time.Now()
	_, err := p.Records(ctx, zone, provider.RecordFilter{})
	wait, ok := provider.IsRateLimited(err)
	if !ok || wait < 50*time.Second || wait > time.Minute {
		t.Fatalf("over the limit: err = %v, wait %s; want rate limited for about a minute", err, wait)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("returning a long rate limit took %s; it should not wait", d)
	}
	// The limiter now holds everything back for a minute: the next call does
	// not even reach the server.
	before := f.sim.Requests()["dns_records.list"]
	if _, err := p.Records(ctx, zone, provider.RecordFilter{}); !provider.IsRetryable(err) {
		t.Fatalf("next call: %v, want rate limited", err)
	}
	if after := f.sim.Requests()["dns_records.list"]; after != before {
		t.Fatalf("the paused limiter let a request through")
	}
	if rec.count("records.list=throttled") != 1 {
		t.Fatalf("observer saw %v, want one throttled", rec.seen)
	}
}

func TestProvidersWithTheSameCredentialShareOneLimiter(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *sim.Config) { c.RateLimit = -1 })
	limited := func(o *cloudflare.Options) {
		o.RateLimit = 4
		o.RateWindow = time.Hour
		o.MaxRateLimitWait = time.Millisecond
	}
	a, b := f.provider(t, limited), f.provider(t, limited)
	for i := range 4 {
		p := a
		if i%2 == 1 {
			p = b
		}
		if err := p.Verify(ctx); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	for name, p := range map[string]*cloudflare.Provider{"first": a, "second": b} {
		if _, ok := provider.IsRateLimited(p.Verify(ctx)); !ok {
			t.Fatalf("the %s provider sent a fifth request in the window", name)
		}
	}
	if got := f.sim.Requests()["tokens.verify"]; got != 4 {
		t.Fatalf("the simulator saw %d requests, want 4", got)
	}
	other := f.provider(t, limited, withToken(mintValue(t, f, "example.com")))
	if err := other.Verify(ctx); err != nil {
		t.Fatalf("another credential has its own limiter: %v", err)
	}
}

// mintValue mints a token on the simulator directly.
func mintValue(t *testing.T, f *fixture, zone string) provider.Secret {
	t.Helper()
	p := f.provider(t, func(o *cloudflare.Options) { o.RateLimit = -1 })
	tok, err := p.MintToken(context.Background(), provider.TokenSpec{Name: "scopedns/test/s/ns/" + zone, ZoneIDs: []string{f.sim.ZoneID(zone)}})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Value
}

func TestBatchesAreSplitAtTheLimit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *sim.Config) { c.BatchLimit = 3 })
	p := f.provider(t, func(o *cloudflare.Options) { o.BatchLimit = 3 })
	zone := f.sim.ZoneID("example.com")
	var creates []provider.Record
	for i := range 7 {
		creates = append(creates, txt(fmt.Sprintf("r%d.example.com", i), "v"))
	}
	res, err := p.ApplyChanges(ctx, zone, provider.Changes{Create: creates})
	if err != nil {
		t.Fatalf("ApplyChanges: %v", err)
	}
	if got := f.sim.Requests()["dns_records.batch"]; got != 3 {
		t.Fatalf("7 creates at a limit of 3 took %d batches, want 3", got)
	}
	for i, r := range res.Created {
		if r.Name != creates[i].Name || r.ID == "" {
			t.Fatalf("Created[%d] = %v, want %s with an ID", i, r, creates[i].Name)
		}
	}

	// A failing second batch reports the first.
	more := []provider.Record{txt("m1.example.com", "v"), txt("r5.example.com", "v"), txt("m2.example.com", "v"), txt("m3.example.com", "v")}
	res, err = p.ApplyChanges(ctx, zone, provider.Changes{Delete: res.Created[:3], Create: more})
	if !provider.IsConflict(err) || !strings.Contains(err.Error(), "batch 2 of 3") {
		t.Fatalf("ApplyChanges with a duplicate in the second batch: %v, want a conflict in batch 2 of 3", err)
	}
	if len(res.Deleted) != 3 || len(res.Created) != 0 {
		t.Fatalf("partial result = %+v, want the three deletes of the first batch", res)
	}
}

func TestPermissionGroupsAreLookedUpOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.provider(t)
	zone := f.sim.ZoneID("example.com")
	for i := range 3 {
		if _, err := p.MintToken(ctx, provider.TokenSpec{Name: fmt.Sprintf("scopedns/test/s/ns/%d", i), ZoneIDs: []string{zone}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.sim.Requests()["tokens.permission_groups"]; got != 1 {
		t.Fatalf("permission groups were listed %d times for 3 mints, want 1", got)
	}
	if _, err := f.provider(t, func(o *cloudflare.Options) { o.PermissionGroups = []string{"No Such Group"} }).
		MintToken(ctx, provider.TokenSpec{Name: "scopedns/test/s/ns/x", ZoneIDs: []string{zone}}); !provider.IsInvalid(err) || !strings.Contains(err.Error(), "No Such Group") {
		t.Fatalf("minting with an unknown permission group: %v", err)
	}
}

func TestMintedTokensCarryTheIPConditionAndPolicy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.provider(t)
	zone := f.sim.ZoneID("example.com")
	for name, tc := range map[string]struct {
		cidrs   []string
		allowed bool
	}{
		"a token limited to another network is refused from loopback": {[]string{"192.0.2.0/24"}, false},
		"a token limited to loopback works from loopback":             {[]string{"127.0.0.0/8", "::1/128"}, true},
	} {
		t.Run(name, func(t *testing.T) {
			tok, err := p.MintToken(ctx, provider.TokenSpec{Name: "scopedns/test/s/ns/" + tc.cidrs[0][:3], ZoneIDs: []string{zone}, AllowedCIDRs: tc.cidrs})
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.provider(t, withToken(tok.Value)).Records(ctx, zone, provider.RecordFilter{})
			if tc.allowed && err != nil {
				t.Fatalf("Records: %v", err)
			}
			if !tc.allowed && !provider.IsForbidden(err) {
				t.Fatalf("Records: %v, want forbidden", err)
			}
		})
	}
	var info *sim.TokenInfo
	for _, ti := range f.sim.Tokens() {
		if ti.Name == "scopedns/test/s/ns/192" {
			info = &ti
		}
	}
	if info == nil || len(info.Policies) != 1 || len(info.Policies[0].PermissionGroupIDs) != 2 ||
		fmt.Sprint(info.Policies[0].Resources) != fmt.Sprintf("map[com.cloudflare.api.account.zone.%s:*]", zone) {
		t.Fatalf("the simulator holds %+v, want one policy with two groups on exactly the zone", info)
	}
}

func TestConcurrentUseIsSafe(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p := f.provider(t)
	zone := f.sim.ZoneID("example.com")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Go(func() {
			r := txt(fmt.Sprintf("c%d.example.com", i), "v")
			res, err := p.ApplyChanges(ctx, zone, provider.Changes{Create: []provider.Record{r}})
			if err == nil {
				_, err = p.ApplyChanges(ctx, zone, provider.Changes{Delete: res.Created})
			}
			if err == nil {
				_, err = p.MintToken(ctx, provider.TokenSpec{Name: fmt.Sprintf("scopedns/test/s/ns/%d", i), ZoneIDs: []string{zone}})
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestAnUnreachableServerIsUnavailable(t *testing.T) {
	f := newFixture(t)
	f.srv.Close()
	p := f.provider(t, func(o *cloudflare.Options) { o.MaxRetries = 1 })
	err := p.Verify(context.Background())
	if provider.KindOf(err) != provider.KindUnavailable || !provider.IsRetryable(err) {
		t.Fatalf("Verify against a closed server: %v, want unavailable", err)
	}
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Op != provider.OpVerify {
		t.Fatalf("error %v does not name the operation", err)
	}
}

func TestACanceledContextStopsTheCall(t *testing.T) {
	f := newFixture(t)
	f.sim.SetFaults(sim.Faults{Latency: time.Minute})
	p := f.provider(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := p.Verify(ctx)
	if !errors.Is(err, context.DeadlineExceeded) && provider.KindOf(err) != provider.KindUnavailable {
		t.Fatalf("Verify past the deadline: %v", err)
	}
}

// Cloudflare's schema calls the IP condition "request.ip"; cloudflare-go v7
// sends "request_ip", which the simulator accepts too. Check the wire.
func TestTheIPConditionIsSentAsRequestDotIPAndKeptOnUpdate(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var mu sync.Mutex
	var bodies []string
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost || r.Method == http.MethodPut {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		f.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(capture.Close)
	p := f.provider(t, func(o *cloudflare.Options) { o.BaseURL = capture.URL + "/client/v4/"; o.HTTPClient = capture.Client() })
	a, b := f.sim.ZoneID("example.com"), f.sim.ZoneID("example.org")
	tok, err := p.MintToken(ctx, provider.TokenSpec{Name: "scopedns/test/s/ns/ip", ZoneIDs: []string{a}, AllowedCIDRs: []string{"192.0.2.0/24"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tok.AllowedCIDRs, []string{"192.0.2.0/24"}) {
		t.Fatalf("minted token allows %v", tok.AllowedCIDRs)
	}
	updated, err := p.UpdateTokenZones(ctx, tok.ID, []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(updated.AllowedCIDRs, []string{"192.0.2.0/24"}) {
		t.Fatalf("updated token allows %v", updated.AllowedCIDRs)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 2 {
		t.Fatalf("captured %d bodies, want the create and the update", len(bodies))
	}
	for _, body := range bodies {
		var v struct {
			Condition map[string]struct {
				In []string `json:"in"`
			} `json:"condition"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatal(err)
		}
		if _, underscore := v.Condition["request_ip"]; underscore || len(v.Condition["request.ip"].In) != 1 {
			t.Fatalf("body sends condition %v, want exactly request.ip", v.Condition)
		}
	}
}

func TestMXSRVAndCAAAreSentAsPriorityAndData(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var mu sync.Mutex
	var bodies []string
	capture := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/dns_records/batch") {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		f.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(capture.Close)
	p := f.provider(t, func(o *cloudflare.Options) { o.BaseURL = capture.URL + "/client/v4/"; o.HTTPClient = capture.Client() })
	zone := f.sim.ZoneID("example.com")
	owner := provider.OwnerComment("test", "ns", "claim")
	creates := []provider.Record{
		{Name: "example.com", Type: "MX", Content: "10 Mail.Example.net.", TTL: 300, Comment: owner},
		{Name: "_sip._tcp.example.com", Type: "SRV", Content: "20 0 5060 sip.example.net", TTL: 300, Comment: owner},
		{Name: "example.com", Type: "CAA", Content: `0 issue "ca.example.net; account=1"`, TTL: 300, Comment: owner},
	}
	res, err := p.ApplyChanges(ctx, zone, provider.Changes{Create: creates})
	if err != nil {
		t.Fatalf("creating: %v", err)
	}
	updates := []provider.Record{creates[0], creates[1], creates[2]}
	updates[0].Content, updates[1].Content, updates[2].Content = "0 .", "20 0 5061 sip.example.net", `0 issuewild ";"`
	if _, err := p.ApplyChanges(ctx, zone, provider.Changes{UpdateOld: res.Created, UpdateNew: updates}); err != nil {
		t.Fatalf("updating: %v", err)
	}

	type sent struct {
		Type     string          `json:"type"`
		Content  *string         `json:"content"`
		Priority *float64        `json:"priority"`
		Data     json.RawMessage `json:"data"`
	}
	type batch struct {
		Posts []sent `json:"posts"`
		Puts  []sent `json:"puts"`
	}
	var batches []batch
	mu.Lock()
	defer mu.Unlock()
	for _, b := range bodies {
		var v batch
		if err := json.Unmarshal([]byte(b), &v); err != nil {
			t.Fatal(err)
		}
		batches = append(batches, v)
	}
	if len(batches) != 2 || len(batches[0].Posts) != 3 || len(batches[1].Puts) != 3 {
		t.Fatalf("captured %s, want one batch of three posts and one of three puts", bodies)
	}
	describe := func(s sent) string {
		out := s.Type
		if s.Content != nil {
			out += " content=" + *s.Content
		}
		if s.Priority != nil {
			out += fmt.Sprintf(" priority=%v", *s.Priority)
		}
		if len(s.Data) > 0 {
			out += " data=" + string(s.Data)
		}
		return out
	}
	want := []string{
		"MX content=mail.example.net priority=10",
		`SRV data={"port":5060,"priority":20,"target":"sip.example.net","weight":0}`,
		`CAA data={"flags":0,"tag":"issue","value":"ca.example.net; account=1"}`,
		"MX content=. priority=0",
		`SRV data={"port":5061,"priority":20,"target":"sip.example.net","weight":0}`,
		`CAA data={"flags":0,"tag":"issuewild","value":";"}`,
	}
	var got []string
	for _, s := range append(batches[0].Posts, batches[1].Puts...) {
		got = append(got, describe(s))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sent\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// A paged list held back by the rate limit between pages waits and goes on
// from the page it stopped at, rather than failing and being listed again
// from page 1 by its caller.
func TestPagedListResumesAfterTheRateLimit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, func(c *sim.Config) { c.RateLimit = -1 })
	for i := range 12 {
		if _, err := f.sim.AddRecord("example.com", sim.Record{Name: fmt.Sprintf("r%d.example.com", i), Type: "TXT", Content: "x", TTL: 300}); err != nil {
			t.Fatal(err)
		}
	}
	p := f.provider(t, func(o *cloudflare.Options) {
		o.PageSize = 5 // 12 records and the zone's apex records: at least three pages
		o.RateLimit = 2
		o.RateWindow = 300 * time.Millisecond
		o.MaxRateLimitWait = time.Millisecond // the limiter refuses at once instead of waiting itself
	})
	zone := f.sim.ZoneID("example.com")
	got, err := p.Records(ctx, zone, provider.RecordFilter{Type: "TXT"})
	if err != nil {
		t.Fatalf("a list held back between its pages: %v", err)
	}
	if len(got) != 12 {
		t.Fatalf("listed %d TXT records, want 12", len(got))
	}
	all := f.sim.Records("example.com")
	pages := (len(all) + 4) / 5
	if n := f.sim.Requests()["dns_records.list"]; n != pages {
		t.Fatalf("the simulator served %d list requests for %d pages: the list started over", n, pages)
	}
}
