package cfapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/cfapi"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/memory"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// These came from a hostile-tenant review of the front door; each failed
// before its fix.

// A token past its request limit is answered 429 before any work; its
// audit lines must be sampled like the RFC 2136 gateway's over-limit lines,
// or one tenant's flood of refused requests is a line each, without bound.
func TestAuditLinesOfATokenPastItsLimitAreSampled(t *testing.T) {
	f := newFixture(t, cfapi.Options{RateLimit: 1})
	for i := 0; i < 200; i++ {
		f.raw(t, tokenA, "GET", "/zones", "")
	}
	if n := strings.Count(f.logs.String(), "over the token's request limit"); n > 10 {
		t.Fatalf("%d audit lines for 199 requests over the limit, want a few (sampled)", n)
	}
}

// A batch the front door answers as failed must have written nothing:
// "all or nothing". A post beside a record the token cannot see is ignored
// by the writer and answered 81053, but the batch's other changes landed.
func TestABatchAnsweredAsFailedWroteNothing(t *testing.T) {
	f := newFixture(t, cfapi.Options{})
	f.seed(t, provider.Record{Name: appA, Type: "CNAME", Content: "elsewhere.example.net", TTL: 300, Comment: "console"})
	status, env := f.raw(t, tokenA, "POST", "/zones/"+f.store.ZoneID(zoneCom)+"/dns_records/batch",
		`{"posts":[{"name":"`+txtA+`","type":"TXT","content":"x"},{"name":"`+appA+`","type":"A","content":"192.0.2.1"}]}`)
	if status != 400 || env.code() != 81053 {
		t.Fatalf("an A beside a CNAME the token cannot see: %d %+v, want 400 81053", status, env)
	}
	if got := f.records(txtA); len(got) != 0 {
		t.Fatalf("batch answered %d %+v, yet it wrote %v", status, env, got)
	}
}

// A tenant's refusal for its share of the budget must not tell it how many
// other namespaces are writing in the scope: its answer is to stay the same
// whoever else is active.
func TestAnOverBudgetAnswerTellsNothingOfOtherNamespaces(t *testing.T) {
	store := memory.New(memory.Config{Zones: []string{zoneCom}})
	w, err := zonewriter.New(zonewriter.Options{
		Providers: zonewriter.ProvidersFunc(func(context.Context, string) (zonewriter.Provider, error) {
			return store.Master(), nil
		}),
		RequestBudget: 4, PaceBurst: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := cfapi.New(cfapi.Options{Writer: w, Tokens: cfapi.NewTokenStore(
		token(store, "team-a", tokenA, zonewriter.Grant{Name: appA, Type: "A"}),
		token(store, "team-b", tokenB, zonewriter.Grant{Name: appB, Type: "A"}),
	)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	f := &fixture{store: store, ts: ts}
	post := func(tok, name, ip string) (int, envelope) {
		return f.raw(t, tok, "POST", "/zones/"+store.ZoneID(zoneCom)+"/dns_records",
			`{"name":"`+name+`","type":"A","content":"`+ip+`","ttl":120}`)
	}
	var alone string
	for i := 1; alone == ""; i++ {
		status, env := post(tokenA, appA, fmt.Sprintf("192.0.2.%d", i))
		switch {
		case status == 429:
			alone = env.Errors[0].Message
		case status != 200 || i > 10:
			t.Fatalf("write %d: %d %+v", i, status, env)
		}
	}
	if status, env := post(tokenB, appB, "198.51.100.1"); status != 200 {
		t.Fatalf("team-b's write: %d %+v", status, env)
	}
	_, env := post(tokenA, appA, "192.0.2.99")
	if beside := env.Errors[0].Message; beside != alone {
		t.Fatalf("team-a's refusal changed when team-b began writing:\n alone:  %s\n beside: %s", alone, beside)
	}
}

// blockedWriter holds every read until released, as a zone listing or a
// paced batch holds a request, and counts the requests it holds.
type blockedWriter struct {
	held    atomic.Int32
	release chan struct{}
}

func (b *blockedWriter) Read(ctx context.Context, _ zonewriter.ReadRequest) ([]provider.Record, error) {
	b.held.Add(1)
	select {
	case <-b.release:
	case <-ctx.Done():
	}
	return nil, nil
}

func (b *blockedWriter) Write(context.Context, zonewriter.Request) (zonewriter.Result, error) {
	return zonewriter.Result{}, nil
}

// One token's requests in flight, each holding a body of up to a MiB, must
// be bounded: the per-window limit (1,200 per 5 minutes) admits them all at
// once, so one tenant could hold 1,200 MiB of the operator's memory.
func TestOneTokenCannotHoldManyBodiesAtOnce(t *testing.T) {
	store := memory.New(memory.Config{Zones: []string{zoneCom}})
	bw := &blockedWriter{release: make(chan struct{})}
	h, err := cfapi.New(cfapi.Options{Writer: bw, Tokens: cfapi.NewTokenStore(
		token(store, "team-a", tokenA, zonewriter.Grant{Name: txtA, Type: "TXT"}),
	)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	body := `{"posts":[{"name":"` + txtA + `","type":"TXT","content":"x","comment":"` + strings.Repeat("x", 900<<10) + `"}]}`
	const n = 40
	answered := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			req, _ := http.NewRequest("POST", ts.URL+"/client/v4/zones/"+store.ZoneID(zoneCom)+"/dns_records/batch", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tokenA)
			resp, err := ts.Client().Do(req)
			if err != nil {
				answered <- 0
				return
			}
			resp.Body.Close()
			answered <- resp.StatusCode
		}()
	}
	refused := 0
	deadline := time.After(20 * time.Second)
	for int(bw.held.Load())+refused < n {
		select {
		case <-answered:
			refused++
		case <-deadline:
			t.Fatalf("held %d, answered %d of %d", bw.held.Load(), refused, n)
		case <-time.After(10 * time.Millisecond):
		}
	}
	held := bw.held.Load()
	close(bw.release)
	if held > 10 {
		t.Fatalf("one token held %d requests of ~1 MiB each at once, want a small bound (the rest 429)", held)
	}
}

// A token with reservations in a zone and in a zone below it writes each
// name into its own zone: written into the parent, a child zone's name
// would sit behind the delegation, unseen by resolvers.
func TestANameOfAChildZoneIsNotWrittenIntoTheParent(t *testing.T) {
	store := memory.New(memory.Config{Zones: []string{zoneCom, "sub." + zoneCom}})
	w, err := zonewriter.New(zonewriter.Options{Providers: zonewriter.ProvidersFunc(func(context.Context, string) (zonewriter.Provider, error) {
		return store.Master(), nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	child := "x.sub." + zoneCom
	tok := token(store, "team-a", tokenA, zonewriter.Grant{Name: child, Type: "A"})
	tok.Zones = append(tok.Zones, cfapi.Zone{ID: store.ZoneID("sub." + zoneCom), Name: "sub." + zoneCom})
	h, err := cfapi.New(cfapi.Options{Writer: w, Tokens: cfapi.NewTokenStore(tok)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	f := &fixture{store: store, ts: ts}
	status, env := f.raw(t, tokenA, "POST", "/zones/"+store.ZoneID(zoneCom)+"/dns_records", `{"name":"`+child+`","type":"A","content":"192.0.2.1"}`)
	if status != 403 || env.code() != 10000 || !strings.Contains(env.Errors[0].Message, "sub."+zoneCom) {
		t.Fatalf("the child zone's name posted to the parent: %d %+v, want 403 naming the child zone", status, env)
	}
	if status, env := f.raw(t, tokenA, "POST", "/zones/"+store.ZoneID("sub."+zoneCom)+"/dns_records", `{"name":"`+child+`","type":"A","content":"192.0.2.1"}`); status != 200 {
		t.Fatalf("the child zone's name posted to the child: %d %+v", status, env)
	}
}

// TestARefusalAtANameAnotherNamespaceHoldsDoesNotNameIt: what a token is
// told when it writes where another namespace's records are (an RRset it
// was not granted, or a record of its granted RRset that another namespace
// wrote) names only its own namespace (issue 17, item 9). The holder's
// namespace is in the records' owner marker, which is never shown.
func TestARefusalAtANameAnotherNamespaceHoldsDoesNotNameIt(t *testing.T) {
	f := newFixture(t, cfapi.Options{})
	f.seed(t,
		provider.Record{Name: sharedTXT, Type: "TXT", Content: `"team-a's"`, TTL: 60, Comment: owner("team-a")},
		provider.Record{Name: sharedTXT, Type: "MX", Content: "10 mail.example.net", TTL: 60, Comment: owner("team-a")},
	)
	zone := "/zones/" + f.store.ZoneID(zoneCom) + "/dns_records"
	var mxID string
	for _, r := range f.store.Records(zoneCom) {
		if r.Name == sharedTXT && r.Type == "MX" {
			mxID = r.ID
		}
	}
	cases := map[string]struct {
		method, path, body string
	}{
		"a TXT at a name whose TXT another namespace holds": {
			method: "POST", path: zone, body: `{"name":"` + sharedTXT + `","type":"TXT","content":"\"mine\"","ttl":120}`,
		},
		"a delete of a record another namespace wrote in the token's granted RRset": {
			method: "DELETE", path: zone + "/" + mxID,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			status, env := f.raw(t, tokenB, tc.method, tc.path, tc.body)
			if status == 200 {
				t.Fatalf("%s %s was applied: %+v", tc.method, tc.path, env)
			}
			for _, e := range env.Errors {
				if strings.Contains(e.Message, "team-a") {
					t.Errorf("answer %d %q names the other namespace", status, e.Message)
				}
			}
		})
	}
}
