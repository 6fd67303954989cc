package sim

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	cloudflare "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/accounts"
	"github.com/cloudflare/cloudflare-go/v7/dns"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/shared"
	"github.com/cloudflare/cloudflare-go/v7/zones"
)

// These tests drive the simulator with the real cloudflare-go v7 client,
// so its request and response shapes are proven against the SDK the
// provider uses.

func (f *fixture) client(token string, opts ...option.RequestOption) *cloudflare.Client {
	base := []option.RequestOption{
		option.WithBaseURL(f.ts.URL + "/client/v4/"),
		option.WithAPIToken(token),
		option.WithHTTPClient(f.ts.Client()),
		option.WithMaxRetries(0),
	}
	return cloudflare.NewClient(append(base, opts...)...)
}

// apiError unwraps the SDK error into its status and first Cloudflare code.
func apiError(t *testing.T, err error) (int, int) {
	t.Helper()
	var e *cloudflare.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *cloudflare.Error", err, err)
	}
	code := 0
	if len(e.Errors) > 0 {
		code = int(e.Errors[0].Code)
	}
	return e.StatusCode, code
}

func TestCloudflareGoZones(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cf := f.client(testMaster)

	page, err := cf.Zones.List(ctx, zones.ZoneListParams{Name: cloudflare.F("example.org")})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Result) != 1 || page.Result[0].ID != f.srv.ZoneID("example.org") || page.Result[0].Account.ID != testAccount {
		t.Fatalf("zones by name: %+v", page.Result)
	}
	if page.Result[0].Status != zones.ZoneStatusActive || len(page.Result[0].NameServers) == 0 {
		t.Fatalf("zone fields: %+v", page.Result[0])
	}
	var names []string
	iter := cf.Zones.ListAutoPaging(ctx, zones.ZoneListParams{Account: cloudflare.F(zones.ZoneListParamsAccount{ID: cloudflare.F(testAccount)})})
	for iter.Next() {
		names = append(names, iter.Current().Name)
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "example.com,example.org" {
		t.Fatalf("auto-paged zones: %v", names)
	}
	z, err := cf.Zones.Get(ctx, zones.ZoneGetParams{ZoneID: cloudflare.F(f.srv.ZoneID("example.com"))})
	if err != nil || z.Name != "example.com" {
		t.Fatalf("get zone: %v %+v", err, z)
	}
}

func TestCloudflareGoRecords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cf := f.client(testMaster)
	zid := f.srv.ZoneID("example.com")

	created, err := cf.DNS.Records.New(ctx, dns.RecordNewParams{
		ZoneID: cloudflare.F(zid),
		Body: dns.TXTRecordParam{
			Name:    cloudflare.F("_acme-challenge.web.example.com"),
			TTL:     cloudflare.F(dns.TTL(120)),
			Type:    cloudflare.F(dns.TXTRecordTypeTXT),
			Content: cloudflare.F("challenge-value"),
			Comment: cloudflare.F("scopedns: claim team-a/web"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Name != "_acme-challenge.web.example.com" || created.TTL != 120 || created.Comment != "scopedns: claim team-a/web" || created.CreatedOn.IsZero() {
		t.Fatalf("created %+v", created)
	}
	if _, err := cf.DNS.Records.New(ctx, dns.RecordNewParams{
		ZoneID: cloudflare.F(zid),
		Body:   dns.ARecordParam{Name: cloudflare.F("web.example.com"), TTL: cloudflare.F(dns.TTL1), Type: cloudflare.F(dns.ARecordTypeA), Content: cloudflare.F("192.0.2.7")},
	}); err != nil {
		t.Fatal(err)
	}

	list, err := cf.DNS.Records.List(ctx, dns.RecordListParams{
		ZoneID:  cloudflare.F(zid),
		Type:    cloudflare.F(dns.RecordListParamsTypeTXT),
		Name:    cloudflare.F(dns.RecordListParamsName{Exact: cloudflare.F("_acme-challenge.web.example.com")}),
		Comment: cloudflare.F(dns.RecordListParamsComment{Startswith: cloudflare.F("scopedns:")}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Result) != 1 || list.Result[0].ID != created.ID || list.Result[0].Content != "challenge-value" {
		t.Fatalf("filtered list: %+v", list.Result)
	}

	for i := 0; i < 12; i++ {
		if _, err := f.srv.AddRecord("example.com", Record{Name: "bulk" + string(rune('a'+i)), Type: "TXT", Content: "v"}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	pager := cf.DNS.Records.ListAutoPaging(ctx, dns.RecordListParams{ZoneID: cloudflare.F(zid), PerPage: cloudflare.F(5.0)})
	for pager.Next() {
		n++
	}
	if err := pager.Err(); err != nil || n != 14 {
		t.Fatalf("auto-paging saw %d records, err %v", n, err)
	}

	batch, err := cf.DNS.Records.Batch(ctx, dns.RecordBatchParams{
		ZoneID:  cloudflare.F(zid),
		Deletes: cloudflare.F([]dns.RecordBatchParamsDelete{{ID: cloudflare.F(created.ID)}}),
		Patches: cloudflare.F([]dns.BatchPatchUnionParam{}),
		Posts: cloudflare.F([]dns.RecordBatchParamsPostUnion{
			dns.TXTRecordParam{Name: cloudflare.F("_acme-challenge.web.example.com"), TTL: cloudflare.F(dns.TTL(60)), Type: cloudflare.F(dns.TXTRecordTypeTXT), Content: cloudflare.F("next-value")},
			dns.CNAMERecordParam{Name: cloudflare.F("alias.example.com"), TTL: cloudflare.F(dns.TTL1), Type: cloudflare.F(dns.CNAMERecordTypeCNAME), Content: cloudflare.F("web.example.com")},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(batch.Deletes) != 1 || batch.Deletes[0].ID != created.ID || len(batch.Posts) != 2 || batch.Posts[0].Content != "next-value" {
		t.Fatalf("batch %+v", batch)
	}

	del, err := cf.DNS.Records.Delete(ctx, batch.Posts[1].ID, dns.RecordDeleteParams{ZoneID: cloudflare.F(zid)})
	if err != nil || del.ID != batch.Posts[1].ID {
		t.Fatalf("delete: %v %+v", err, del)
	}
	_, err = cf.DNS.Records.Delete(ctx, batch.Posts[1].ID, dns.RecordDeleteParams{ZoneID: cloudflare.F(zid)})
	if status, code := apiError(t, err); status != 404 || code != CodeRecordNotFound {
		t.Fatalf("second delete: %d %d", status, code)
	}
	_, err = cf.DNS.Records.New(ctx, dns.RecordNewParams{
		ZoneID: cloudflare.F(zid),
		Body:   dns.TXTRecordParam{Name: cloudflare.F("_acme-challenge.web.example.com"), TTL: cloudflare.F(dns.TTL(60)), Type: cloudflare.F(dns.TXTRecordTypeTXT), Content: cloudflare.F("next-value")},
	})
	if status, code := apiError(t, err); status != 400 || code != CodeRecordExists {
		t.Fatalf("duplicate create: %d %d", status, code)
	}
}

func TestCloudflareGoTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cf := f.client(testMaster)
	acct := cloudflare.F(testAccount)
	zid := f.srv.ZoneID("example.com")

	groups, err := cf.Accounts.Tokens.PermissionGroups.List(ctx, accounts.TokenPermissionGroupListParams{AccountID: acct})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, g := range groups.Result {
		byName[g.Name] = g.ID
	}
	if byName["Zone Read"] != PermZoneRead || byName["DNS Write"] != PermDNSWrite || byName["Account API Tokens Write"] != PermAccountAPITokensWrite {
		t.Fatalf("permission groups %v", byName)
	}

	expires := f.clock.Now().Add(768 * time.Hour).Truncate(time.Second)
	created, err := cf.Accounts.Tokens.New(ctx, accounts.TokenNewParams{
		AccountID: acct,
		Name:      cloudflare.F("scopedns-test-team-a-1"),
		Policies: cloudflare.F([]shared.TokenPolicyParam{{
			Effect: cloudflare.F(shared.TokenPolicyEffectAllow),
			PermissionGroups: cloudflare.F([]shared.TokenPolicyPermissionGroupParam{
				{ID: cloudflare.F(byName["Zone Read"])}, {ID: cloudflare.F(byName["DNS Write"])},
			}),
			Resources: cloudflare.F[shared.TokenPolicyResourcesUnionParam](shared.TokenPolicyResourcesIAMResourcesTypeObjectNestedParam{
				"com.cloudflare.api.account." + testAccount: {"com.cloudflare.api.account.zone." + zid: "*"},
			}),
		}}),
		Condition: cloudflare.F(accounts.TokenNewParamsCondition{RequestIP: cloudflare.F(accounts.TokenNewParamsConditionRequestIP{
			In: cloudflare.F([]string{"127.0.0.0/8"}),
		})}),
		ExpiresOn: cloudflare.F(expires),
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.Value == "" || created.Status != accounts.TokenNewResponseStatusActive || !created.ExpiresOn.Equal(expires) ||
		len(created.Policies) != 1 || len(created.Policies[0].PermissionGroups) != 2 || len(created.Condition.RequestIP.In) != 1 {
		t.Fatalf("created %+v", created)
	}
	nested, ok := created.Policies[0].Resources.(shared.TokenPolicyResourcesIAMResourcesTypeObjectNested)
	if !ok || nested["com.cloudflare.api.account."+testAccount]["com.cloudflare.api.account.zone."+zid] != "*" {
		t.Fatalf("resources %#v", created.Policies[0].Resources)
	}

	// The minted token works for DNS-01 and nothing else.
	scoped := f.client(created.Value)
	v, err := scoped.Accounts.Tokens.Verify(ctx, accounts.TokenVerifyParams{AccountID: acct})
	if err != nil || v.ID != created.ID || v.Status != accounts.TokenVerifyResponseStatusActive {
		t.Fatalf("verify: %v %+v", err, v)
	}
	if _, err := scoped.DNS.Records.New(ctx, dns.RecordNewParams{
		ZoneID: cloudflare.F(zid),
		Body:   dns.TXTRecordParam{Name: cloudflare.F("_acme-challenge.example.com"), TTL: cloudflare.F(dns.TTL(120)), Type: cloudflare.F(dns.TXTRecordTypeTXT), Content: cloudflare.F("x")},
	}); err != nil {
		t.Fatalf("scoped create: %v", err)
	}
	_, err = scoped.DNS.Records.List(ctx, dns.RecordListParams{ZoneID: cloudflare.F(f.srv.ZoneID("example.org"))})
	if status, code := apiError(t, err); status != 403 || code != CodeAuthError {
		t.Fatalf("scoped list of another zone: %d %d", status, code)
	}
	_, err = scoped.Accounts.Tokens.List(ctx, accounts.TokenListParams{AccountID: acct})
	if status, code := apiError(t, err); status != 403 || code != CodeUnauthorized {
		t.Fatalf("scoped token list: %d %d", status, code)
	}

	got, err := cf.Accounts.Tokens.Get(ctx, created.ID, accounts.TokenGetParams{AccountID: acct})
	if err != nil || got.Name != "scopedns-test-team-a-1" || got.ID != created.ID || len(got.Condition.RequestIP.In) != 1 {
		t.Fatalf("get: %v %+v", err, got)
	}
	if strings.Contains(got.JSON.RawJSON(), created.Value) {
		t.Fatal("get returned the value")
	}

	upd, err := cf.Accounts.Tokens.Update(ctx, created.ID, accounts.TokenUpdateParams{
		AccountID: acct,
		Token: shared.TokenParam{
			Name: cloudflare.F("scopedns-test-team-a-1"),
			Policies: cloudflare.F([]shared.TokenPolicyParam{{
				Effect:           cloudflare.F(shared.TokenPolicyEffectAllow),
				PermissionGroups: cloudflare.F([]shared.TokenPolicyPermissionGroupParam{{ID: cloudflare.F(PermZoneRead)}, {ID: cloudflare.F(PermDNSWrite)}}),
				Resources: cloudflare.F[shared.TokenPolicyResourcesUnionParam](shared.TokenPolicyResourcesIAMResourcesTypeObjectStringParam{
					"com.cloudflare.api.account.zone." + zid:                         "*",
					"com.cloudflare.api.account.zone." + f.srv.ZoneID("example.org"): "*",
				}),
			}}),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := upd.Policies[0].Resources.(shared.TokenPolicyResourcesIAMResourcesTypeObjectString); !ok || !upd.ExpiresOn.Equal(expires) {
		t.Fatalf("update %+v", upd)
	}
	if _, err := scoped.DNS.Records.List(ctx, dns.RecordListParams{ZoneID: cloudflare.F(f.srv.ZoneID("example.org"))}); err != nil {
		t.Fatalf("after update the same value reaches example.org: %v", err)
	}

	var ids []string
	pager := cf.Accounts.Tokens.ListAutoPaging(ctx, accounts.TokenListParams{AccountID: acct, PerPage: cloudflare.F(5.0)})
	for pager.Next() {
		ids = append(ids, pager.Current().ID)
	}
	if err := pager.Err(); err != nil || len(ids) != 2 {
		t.Fatalf("token list: %v %v", err, ids)
	}
	sort.Strings(ids)

	del, err := cf.Accounts.Tokens.Delete(ctx, created.ID, accounts.TokenDeleteParams{AccountID: acct})
	if err != nil || del.ID != created.ID {
		t.Fatalf("delete: %v %+v", err, del)
	}
	_, err = scoped.Accounts.Tokens.Verify(ctx, accounts.TokenVerifyParams{AccountID: acct})
	if status, code := apiError(t, err); status != 401 || code != CodeInvalidAPIToken {
		t.Fatalf("verify after delete: %d %d", status, code)
	}
}

func TestCloudflareGoErrors(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	zid := f.srv.ZoneID("example.com")

	t.Run("a rate-limited client sees 429 and Retry-After", func(t *testing.T) {
		f.srv.SetRateLimit(2, time.Minute)
		defer f.srv.SetRateLimit(DefaultRateLimit, DefaultRateWindow)
		var res *http.Response
		cf := f.client(testMaster)
		for i := 0; i < 2; i++ {
			if _, err := cf.Zones.Get(ctx, zones.ZoneGetParams{ZoneID: cloudflare.F(zid)}); err != nil {
				t.Fatal(err)
			}
		}
		_, err := cf.Zones.Get(ctx, zones.ZoneGetParams{ZoneID: cloudflare.F(zid)}, option.WithResponseInto(&res))
		if status, code := apiError(t, err); status != 429 || code != CodeRateLimited {
			t.Fatalf("%d %d", status, code)
		}
		var e *cloudflare.Error
		errors.As(err, &e)
		if e.Response.Header.Get("Retry-After") == "" {
			t.Fatal("no Retry-After")
		}
	})
	t.Run("the client's retries ride over injected 5xx", func(t *testing.T) {
		f.srv.SetFaults(Faults{FailOps: map[string]int{"zones.get": 1}, FailStatus: http.StatusServiceUnavailable})
		defer f.srv.SetFaults(Faults{})
		cf := f.client(testMaster, option.WithMaxRetries(2))
		if _, err := cf.Zones.Get(ctx, zones.ZoneGetParams{ZoneID: cloudflare.F(zid)}); err != nil {
			t.Fatalf("retry did not recover: %v", err)
		}
		if n := f.srv.Requests()["zones.get"]; n < 2 {
			t.Fatalf("zones.get counted %d", n)
		}
	})
	t.Run("an unknown token is an authentication error", func(t *testing.T) {
		_, err := f.client("no-such-token-value-000").Zones.Get(ctx, zones.ZoneGetParams{ZoneID: cloudflare.F(zid)})
		if status, code := apiError(t, err); status != 401 || code != CodeAuthError {
			t.Fatalf("%d %d", status, code)
		}
	})
}
