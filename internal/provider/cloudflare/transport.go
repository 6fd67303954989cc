package cloudflare

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	cf "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/option"

	"github.com/scopedns/scopedns/internal/budget"
	"github.com/scopedns/scopedns/internal/provider"
)

type opKey struct{}

func opFrom(ctx context.Context) string {
	if op, ok := ctx.Value(opKey{}).(string); ok {
		return op
	}
	return "unknown"
}

// idempotent operations may be repeated after a failure that may have happened
// after the server acted.
var idempotent = map[string]bool{
	provider.OpVerify:               true,
	provider.OpZonesList:            true,
	provider.OpRecordsList:          true,
	provider.OpPermissionGroupsList: true,
	provider.OpTokensGet:            true,
	provider.OpTokensUpdate:         true,
	provider.OpTokensDelete:         true,
	provider.OpTokensList:           true,
}

// middleware runs around every HTTP attempt the SDK makes.
func (p *Provider) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	ctx := req.Context()
	op := opFrom(ctx)
	var all, gw ticket
	if p.limits != nil {
		var err error
		if all, gw, err = p.limits.admit(ctx, p.opts.MaxRateLimitWait); err != nil {
			var t *throttled
			var over *budget.OverShareError
			switch {
			case errors.As(err, &t):
				p.observe(op, provider.ResultThrottled, 0)
				p.log.LogAttrs(ctx, slog.LevelDebug, "cloudflare request held back by the client-side rate limit",
					slog.String("op", op), slog.Duration("wait", t.wait))
			case errors.As(err, &over):
				p.observe(op, provider.ResultThrottled, 0)
			}
			return nil, err
		}
	}
	start := time.Now()
	res, err := next(req)
	d := time.Since(start)
	if p.limits != nil {
		p.limits.done(all, gw)
	}
	if res != nil && res.StatusCode == http.StatusTooManyRequests && p.limits != nil {
		p.limits.all.pause(retryAfter(res.Header))
	}
	p.observe(op, resultOf(res, err), d)
	return res, err
}

func (p *Provider) observe(op, result string, d time.Duration) {
	if p.opts.Observer != nil {
		p.opts.Observer(op, result, d)
	}
}

func resultOf(res *http.Response, err error) string {
	switch {
	case err != nil || res == nil:
		return provider.ResultTransport
	case res.StatusCode < 300:
		return provider.ResultOK
	case res.StatusCode == http.StatusNotFound:
		return provider.ResultNotFound
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return provider.ResultForbidden
	case res.StatusCode == http.StatusTooManyRequests:
		return provider.ResultRateLimited
	case res.StatusCode >= 500:
		return provider.ResultServerError
	}
	return provider.ResultClientError
}

// defaultRetryAfter is assumed when a 429 carries no usable Retry-After.
const defaultRetryAfter = 5 * time.Second

// retryAfter reads Retry-After (seconds or an HTTP date).
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return defaultRetryAfter
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 {
		return max(time.Duration(secs*float64(time.Second)), time.Millisecond)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), time.Millisecond)
	}
	return defaultRetryAfter
}

// call runs fn, an SDK call, with retries, and returns its error classified.
// secrets are values to redact from error messages besides the credential.
//
// Retries are ours, not cloudflare-go's (the SDK runs with MaxRetries 0): the
// SDK retries POSTs after a 5xx, which can apply a batch or mint a token twice,
// and sits through any Retry-After, however long. Here:
//   - idempotent requests (GET, PUT of a token, DELETE) are retried after a
//     5xx or a transport failure, with exponential backoff and jitter;
//   - every request is retried after a 429 whose Retry-After is at most
//     MaxRateLimitWait, and after a failure to connect;
//   - everything else is returned, classified, for the caller to requeue.
//
// The middleware paces every HTTP attempt through the shared limiter and
// reports it to the Observer.
func (p *Provider) call(ctx context.Context, op string, fn func(ctx context.Context) error, secrets ...provider.Secret) error {
	ctx = context.WithValue(ctx, opKey{}, op)
	for attempt := 0; ; attempt++ {
		err := fn(ctx)
		if err == nil {
			return nil
		}
		perr := p.classify(op, err, secrets...)
		wait, retry := p.retryAfter(ctx, op, err, perr, attempt)
		if !retry {
			return perr
		}
		p.log.LogAttrs(ctx, slog.LevelDebug, "retrying cloudflare request",
			slog.String("op", op), slog.Int("attempt", attempt+1), slog.Duration("wait", wait), slog.String("error", perr.Error()))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return perr
		case <-t.C:
		}
	}
}

// retryAfter decides whether and when to retry after attempt failed with err
// (classified as perr).
func (p *Provider) retryAfter(ctx context.Context, op string, err error, perr *provider.Error, attempt int) (time.Duration, bool) {
	if attempt >= p.opts.MaxRetries || ctx.Err() != nil {
		return 0, false
	}
	var wait time.Duration
	switch perr.Kind {
	case provider.KindRateLimited:
		var t *throttled
		var over *budget.OverShareError
		if errors.As(err, &t) || errors.As(err, &over) || perr.RetryAfter > p.opts.MaxRateLimitWait {
			return 0, false
		}
		wait = perr.RetryAfter
	case provider.KindUnavailable:
		if !idempotent[op] && !isDialError(err) {
			return 0, false
		}
		wait = min(p.opts.RetryBaseDelay<<attempt, p.opts.RetryMaxDelay)
		wait -= time.Duration(rand.Int64N(int64(wait/4) + 1)) // jitter
	default:
		return 0, false
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
		return 0, false
	}
	return wait, true
}

// isDialError reports a failure to connect: the request never reached the
// server, so even a non-idempotent request may be sent again.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// Cloudflare error codes that decide a kind whatever the HTTP status.
var (
	forbiddenCodes = []int{1000, 6003, 6111, 9103, 9106, 9109, 10000}
	notFoundCodes  = []int{1003, 7003, 81044}
	conflictCodes  = []int{81053, 81054, 81057, 81058}
	quotaCodes     = []int{1005, 81045}
)

// classify turns any error from the SDK into a *provider.Error whose text is
// built from Cloudflare's error codes and messages only (never the request or
// the raw response), with the credential and secrets redacted.
func (p *Provider) classify(op string, err error, secrets ...provider.Secret) *provider.Error {
	redact := func(s string) string { return provider.Redact(s, append(secrets, p.opts.APIToken)...) }

	var t *throttled
	if errors.As(err, &t) {
		return &provider.Error{Op: op, Kind: provider.KindRateLimited, Message: t.Error(), RetryAfter: t.wait}
	}
	var over *budget.OverShareError
	if errors.As(err, &over) {
		// No RetryAfter: the tenant is not to wait in line, it is refused.
		return &provider.Error{Op: op, Kind: provider.KindRateLimited, Message: over.Error()}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		var ue *url.Error
		if errors.As(err, &ue) && ue.Timeout() && !errors.Is(err, context.Canceled) {
			return &provider.Error{Op: op, Kind: provider.KindUnavailable, Message: "request timed out", Err: context.DeadlineExceeded}
		}
		return &provider.Error{Op: op, Kind: provider.KindUnknown, Message: "request abandoned", Err: contextErr(err)}
	}
	var ae *cf.Error
	if errors.As(err, &ae) {
		return p.classifyAPI(op, ae, redact)
	}
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) {
		return &provider.Error{Op: op, Kind: provider.KindUnavailable, Message: redact(err.Error())}
	}
	msg := redact(err.Error())
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return &provider.Error{Op: op, Kind: provider.KindUnknown, Message: msg}
}

func contextErr(err error) error {
	if errors.Is(err, context.Canceled) {
		return context.Canceled
	}
	return context.DeadlineExceeded
}

type chainEntry struct {
	Code       int          `json:"code"`
	Message    string       `json:"message"`
	ErrorChain []chainEntry `json:"error_chain"`
}

func (p *Provider) classifyAPI(op string, ae *cf.Error, redact func(string) string) *provider.Error {
	e := &provider.Error{Op: op, Status: ae.StatusCode}
	var msgs []string
	var walk func([]chainEntry)
	walk = func(entries []chainEntry) {
		for _, c := range entries {
			e.Codes = append(e.Codes, c.Code)
			if c.Message != "" {
				msgs = append(msgs, c.Message)
			}
			walk(c.ErrorChain)
		}
	}
	for _, d := range ae.Errors {
		e.Codes = append(e.Codes, int(d.Code))
		if d.Message != "" {
			msgs = append(msgs, d.Message)
		}
		if f, ok := d.JSON.ExtraFields["error_chain"]; ok && f.Raw() != "" {
			var chain []chainEntry
			if json.Unmarshal([]byte(f.Raw()), &chain) == nil {
				walk(chain)
			}
		}
	}
	e.Message = redact(strings.Join(msgs, ": "))
	has := func(codes []int) bool {
		return slices.ContainsFunc(e.Codes, func(c int) bool { return slices.Contains(codes, c) })
	}
	lower := strings.ToLower(e.Message)
	switch {
	case ae.StatusCode == http.StatusTooManyRequests:
		e.Kind = provider.KindRateLimited
		e.RetryAfter = defaultRetryAfter
		if ae.Response != nil {
			e.RetryAfter = retryAfter(ae.Response.Header)
		}
	case ae.StatusCode >= 500:
		e.Kind = provider.KindUnavailable
	case has(quotaCodes) || strings.Contains(lower, "quota"):
		e.Kind = provider.KindQuotaExceeded
	case ae.StatusCode == http.StatusUnauthorized || ae.StatusCode == http.StatusForbidden || has(forbiddenCodes):
		e.Kind = provider.KindForbidden
	case ae.StatusCode == http.StatusNotFound || has(notFoundCodes):
		e.Kind = provider.KindNotFound
	case ae.StatusCode == http.StatusConflict || has(conflictCodes):
		e.Kind = provider.KindConflict
	case ae.StatusCode == http.StatusBadRequest || ae.StatusCode == http.StatusUnprocessableEntity:
		e.Kind = provider.KindInvalid
	default:
		e.Kind = provider.KindUnknown
	}
	return e
}

// withBatch says which batch of several failed.
func withBatch(err error, i, n int) error {
	if n <= 1 {
		return err
	}
	return fmt.Errorf("batch %d of %d (the earlier ones were applied): %w", i+1, n, err)
}
