package cfapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/scopedns/scopedns/internal/auditsample"
	"github.com/scopedns/scopedns/internal/cloudflare/wire"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// Tokens looks up a token by its bearer value; *TokenStore satisfies it.
type Tokens interface {
	Token(value string) (*Token, bool)
}

// Writer reads and writes a tenant's records; *zonewriter.Writer satisfies
// it.
type Writer interface {
	Read(ctx context.Context, r zonewriter.ReadRequest) ([]provider.Record, error)
	Write(ctx context.Context, r zonewriter.Request) (zonewriter.Result, error)
}

var (
	_ Tokens = (*TokenStore)(nil)
	_ Writer = (*zonewriter.Writer)(nil)
)

// Prefix is the path the API is served under, Cloudflare's.
const Prefix = "/client/v4/"

// Protocol names this front door in the zone writer's requests and the
// audit lines.
const Protocol = "cloudflare-api"

// Defaults: Cloudflare's own limits, so that a client tuned for Cloudflare
// behaves the same here.
const (
	DefaultRateLimit  = 1200
	DefaultRateWindow = 5 * time.Minute
	// BatchLimit is the most changes one batch request may carry
	// (Cloudflare's free plan, and the zone writer's batch).
	BatchLimit = 200
	// commentMax is Cloudflare's free plan's longest comment; comments are
	// validated like Cloudflare's, then dropped (the owner marker is kept).
	commentMax = 100
	// MaxBodyBytes is the largest request body read: a batch of BatchLimit
	// records of the longest TXT (2,048 characters) with room for the JSON.
	MaxBodyBytes = 512 << 10
	// DefaultTokenInFlight and DefaultInFlight bound the requests being
	// served at once, per token and in all: the rate limit counts requests
	// as they arrive, so without them one token could hold its whole
	// window's requests (and their bodies) at once while they wait on the
	// zone writer.
	DefaultTokenInFlight = 8
	DefaultInFlight      = 128
)

// Options configure a Handler. Tokens and Writer are required.
type Options struct {
	Tokens Tokens
	Writer Writer
	// RateLimit is how many requests a token may send per RateWindow
	// (default 1,200 per 5 minutes, Cloudflare's); negative: no limit. Every
	// write is also charged to the namespace's fair part of the provider
	// budget by the zone writer.
	RateLimit  int
	RateWindow time.Duration
	// TokenInFlight and InFlight are the most requests served at once per
	// token and in all (defaults DefaultTokenInFlight, DefaultInFlight); past
	// them the answer is 429.
	TokenInFlight, InFlight int
	// Logger receives one audit line per request (unauthenticated ones
	// sampled); default: discard.
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Handler serves the API. It is safe for concurrent use.
type Handler struct {
	o       Options
	limiter *wire.RateLimiter
	// sampler bounds the audit lines of requests without a known token (by
	// source), overLimit those refused for their token's limits (by token).
	sampler, overLimit *auditsample.Sampler
	flight             *inFlight
}

// New checks the options and builds a handler.
func New(o Options) (*Handler, error) {
	if o.Tokens == nil || o.Writer == nil {
		return nil, errors.New("cfapi: Options.Tokens and Options.Writer are required")
	}
	if o.RateLimit == 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.RateWindow <= 0 {
		o.RateWindow = DefaultRateWindow
	}
	if o.TokenInFlight <= 0 {
		o.TokenInFlight = DefaultTokenInFlight
	}
	if o.InFlight <= 0 {
		o.InFlight = DefaultInFlight
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{
		o: o, limiter: wire.NewRateLimiter(o.RateLimit, o.RateWindow),
		sampler: auditsample.New(0, 0, 0), overLimit: auditsample.New(0, 0, 0),
		flight: newInFlight(o.TokenInFlight, o.InFlight),
	}, nil
}

// request is what an endpoint gets.
type request struct {
	r      *http.Request
	op     string
	tok    *Token
	zone   Zone // for the zone's endpoints
	record string
	// names are the record names the request touched, for the audit line.
	names []string
	// reason says why a request was refused, for the audit line.
	reason string
	// overLimit: refused for its token's limits, audited by sample.
	overLimit bool
}

type endpoint func(h *Handler, rq *request) (result any, info *wire.ResultInfo, f *wire.Failure)

type route struct {
	method, op string
	segs       []string // "{zone}", "{record}" capture
	h          endpoint
}

// routes are every path served. Anything else, authenticated, is 403: zone
// creation and settings, tokens, accounts, users, all would widen a key.
var routes = []route{
	{"GET", "user_tokens.verify", []string{"user", "tokens", "verify"}, (*Handler).verify},
	{"GET", "zones.list", []string{"zones"}, (*Handler).listZones},
	{"GET", "zones.get", []string{"zones", "{zone}"}, (*Handler).getZone},
	{"GET", "dns_records.list", []string{"zones", "{zone}", "dns_records"}, (*Handler).listRecords},
	{"POST", "dns_records.create", []string{"zones", "{zone}", "dns_records"}, (*Handler).createRecord},
	{"POST", "dns_records.batch", []string{"zones", "{zone}", "dns_records", "batch"}, (*Handler).batchRecords},
	{"GET", "dns_records.get", []string{"zones", "{zone}", "dns_records", "{record}"}, (*Handler).getRecord},
	{"PUT", "dns_records.update", []string{"zones", "{zone}", "dns_records", "{record}"}, (*Handler).updateRecord},
	{"PATCH", "dns_records.edit", []string{"zones", "{zone}", "dns_records", "{record}"}, (*Handler).editRecord},
	{"DELETE", "dns_records.delete", []string{"zones", "{zone}", "dns_records", "{record}"}, (*Handler).deleteRecord},
}

// notAnID are Cloudflare's endpoints below dns_records (zone file export
// and import, scans): they are not record IDs, and are not served.
var notAnID = map[string]bool{"export": true, "import": true, "scan": true, "batch": true, "usage": true}

// match finds the route of a request; "batch" beats a record ID because the
// routes list it first.
func match(method string, segs []string) (*route, map[string]string) {
	for i := range routes {
		rt := &routes[i]
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for j, s := range rt.segs {
			switch {
			case strings.HasPrefix(s, "{"):
				if segs[j] == "" || notAnID[segs[j]] {
					ok = false
				}
				params[strings.Trim(s, "{}")] = segs[j]
			case s != segs[j]:
				ok = false
			}
		}
		if ok {
			return rt, params
		}
	}
	return nil, nil
}

// ServeHTTP serves the API under Prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{r: r, op: "unknown"}
	result, info, f := h.serve(rq)
	status := http.StatusOK
	if f != nil {
		status = f.Status
	}
	h.audit(rq, status)
	if f != nil {
		wire.WriteFailure(w, f)
		return
	}
	wire.WriteEnvelope(w, http.StatusOK, wire.Envelope{Success: true, Result: result, ResultInfo: info})
}

func (h *Handler) serve(rq *request) (any, *wire.ResultInfo, *wire.Failure) {
	r := rq.r
	value, f := wire.BearerToken(r)
	if f != nil {
		rq.reason = "no usable Authorization header"
		return nil, nil, f
	}
	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(Prefix, "/")), "/")
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	rt, params := match(r.Method, segs)
	tok, ok := h.o.Tokens.Token(value)
	if !ok {
		rq.reason = "unknown token"
		if rt != nil && rt.op == "user_tokens.verify" {
			return nil, nil, wire.Fail(http.StatusUnauthorized, wire.CodeInvalidAPIToken, "Invalid API Token")
		}
		return nil, nil, wire.ErrAuthentication(http.StatusUnauthorized)
	}
	rq.tok = tok
	if f := h.limiter.Allow(tok.ID, h.o.Now()); f != nil {
		rq.reason, rq.overLimit = "over the token's request limit", true
		return nil, nil, f
	}
	release, ok := h.flight.acquire(tok.ID)
	if !ok {
		rq.reason, rq.overLimit = "over the requests served at once", true
		f := wire.Fail(http.StatusTooManyRequests, wire.CodeRateLimited, "Please wait and consider throttling your request speed (too many requests at once)")
		f.Header = http.Header{"Retry-After": []string{"1"}}
		return nil, nil, f
	}
	defer release()
	if rt == nil {
		rq.reason = "path not served"
		return nil, nil, unauthorized(r.Method + " " + r.URL.Path + " is not served: a scopedns token reads and writes only the DNS records its namespace reserved")
	}
	rq.op = rt.op
	if id, ok := params["zone"]; ok {
		z, ok := tok.zone(id)
		if !ok {
			rq.reason = "zone not granted"
			return nil, nil, h.zoneRefused(rq, id)
		}
		rq.zone = z
	}
	rq.record = params["record"]
	return rt.h(h, rq)
}

// zoneRefused is the answer for a zone the token has no grant in, whether
// or not it exists: 403, as the zone's DNS endpoints answer a Cloudflare
// token not allowed on it, and never 404 (which would tell which zone IDs
// exist).
func (h *Handler) zoneRefused(rq *request, id string) *wire.Failure {
	t := rq.tok.Tenant
	msg := "zone " + id + " holds no name that namespace " + t.Namespace + " reserved under DNSScope " + t.Scope
	if rq.op == "zones.get" {
		return unauthorized(msg)
	}
	return authError(msg)
}

// unauthorized is 9109, the 403 of zone and account endpoints, with the
// rule that refused it.
func unauthorized(reason string) *wire.Failure {
	return wire.Fail(http.StatusForbidden, wire.CodeUnauthorized, "Unauthorized to access requested resource: "+reason)
}

// authError is 10000, the 403 of DNS record endpoints, with the rule that
// refused it.
func authError(reason string) *wire.Failure {
	return wire.Fail(http.StatusForbidden, wire.CodeAuthError, "Authentication error: "+reason)
}

// writerFailure answers a request the zone writer did not apply.
func writerFailure(rq *request, err error) *wire.Failure {
	var e *zonewriter.Error
	if !errors.As(err, &e) {
		rq.reason = err.Error()
		return wire.Fail(http.StatusInternalServerError, wire.CodeInternal, "Internal server error")
	}
	rq.reason = e.Reason
	switch e.Code {
	case zonewriter.Refused:
		return authError(e.Reason)
	case zonewriter.Invalid:
		return wire.DNSInvalid(wire.CodeInvalidField, "%s", e.Reason)
	case zonewriter.Conflict:
		return wire.Failf(http.StatusBadRequest, wire.CodeHostConflict,
			"A record with that host already exists. A CNAME record cannot share its name with any other record. (%s)", e.Reason)
	case zonewriter.OverBudget:
		f := wire.Fail(http.StatusTooManyRequests, wire.CodeRateLimited, "Please wait and consider throttling your request speed ("+e.Reason+")")
		f.Header = http.Header{"Retry-After": []string{"30"}}
		return f
	}
	return wire.Fail(http.StatusBadGateway, wire.CodeInternal, "Internal server error: the provider could not be reached")
}

// audit writes the request's line; those without a known token are sampled
// by source, so a flood of them costs no log volume.
func (h *Handler) audit(rq *request, status int) {
	now := h.o.Now()
	source := rq.r.RemoteAddr
	switch {
	case rq.tok == nil:
		ok, sum := h.sampler.Allow(source, now)
		auditsample.Log(rq.r.Context(), h.o.Logger, "cloudflare-api unauthenticated requests not logged", sum)
		if !ok {
			return
		}
	case rq.overLimit:
		ok, sum := h.overLimit.Allow(rq.tok.ID, now)
		auditsample.Log(rq.r.Context(), h.o.Logger, "cloudflare-api requests over their token's limits not logged", sum)
		if !ok {
			return
		}
	}
	attrs := []any{"op", rq.op, "method", rq.r.Method, "path", rq.r.URL.Path, "status", status, "source", hostOf(source)}
	if rq.tok != nil {
		attrs = append(attrs, "namespace", rq.tok.Tenant.Namespace, "scope", rq.tok.Tenant.Scope, "token_id", rq.tok.ID)
	}
	if rq.zone.Name != "" {
		attrs = append(attrs, "zone", rq.zone.Name)
	}
	if len(rq.names) > 0 {
		attrs = append(attrs, "names", strings.Join(rq.names, ","))
	}
	if rq.reason != "" {
		attrs = append(attrs, "reason", rq.reason)
	}
	h.o.Logger.Info("cloudflare-api request", attrs...)
}

func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// verify answers GET /user/tokens/verify like Cloudflare for an active user
// token.
func (h *Handler) verify(rq *request) (any, *wire.ResultInfo, *wire.Failure) {
	return map[string]any{"id": rq.tok.ID, "status": "active"}, nil, nil
}

// listZones lists the token's zones with Cloudflare's name, status and
// match filters and pagination.
func (h *Handler) listZones(rq *request) (any, *wire.ResultInfo, *wire.Failure) {
	q := rq.r.URL.Query()
	// The token's zones have no account of their own to filter by: an
	// account filter matches none.
	match := wire.ZoneFilter(q, "", "")
	var zs []Zone
	for _, z := range rq.tok.Zones {
		if match(z.Name) {
			zs = append(zs, z)
		}
	}
	if q.Get("direction") == "desc" {
		for i, j := 0, len(zs)-1; i < j; i, j = i+1, j-1 {
			zs[i], zs[j] = zs[j], zs[i]
		}
	}
	lo, hi, info := wire.Paginate(q, len(zs), 20, 5, 50)
	out := make([]wire.ZoneJSON, 0, hi-lo)
	for _, z := range zs[lo:hi] {
		out = append(out, zoneJSON(z))
	}
	return out, &info, nil
}

func (h *Handler) getZone(rq *request) (any, *wire.ResultInfo, *wire.Failure) {
	return zoneJSON(rq.zone), nil, nil
}

// zoneJSON is a zone as the token sees it: what it may do is read the zone
// and read and edit DNS records (of its grants).
func zoneJSON(z Zone) wire.ZoneJSON {
	return wire.NewZoneJSON(wire.ZoneInfo{
		ID: z.ID, Name: z.Name,
		Permissions: []string{"#zone:read", "#dns_records:read", "#dns_records:edit"},
	})
}
