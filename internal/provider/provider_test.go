package provider_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
)

func TestErrorClassification(t *testing.T) {
	rate := &provider.Error{Op: "records.list", Kind: provider.KindRateLimited, Status: 429, RetryAfter: 7 * time.Second}
	for name, tc := range map[string]struct {
		err                                                   error
		notFound, forbidden, quota, retryable, limited, fault bool
		wait                                                  time.Duration
	}{
		"not found is not found and the request's fault": {err: &provider.Error{Kind: provider.KindNotFound}, notFound: true, fault: true},
		"invalid is the request's fault":                 {err: &provider.Error{Kind: provider.KindInvalid, Status: 400}, fault: true},
		"a wrapped conflict is the request's fault":      {err: fmt.Errorf("zone z: %w", &provider.Error{Kind: provider.KindConflict}), fault: true},
		"forbidden is only forbidden":                    {err: &provider.Error{Kind: provider.KindForbidden}, forbidden: true},
		"quota exceeded is permanent":                    {err: &provider.Error{Kind: provider.KindQuotaExceeded}, quota: true},
		"rate limited is retryable with its wait":        {err: rate, retryable: true, limited: true, wait: 7 * time.Second},
		"a wrapped rate limit keeps its wait":            {err: fmt.Errorf("batch 2 of 3: %w", rate), retryable: true, limited: true, wait: 7 * time.Second},
		"rate limited without a wait waits one second":   {err: &provider.Error{Kind: provider.KindRateLimited}, retryable: true, limited: true, wait: time.Second},
		"unavailable is retryable":                       {err: &provider.Error{Kind: provider.KindUnavailable}, retryable: true},
		"an unknown error is permanent":                  {err: &provider.Error{Kind: provider.KindUnknown}},
		"a plain error is permanent":                     {err: errors.New("boom")},
		"nil is nothing":                                 {err: nil},
	} {
		t.Run(name, func(t *testing.T) {
			wait, limited := provider.IsRateLimited(tc.err)
			got := [...]bool{provider.IsNotFound(tc.err), provider.IsForbidden(tc.err), provider.IsQuotaExceeded(tc.err), provider.IsRetryable(tc.err), limited, provider.IsRequestFault(tc.err)}
			want := [...]bool{tc.notFound, tc.forbidden, tc.quota, tc.retryable, tc.limited, tc.fault}
			if got != want || wait != tc.wait {
				t.Fatalf("not found, forbidden, quota, retryable, limited, request's fault = %v wait %s; want %v wait %s", got, wait, want, tc.wait)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	e := &provider.Error{Op: "records.batch", Kind: provider.KindConflict, Status: 400, Codes: []int{1004, 81057}, Message: "DNS Validation Error: Record already exists."}
	want := "provider: records.batch: conflict (HTTP 400, code 1004,81057): DNS Validation Error: Record already exists."
	if e.Error() != want {
		t.Fatalf("Error() = %q, want %q", e.Error(), want)
	}
	if !errors.Is(e, provider.ErrConflict) || errors.Is(e, provider.ErrNotFound) {
		t.Fatal("errors.Is does not follow the kind")
	}
	if provider.ResultOf(e) != provider.ResultClientError || provider.ResultOf(nil) != provider.ResultOK ||
		provider.ResultOf(&provider.Error{Kind: provider.KindUnavailable, Status: 502}) != provider.ResultServerError {
		t.Fatal("ResultOf maps kinds wrongly")
	}
}

func TestSecretNeverPrints(t *testing.T) {
	const value = "s3cr3t-v4lue-that-must-not-leak"
	s := provider.Secret(value)
	tok := provider.MintedToken{Token: provider.Token{ID: "id", Name: "n"}, Value: s}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("minted", "token", tok, "value", s)
	js, _ := json.Marshal(tok)
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%s|%v|%+v|%#v|%q|%x|%X|%d", s, s, s, s, s, s, s, s),
		fmt.Sprint(tok), fmt.Sprintf("%+v", tok), fmt.Sprintf("%#v", tok), string(js), logged.String(),
	} {
		if strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) {
			t.Fatalf("printed the secret: %s", out)
		}
	}
	if s.Reveal() != value {
		t.Fatal("Reveal does not return the value")
	}
	if got := provider.Redact("a "+value+" b", s, "", "ab"); got != "a [redacted] b" {
		t.Fatalf("Redact = %q", got)
	}
}

func TestChangesValidate(t *testing.T) {
	ok := provider.Record{Name: "a.example.com", Type: "TXT", Content: "x"}
	withID := func(r provider.Record, id string) provider.Record { r.ID = id; return r }
	for name, tc := range map[string]struct {
		c    provider.Changes
		want string
	}{
		"empty changes are valid":                 {provider.Changes{}, ""},
		"a create, an update and a delete":        {provider.Changes{Create: []provider.Record{ok}, UpdateOld: []provider.Record{withID(ok, "1")}, UpdateNew: []provider.Record{ok}, Delete: []provider.Record{withID(ok, "2")}}, ""},
		"updates need as many old records as new": {provider.Changes{UpdateNew: []provider.Record{ok}}, "0 old records for 1 updates"},
		"a delete needs an ID":                    {provider.Changes{Delete: []provider.Record{ok}}, "delete[0] has no record ID"},
		"a record cannot be updated and deleted":  {provider.Changes{Delete: []provider.Record{withID(ok, "1")}, UpdateOld: []provider.Record{withID(ok, "1")}, UpdateNew: []provider.Record{ok}}, "appears in both"},
		"unsupported types are refused":           {provider.Changes{Create: []provider.Record{{Name: "a.example.com", Type: "SPF1", Content: "x"}}}, `type "SPF1" is not supported`},
		"comments longer than 100 are refused":    {provider.Changes{Create: []provider.Record{{Name: "a.example.com", Type: "TXT", Content: "x", Comment: strings.Repeat("c", 101)}}}, "comment is 101 characters"},
		"an update cannot change the type":        {provider.Changes{UpdateOld: []provider.Record{withID(ok, "1")}, UpdateNew: []provider.Record{{Name: "a.example.com", Type: "A", Content: "192.0.2.1"}}}, "changes the type"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !provider.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an invalid error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestTokenSpecValidate(t *testing.T) {
	now := time.Now()
	err := provider.TokenSpec{AllowedCIDRs: []string{"10.0.0.0/8", "nope"}, NotBefore: now, ExpiresOn: now}.Validate()
	for _, want := range []string{"no token name", "no zones", `"nope" is not a CIDR`, "expires before"} {
		if !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("Validate = %v, want it to mention %q", err, want)
		}
	}
	if err := (provider.TokenSpec{Name: "n", ZoneIDs: []string{"z"}, AllowedCIDRs: []string{"2001:db8::/32"}}).Validate(); err != nil {
		t.Fatalf("Validate of a good spec: %v", err)
	}
}

func TestRecordFilterMatches(t *testing.T) {
	r := provider.Record{Name: "a.example.com", Type: "TXT", Comment: provider.OwnerComment("prod", "ns", "c")}
	for name, tc := range map[string]struct {
		f    provider.RecordFilter
		want bool
	}{
		"an empty filter matches":                 {provider.RecordFilter{}, true},
		"names match after normalisation":         {provider.RecordFilter{Name: "A.Example.COM."}, true},
		"types match in any case":                 {provider.RecordFilter{Type: "txt"}, true},
		"the owner must match exactly":            {provider.RecordFilter{Owner: provider.OwnerComment("prod", "ns", "c2")}, false},
		"the cluster prefix matches its records":  {provider.RecordFilter{OwnerPrefix: provider.OwnerPrefix("prod")}, true},
		"another cluster's prefix does not match": {provider.RecordFilter{OwnerPrefix: provider.OwnerPrefix("prod2")}, false},
		"another name does not match":             {provider.RecordFilter{Name: "b.example.com"}, false},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tc.f.Matches(r); got != tc.want {
				t.Fatalf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}
