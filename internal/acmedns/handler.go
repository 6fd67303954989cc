package acmedns

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/scopedns/scopedns/internal/auditsample"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// Accounts looks up an account by its username; *AccountStore satisfies it.
type Accounts interface {
	Account(username string) (Account, bool)
}

// Writer applies a request; *zonewriter.Writer satisfies it.
type Writer interface {
	Write(ctx context.Context, r zonewriter.Request) (zonewriter.Result, error)
}

var (
	_ Accounts = (*AccountStore)(nil)
	_ Writer   = (*zonewriter.Writer)(nil)
)

// Options configure a Handler. Accounts and Writer are required.
type Options struct {
	Accounts Accounts
	Writer   Writer
	// Logger receives the audit lines; default: discard.
	Logger *slog.Logger
	// ValueTTL is how long a written value stays before the handler deletes
	// it (default 15m): an ACME server validates within minutes, and a
	// client that retries writes the value again, which restarts it.
	ValueTTL time.Duration
	// RecordTTL is the TTL of the TXT records written (default 60, the
	// least Cloudflare takes): resolvers must not cache a challenge longer
	// than one attempt.
	RecordTTL int
	// RetryAfter is the Retry-After of an answer over budget (default 30s).
	RetryAfter time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Handler serves the acme-dns API. It is safe for concurrent use.
type Handler struct {
	o       Options
	sampler *auditsample.Sampler
	stale   *staleValues
}

// Protocol names this front door in the zone writer's audit line.
const Protocol = "acme-dns"

const (
	maxBody = 4 << 10
	// keep is acme-dns's rule: the two newest values of a name.
	keep = 2

	msgUpdate  = "acme-dns update"
	msgSummary = "acme-dns unauthenticated updates not logged"
)

// New checks the options and builds a handler.
func New(o Options) (*Handler, error) {
	if o.Accounts == nil || o.Writer == nil {
		return nil, errors.New("acmedns: Options.Accounts and Options.Writer are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ValueTTL <= 0 {
		o.ValueTTL = 15 * time.Minute
	}
	if o.RecordTTL <= 0 {
		o.RecordTTL = 60
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Handler{o: o, sampler: auditsample.New(0, 0, 0), stale: newStaleValues()}, nil
}

// ServeHTTP routes as acme-dns's router does with registration disabled.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/update":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, http.MethodPost)
			return
		}
		h.update(w, r)
	case "/health":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, http.MethodGet)
			return
		}
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
}

// post is acme-dns's update body.
type post struct {
	Subdomain string `json:"subdomain"`
	TXT       string `json:"txt"`
}

// answer is one response with what its audit line says about it.
type answer struct {
	status int
	body   string
	reason string
	// unauthenticated answers are sampled in the audit.
	unauthenticated bool
}

var (
	forbidden    = answer{status: http.StatusUnauthorized, body: jsonError("forbidden")}
	badSubdomain = answer{status: http.StatusBadRequest, body: jsonError("bad_subdomain"), reason: "subdomain is not a DNS label"}
	badTXT       = answer{status: http.StatusBadRequest, body: jsonError("bad_txt"), reason: "txt is not 43 characters of base64url"}
)

// jsonError is acme-dns's error body, byte for byte.
func jsonError(msg string) string { return `{"error": "` + msg + `"}` }

func (h *Handler) update(w http.ResponseWriter, r *http.Request) {
	acct, known := h.o.Accounts.Account(r.Header.Get("X-Api-User"))
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	txt, a := h.decide(r, acct, known)
	if a.status == 0 {
		a = h.write(r.Context(), acct, txt)
	}
	// The audit line is written before the answer, so a client that got an
	// answer always has its line.
	h.audit(r, acct, known, a)
	w.Header().Set("Content-Type", "application/json")
	if a.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(int(h.o.RetryAfter.Round(time.Second)/time.Second)))
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// decide checks the request in acme-dns's order: the login, then the body,
// then the subdomain, then the value. It returns the value to write, or the
// answer refusing the request.
func (h *Handler) decide(r *http.Request, acct Account, known bool) (string, answer) {
	// The password is checked also for an unknown user (against none), so
	// both cost the same.
	if valid := validPassword(r.Header.Get("X-Api-Key"), acct.Passwords); !valid || !known {
		a := forbidden
		a.reason, a.unauthenticated = "unknown user or wrong key", true
		if known {
			a.reason = "wrong key"
		}
		return "", a
	}
	var p post
	// One JSON value is read, like acme-dns's json.Decoder: trailing bytes
	// are ignored, and a value of the wrong type leaves the other keys set.
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			a := forbidden
			a.reason = "body is not JSON or longer than 4 KiB"
			return "", a
		}
	}
	if !validSubdomain(p.Subdomain) {
		return "", badSubdomain
	}
	if p.Subdomain != acct.Subdomain {
		a := forbidden
		a.reason = "subdomain is not the account's"
		return "", a
	}
	if !validTXT(p.TXT) {
		return "", badTXT
	}
	return p.TXT, answer{}
}

// write sets the value through the zone writer and maps its refusals to
// acme-dns's answers.
func (h *Handler) write(ctx context.Context, acct Account, txt string) answer {
	// A 43-character base64url value has no quote, backslash or space, so
	// it is TXT content as the provider and the claims hold it, unquoted.
	_, err := h.o.Writer.Write(ctx, zonewriter.Request{
		Tenant: acct.Tenant, Zone: acct.Zone, ZoneID: acct.ZoneID, Protocol: Protocol,
		Ops: []zonewriter.Op{{Kind: zonewriter.AddKeepNewest, Name: acct.Name, Type: "TXT", Content: txt, TTL: h.o.RecordTTL, Keep: keep}},
	})
	if err != nil {
		return refusal(err)
	}
	h.stale.wrote(acct, txt, h.o.Now())
	return answer{status: http.StatusOK, body: `{"txt": "` + txt + `"}`}
}

func refusal(err error) answer {
	var we *zonewriter.Error
	if !errors.As(err, &we) {
		return answer{status: http.StatusInternalServerError, body: jsonError("db_error"), reason: "zone writer: " + err.Error()}
	}
	switch we.Code {
	case zonewriter.Refused:
		a := forbidden
		a.reason = "zone writer refused: " + we.Reason
		return a
	case zonewriter.OverBudget:
		return answer{status: http.StatusTooManyRequests, body: jsonError("too_many_requests"), reason: "over budget: " + we.Reason}
	default:
		return answer{status: http.StatusInternalServerError, body: jsonError("db_error"), reason: "zone writer: " + we.Reason}
	}
}

// validPassword compares key with every accepted password in constant time.
// Hashing both sides first makes the comparison independent of the lengths;
// an empty key or password never matches. With no passwords (an unknown
// user) one comparison is still made, so both cost the same.
func validPassword(key string, passwords []string) bool {
	k := sha256.Sum256([]byte(key))
	match := 0
	if len(passwords) == 0 {
		d := sha256.Sum256(nil)
		subtle.ConstantTimeCompare(k[:], d[:])
	}
	for _, p := range passwords {
		pw := sha256.Sum256([]byte(p))
		eq := subtle.ConstantTimeCompare(k[:], pw[:])
		if p != "" {
			match |= eq
		}
	}
	return match == 1
}

// acme-dns's validation rules (validation.go).
var (
	subdomainRE = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	txtRE       = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
)

func validSubdomain(s string) bool { return subdomainRE.MatchString(s) }

func validTXT(s string) bool { return txtRE.MatchString(s) }

// audit writes the request's line; unauthenticated ones are sampled by the
// client's address.
func (h *Handler) audit(r *http.Request, acct Account, known bool, a answer) {
	if a.unauthenticated {
		ok, sum := h.sampler.Allow(r.RemoteAddr, h.o.Now())
		auditsample.Log(r.Context(), h.o.Logger, msgSummary, sum)
		if !ok {
			return
		}
	}
	attrs := []slog.Attr{slog.String("remote", r.RemoteAddr), slog.Int("status", a.status)}
	if known {
		attrs = append(attrs, slog.String("user", acct.Username), slog.String("namespace", acct.Tenant.Namespace),
			slog.String("name", acct.Name))
	}
	level := slog.LevelInfo
	if a.status != http.StatusOK {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("reason", a.reason))
	}
	h.o.Logger.LogAttrs(r.Context(), level, msgUpdate, attrs...)
}
