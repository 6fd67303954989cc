package cloudflare

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
)

// Defaults, from Cloudflare's published limits.
const (
	// DefaultBaseURL is Cloudflare's API.
	DefaultBaseURL = "https://api.cloudflare.com/client/v4/"
	// DefaultBatchLimit is the record changes one batch may carry on the
	// free plan (3,500 on paid plans).
	DefaultBatchLimit = 200
	// DefaultPageSize is the records read per page.
	DefaultPageSize = 100
	// DefaultRateLimit requests per DefaultRateWindow per token.
	DefaultRateLimit  = 1200
	DefaultRateWindow = 5 * time.Minute
	// DefaultMaxRateLimitWait is the longest wait for the rate limit (client
	// side or a 429's Retry-After) a call sits through before it returns a
	// rate-limited error for the caller to requeue.
	DefaultMaxRateLimitWait = 10 * time.Second
	// DefaultMaxRetries is how many times a failed request is retried.
	DefaultMaxRetries = 3
	// DefaultRetryBaseDelay and DefaultRetryMaxDelay bound the exponential
	// backoff between retries after a server or transport failure.
	DefaultRetryBaseDelay = 500 * time.Millisecond
	DefaultRetryMaxDelay  = 8 * time.Second
	// DefaultTimeout bounds one HTTP request when Options.HTTPClient is nil.
	DefaultTimeout = 30 * time.Second

	tokenPageSize = 50 // Cloudflare's maximum for the token list
	zonePageSize  = 50 // Cloudflare's maximum for the zone list
)

// DefaultPermissionGroups are the permission groups minted tokens get: what a
// DNS-01 solver needs.
var DefaultPermissionGroups = []string{provider.PermissionZoneRead, provider.PermissionDNSWrite}

// Options configures a Provider. Zero values take the defaults above.
type Options struct {
	// AccountID is the Cloudflare account that owns the zones and tokens.
	// Required.
	AccountID string
	// APIToken is the credential: an account API token with Zone Read and
	// DNS Write on the zones, and Account API Tokens Read and Write to mint
	// tokens. Required.
	APIToken provider.Secret
	// BaseURL is the API root, default DefaultBaseURL; the simulator is at
	// <server>/client/v4/.
	BaseURL string
	// HTTPClient sends the requests; default a client with DefaultTimeout.
	HTTPClient *http.Client
	// BatchLimit is the most record changes sent in one batch request.
	BatchLimit int
	// PageSize is the records read per page (5 to 5,000,000).
	PageSize int
	// RateLimit and RateWindow pace requests on the client side: at most
	// RateLimit requests in any RateWindow, shared by every Provider in the
	// process that uses the same APIToken against the same BaseURL. A
	// negative RateLimit turns client-side pacing off.
	RateLimit  int
	RateWindow time.Duration
	// GatewayShare (0 to 1) of RateLimit is for requests the RFC 2136
	// gateway makes for its tenants (a context from budget.WithTenant),
	// divided equally between GatewayReplicas replicas (default 1), each
	// tenant charged per request on a fair slice of it (budget.Fair); the
	// rest is reserved for every other request (reconciles). 0: no split,
	// every request paced on RateLimit alone. See budget.Split for why the
	// replicas together stay within RateLimit.
	GatewayShare    float64
	GatewayReplicas int
	// MaxRateLimitWait is the longest a call waits for the rate limit before
	// returning an error that satisfies provider.IsRateLimited.
	MaxRateLimitWait time.Duration
	// MaxRetries is how many times a request is retried after a 5xx, a
	// transport failure or a 429 whose Retry-After is short; negative for
	// none. Requests that are not idempotent (batch, token create) are
	// retried only when the server cannot have acted on them (429, failure
	// to connect).
	MaxRetries int
	// RetryBaseDelay and RetryMaxDelay bound the exponential backoff.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration
	// PermissionGroups are the names of the permission groups minted tokens
	// get, default DefaultPermissionGroups.
	PermissionGroups []string
	// Observer, when set, is told about every HTTP request.
	Observer provider.Observer
	// Logger logs retries and throttling at debug level; default discards.
	// No secret value is ever logged.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	if !strings.HasSuffix(o.BaseURL, "/") {
		o.BaseURL += "/"
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	if o.BatchLimit == 0 {
		o.BatchLimit = DefaultBatchLimit
	}
	if o.PageSize == 0 {
		o.PageSize = DefaultPageSize
	}
	if o.RateLimit == 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.RateWindow == 0 {
		o.RateWindow = DefaultRateWindow
	}
	if o.GatewayReplicas == 0 {
		o.GatewayReplicas = 1
	}
	if o.MaxRateLimitWait == 0 {
		o.MaxRateLimitWait = DefaultMaxRateLimitWait
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.MaxRetries < 0 {
		o.MaxRetries = 0
	}
	if o.RetryBaseDelay == 0 {
		o.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if o.RetryMaxDelay == 0 {
		o.RetryMaxDelay = DefaultRetryMaxDelay
	}
	if len(o.PermissionGroups) == 0 {
		o.PermissionGroups = DefaultPermissionGroups
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o Options) validate() error {
	var errs []error
	if o.AccountID == "" {
		errs = append(errs, errors.New("AccountID is required"))
	} else if strings.ContainsAny(o.AccountID, "/?#% ") {
		errs = append(errs, fmt.Errorf("AccountID %q is not an identifier", o.AccountID))
	}
	if o.APIToken.IsZero() {
		errs = append(errs, errors.New("APIToken is required"))
	} else if strings.ContainsAny(o.APIToken.Reveal(), " \t\r\n") {
		errs = append(errs, errors.New("APIToken contains white space"))
	}
	if u, err := url.Parse(o.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("BaseURL %q is not an http(s) URL", o.BaseURL))
	}
	if o.BatchLimit < 1 {
		errs = append(errs, fmt.Errorf("BatchLimit %d is less than 1", o.BatchLimit))
	}
	if o.PageSize < 5 || o.PageSize > 5_000_000 {
		errs = append(errs, fmt.Errorf("PageSize %d is outside 5..5000000", o.PageSize))
	}
	if o.RateWindow < 0 {
		errs = append(errs, fmt.Errorf("RateWindow %s is negative", o.RateWindow))
	}
	if o.GatewayShare < 0 || o.GatewayShare > 1 {
		errs = append(errs, fmt.Errorf("GatewayShare %v is outside 0..1", o.GatewayShare))
	}
	if o.GatewayReplicas < 1 {
		errs = append(errs, fmt.Errorf("GatewayReplicas %d is less than 1", o.GatewayReplicas))
	}
	if o.MaxRateLimitWait < 0 {
		errs = append(errs, fmt.Errorf("MaxRateLimitWait %s is negative", o.MaxRateLimitWait))
	}
	if o.RetryBaseDelay < 0 || o.RetryMaxDelay < 0 {
		errs = append(errs, errors.New("retry delays must not be negative"))
	} else if o.RetryMaxDelay < o.RetryBaseDelay {
		errs = append(errs, fmt.Errorf("RetryMaxDelay %s is less than RetryBaseDelay %s", o.RetryMaxDelay, o.RetryBaseDelay))
	}
	for _, g := range o.PermissionGroups {
		if strings.TrimSpace(g) == "" {
			errs = append(errs, errors.New("PermissionGroups has an empty name"))
		}
	}
	return errors.Join(errs...)
}
