// Package cloudflare is the provider.Provider for Cloudflare, on cloudflare-go v7:
// zones and DNS records through the zone endpoints, account-owned API tokens
// through /accounts/{id}/tokens. It paces itself under Cloudflare's rate limit
// (shared per credential), retries what is safe to retry, writes records in
// batches, and never lets a token value into an error or a log line.
package cloudflare

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cf "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/accounts"
	"github.com/cloudflare/cloudflare-go/v7/dns"
	"github.com/cloudflare/cloudflare-go/v7/option"
	"github.com/cloudflare/cloudflare-go/v7/packages/pagination"
	"github.com/cloudflare/cloudflare-go/v7/shared"
	"github.com/cloudflare/cloudflare-go/v7/zones"

	"github.com/scopedns/scopedns/internal/provider"
)

// api is the part of cloudflare-go the provider uses; add methods as required.
// Tests swap it for a fake.
type api interface {
	ListZones(ctx context.Context, params zones.ZoneListParams) (*pagination.V4PagePaginationArray[zones.Zone], error)
	ListRecords(ctx context.Context, params dns.RecordListParams) (*recordPage, error)
	BatchRecords(ctx context.Context, params dns.RecordBatchParams) (*batchResult, error)
	ListPermissionGroups(ctx context.Context, params accounts.TokenPermissionGroupListParams) (*pagination.SinglePage[accounts.TokenPermissionGroupListResponse], error)
	NewToken(ctx context.Context, params accounts.TokenNewParams, opts ...option.RequestOption) (*accounts.TokenNewResponse, error)
	GetToken(ctx context.Context, tokenID string, params accounts.TokenGetParams) (*shared.Token, error)
	UpdateToken(ctx context.Context, tokenID string, params accounts.TokenUpdateParams, opts ...option.RequestOption) (*shared.Token, error)
	DeleteToken(ctx context.Context, tokenID string, params accounts.TokenDeleteParams) (*accounts.TokenDeleteResponse, error)
	ListTokens(ctx context.Context, params accounts.TokenListParams) (*pagination.V4PagePaginationArray[shared.Token], error)
	VerifyToken(ctx context.Context, params accounts.TokenVerifyParams) (*accounts.TokenVerifyResponse, error)
}

// sdk is api on cloudflare-go's services. The services are built directly, not
// through cloudflare.NewClient, so that no CLOUDFLARE_* environment variable
// adds a credential or header behind the provider's back.
type sdk struct {
	zones   *zones.ZoneService
	records *dns.RecordService
	tokens  *accounts.TokenService
}

func newSDK(opts ...option.RequestOption) *sdk {
	return &sdk{zones: zones.NewZoneService(opts...), records: dns.NewRecordService(opts...), tokens: accounts.NewTokenService(opts...)}
}

func (s *sdk) ListZones(ctx context.Context, p zones.ZoneListParams) (*pagination.V4PagePaginationArray[zones.Zone], error) {
	return s.zones.List(ctx, p)
}

// ListRecords and BatchRecords decode the response themselves (see
// recordJSON): the SDK's decoder for its DNS record union costs about half a
// millisecond and 200 kB per record, which would make reading a zone of a few
// thousand records take seconds of CPU. Requests, authentication, errors and
// the middleware are still cloudflare-go's.
func (s *sdk) ListRecords(ctx context.Context, p dns.RecordListParams) (*recordPage, error) {
	var page recordPage
	if _, err := s.records.List(ctx, p, option.WithResponseBodyInto(&page)); err != nil {
		return nil, err
	}
	return &page, nil
}

func (s *sdk) BatchRecords(ctx context.Context, p dns.RecordBatchParams) (*batchResult, error) {
	var env struct {
		Result batchResult `json:"result"`
	}
	if _, err := s.records.Batch(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
		return nil, err
	}
	return &env.Result, nil
}

func (s *sdk) ListPermissionGroups(ctx context.Context, p accounts.TokenPermissionGroupListParams) (*pagination.SinglePage[accounts.TokenPermissionGroupListResponse], error) {
	return s.tokens.PermissionGroups.List(ctx, p)
}

func (s *sdk) NewToken(ctx context.Context, p accounts.TokenNewParams, opts ...option.RequestOption) (*accounts.TokenNewResponse, error) {
	return s.tokens.New(ctx, p, opts...)
}

func (s *sdk) GetToken(ctx context.Context, id string, p accounts.TokenGetParams) (*shared.Token, error) {
	return s.tokens.Get(ctx, id, p)
}

func (s *sdk) UpdateToken(ctx context.Context, id string, p accounts.TokenUpdateParams, opts ...option.RequestOption) (*shared.Token, error) {
	return s.tokens.Update(ctx, id, p, opts...)
}

func (s *sdk) DeleteToken(ctx context.Context, id string, p accounts.TokenDeleteParams) (*accounts.TokenDeleteResponse, error) {
	return s.tokens.Delete(ctx, id, p)
}

func (s *sdk) ListTokens(ctx context.Context, p accounts.TokenListParams) (*pagination.V4PagePaginationArray[shared.Token], error) {
	return s.tokens.List(ctx, p)
}

func (s *sdk) VerifyToken(ctx context.Context, p accounts.TokenVerifyParams) (*accounts.TokenVerifyResponse, error) {
	return s.tokens.Verify(ctx, p)
}

// Provider is the Cloudflare provider.Provider. It is safe for concurrent use.
type Provider struct {
	opts   Options
	api    api
	limits *limits // nil when client-side pacing is off
	log    *slog.Logger

	groupsMu sync.Mutex
	groupIDs []string // permission group IDs, in the order of opts.PermissionGroups
}

var _ provider.Provider = (*Provider)(nil)

// New builds a Provider. Invalid options are reported together.
func New(opts Options) (*Provider, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	warmEncoders()
	p := newProvider(opts, nil)
	p.api = newSDK(
		option.WithBaseURL(opts.BaseURL),
		option.WithAPIToken(opts.APIToken.Reveal()),
		option.WithHTTPClient(opts.HTTPClient),
		option.WithMaxRetries(0),
		option.WithMiddleware(p.middleware),
	)
	return p, nil
}

// newProvider builds a Provider on an api (nil: set by the caller); options
// must already be defaulted and valid.
func newProvider(opts Options, a api) *Provider {
	p := &Provider{opts: opts, api: a, log: opts.Logger}
	if opts.RateLimit > 0 {
		p.limits = sharedLimits(limiterKey(opts.BaseURL, opts.APIToken.Reveal()), opts)
	}
	return p
}

// Verify implements provider.Provider.
func (p *Provider) Verify(ctx context.Context) error {
	var res *accounts.TokenVerifyResponse
	err := p.call(ctx, provider.OpVerify, func(ctx context.Context) (err error) {
		res, err = p.api.VerifyToken(ctx, accounts.TokenVerifyParams{AccountID: cf.F(p.opts.AccountID)})
		return err
	})
	if err != nil {
		return err
	}
	if res.Status != accounts.TokenVerifyResponseStatusActive {
		return &provider.Error{Op: provider.OpVerify, Kind: provider.KindForbidden, Status: http.StatusOK,
			Message: "the credential is " + string(res.Status)}
	}
	return nil
}

// zonesByNameThreshold is the number of names up to which Zones asks for each
// by name; beyond it, it lists the account's zones.
const zonesByNameThreshold = 5

// Zones implements provider.Provider.
func (p *Provider) Zones(ctx context.Context, names []string) ([]provider.Zone, error) {
	var want []string
	for _, n := range names {
		if n = provider.NormalizeName(n); n != "" && !slices.Contains(want, n) {
			want = append(want, n)
		}
	}
	found := map[string]provider.Zone{}
	collect := func(name string) error {
		params := zones.ZoneListParams{
			Account: cf.F(zones.ZoneListParamsAccount{ID: cf.F(p.opts.AccountID)}),
			PerPage: cf.F(float64(zonePageSize)),
		}
		if name != "" {
			params.Name = cf.F(name)
		}
		return pages(ctx, p, provider.OpZonesList, func(ctx context.Context, page int) ([]zones.Zone, bool, error) {
			params.Page = cf.F(float64(page))
			return v4(p.api.ListZones(ctx, params))(page)
		}, func(z zones.Zone) {
			if n := provider.NormalizeName(z.Name); slices.Contains(want, n) {
				found[n] = provider.Zone{ID: z.ID, Name: n}
			}
		})
	}
	if len(want) <= zonesByNameThreshold {
		for _, n := range want {
			if err := collect(n); err != nil {
				return nil, err
			}
		}
	} else if err := collect(""); err != nil {
		return nil, err
	}
	var out []provider.Zone
	for _, n := range want {
		if z, ok := found[n]; ok {
			out = append(out, z)
		}
	}
	return out, nil
}

// pages reads every page of a page-numbered list, one call (with retries) per
// page; get returns a page's items and whether there is another page.
func pages[T any](ctx context.Context, p *Provider, op string, get func(ctx context.Context, page int) ([]T, bool, error), each func(T)) error {
	const maxPages = 100_000
	var waited time.Duration
	for page := 1; page <= maxPages; page++ {
		var items []T
		var more bool
		err := p.call(ctx, op, func(ctx context.Context) (err error) {
			items, more, err = get(ctx, page)
			return err
		})
		if wait, ok := provider.IsRateLimited(err); ok && page > 1 && wait > 0 && waited+wait <= maxListResumeWait && fits(ctx, wait) {
			// Failing here would make the caller list again from page 1,
			// spending the pages already read against the same limit; the
			// rest of this list is cheaper than all of it.
			if werr := sleepCtx(ctx, wait); werr != nil {
				return werr
			}
			waited += wait
			page--
			continue
		}
		if err != nil {
			return err
		}
		for _, item := range items {
			each(item)
		}
		if !more {
			return nil
		}
	}
	return &provider.Error{Op: op, Kind: provider.KindUnknown, Message: "more than 100000 pages"}
}

// maxListResumeWait bounds how long one paged list waits, in all, for the
// rate limit between its pages before it gives up and reports the limit.
// A zone's records are listed under that zone's snapshot lock, which every
// claim of the zone waits on, so this stays short: about what a single
// request may already wait in the limiter (MaxRateLimitWait, 10 s) twice.
const maxListResumeWait = 20 * time.Second

// sleepCtx waits d, or returns the context's error when it ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fits reports whether ctx leaves time to wait d.
func fits(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}

// v4 adapts an SDK list call to pages.
func v4[T any](res *pagination.V4PagePaginationArray[T], err error) func(page int) ([]T, bool, error) {
	return func(page int) ([]T, bool, error) {
		if err != nil {
			return nil, false, err
		}
		total := -1
		if f, ok := res.ResultInfo.JSON.ExtraFields["total_pages"]; ok {
			if n, err := strconv.Atoi(strings.TrimSpace(f.Raw())); err == nil {
				total = n
			}
		}
		return res.Result, hasNextPage(len(res.Result), int(res.ResultInfo.PerPage), total, page), nil
	}
}

// hasNextPage trusts total_pages when the server sends it (total >= 0);
// otherwise a full page means there may be another.
func hasNextPage(n, perPage, total, page int) bool {
	switch {
	case n == 0:
		return false
	case total >= 0:
		return page < total
	}
	return perPage > 0 && n >= perPage
}
