// Package zonewriter is the one write path of every front door (the RFC 2136
// gateway, acme-dns, dyndns2): a tenant's request, already parsed from its
// protocol, is checked against the tenant's grants and against who owns the
// records it touches, answered from a per-zone snapshot, and written in a
// provider batch shared with the other requests of the zone in the same short
// window.
//
// Why one writer: a front door that lists a zone's records for every request
// and writes under a zone lock held across those calls manages about two
// updates a second under Cloudflare's 1,200 requests per 5 minutes. The
// writer lists a zone once, keeps the snapshot current with its own writes
// (and a drift refresh), and sends one batch per zone per window, so a
// hundred updates a second cost a few provider requests.
package zonewriter

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/scopedns/scopedns/internal/batch"
	"github.com/scopedns/scopedns/internal/provider"
)

// Grant is one (name, type) a tenant may write: the name normalised
// (provider.NormalizeName), the type in upper case ("TXT").
type Grant struct{ Name, Type string }

// Tenant is who writes: one namespace under one scope.
type Tenant struct {
	// Namespace is charged for the request's share of the provider budget
	// and named in its audit line.
	Namespace string
	// Scope selects the provider (Providers.Provider).
	Scope string
	// Owner is the owner marker written into every record the tenant creates
	// and the only marker whose records it may change or delete
	// (OwnerComment).
	Owner string
	// Grants are the exact (name, type) pairs the tenant may write, each
	// with its highest TTL (0: any).
	Grants map[Grant]int32
}

// OwnerComment is the owner marker of the records a namespace writes through
// any front door. It is provider.OwnerComment with a claim part that no
// DNSRecordClaim can have ("@rfc2136" is not a Kubernetes name), so the claim
// controllers never mistake these records for a claim's. The part keeps the
// name of the first front door: records written before the others existed
// must stay the namespace's.
func OwnerComment(cluster, namespace string) string {
	return provider.OwnerComment(cluster, namespace, ownerClaim)
}

const ownerClaim = "@rfc2136"

// PrereqKind is one of RFC 2136's prerequisite tests (§2.4).
type PrereqKind int

const (
	// NameInUse: some record exists at Name (class ANY, type ANY).
	NameInUse PrereqKind = iota
	// NameNotInUse: no record exists at Name (class NONE, type ANY).
	NameNotInUse
	// RRsetExists: some record of Type exists at Name (class ANY).
	RRsetExists
	// RRsetAbsent: no record of Type exists at Name (class NONE).
	RRsetAbsent
	// RRsetEquals: the records of Type at Name are exactly Values (class IN,
	// every RR of the RRset given; all of one (Name, Type) in one Prereq).
	RRsetEquals
)

// Prereq is one prerequisite; a request is applied only when all hold.
type Prereq struct {
	Kind       PrereqKind
	Name, Type string
	Values     []string
}

// OpKind is one kind of change.
type OpKind int

const (
	// Add adds Content to the RRset (Name, Type) with TTL; an equal record
	// gets the new TTL. Like RFC 2136 §3.4.2.2, a CNAME beside other types
	// (or the reverse) is ignored, and a CNAME replaces the CNAME.
	Add OpKind = iota
	// AddKeepNewest adds Content like Add, then deletes the tenant's oldest
	// records of the RRset until at most Keep are left: acme-dns keeps the
	// two newest TXT values of a name, for the apex and wildcard challenges
	// of one certificate.
	AddKeepNewest
	// Replace makes the RRset exactly Values with TTL (dyndns2's update of
	// an address): equal records stay, so an unchanged address costs no
	// provider request.
	Replace
	// DeleteValue deletes the record of Type at Name equal to Content.
	DeleteValue
	// DeleteRRset deletes every record of Type at Name.
	DeleteRRset
	// DeleteName deletes every record at Name but the apex NS and SOA; every
	// type found must be granted.
	DeleteName
)

// Op is one change. Content and Values are record contents as
// provider.Record holds them.
type Op struct {
	Kind       OpKind
	Name, Type string
	Content    string
	Values     []string
	TTL        int
	Keep       int
}

// Request is one front-door request: all its prerequisites and changes are
// applied at once or not at all.
type Request struct {
	Tenant Tenant
	// Zone is the zone apex (normalised); ZoneID is the provider's ID for it.
	Zone, ZoneID string
	Prereqs      []Prereq
	Ops          []Op
	// Protocol names the front door in the audit line ("rfc2136",
	// "acme-dns", "dyndns2", "cloudflare-api").
	Protocol string
	// Strict refuses (Conflict) an Add that RFC 2136 ignores: a CNAME beside
	// other data at its name, or other data beside a CNAME. A front door
	// whose protocol answers such a write as an error (Cloudflare's API)
	// sets it, so the request's other changes are not applied either.
	Strict bool
	// AutoTTL says a TTL of 1 asks for the provider's automatic TTL, as in
	// Cloudflare's API: it is kept as 1, not raised to MinTTL, and checked
	// against the granted TTL as what resolvers are told
	// (grant.EffectiveTTL). Without it a 1 is one second, as in RFC 2136.
	AutoTTL bool
}

// Result says what a request changed.
type Result struct {
	Created, Updated, Deleted int
	// Stored are the records the request created, then those it updated,
	// as the provider stored them (with their IDs), each in the order the
	// request's ops made them: a front door whose protocol answers with the
	// records written (Cloudflare's API) returns these.
	Stored []provider.Record
}

// ReadRequest asks for what a tenant may see of a zone.
type ReadRequest struct {
	Tenant       Tenant
	Zone, ZoneID string
}

// Changed reports whether the request changed anything.
func (r Result) Changed() bool { return r.Created+r.Updated+r.Deleted > 0 }

// Code says why a request was not applied, for the front door to answer in
// its own protocol.
type Code int

const (
	// Refused: outside the tenant's grants, above a granted TTL, a type the
	// writer cannot write, or a record another owner wrote (DNS REFUSED,
	// HTTP 401/403, dyndns2 "nohost").
	Refused Code = iota + 1
	// Invalid: a request no protocol allows (an empty Add, Keep < 1).
	Invalid
	// NameNotInUse .. RRsetDiffers: a prerequisite failed (NXDOMAIN,
	// YXDOMAIN, NXRRSET, YXRRSET, NXRRSET).
	PrereqNameNotInUse
	PrereqNameInUse
	PrereqRRsetAbsent
	PrereqRRsetExists
	PrereqRRsetDiffers
	// OverBudget: the tenant used its share of the writer's capacity, or its
	// provider budget; nothing was written and the client is to back off.
	OverBudget
	// Failed: the provider could not be read or written (SERVFAIL, 5xx).
	Failed
	// Conflict: with Request.Strict, a CNAME and other data at one name.
	Conflict
)

// Error is a request the writer did not apply. Reason is for the audit line
// and the client; it never holds a secret.
type Error struct {
	Code   Code
	Reason string
	// Err is the provider's error, for Failed and OverBudget.
	Err error
}

func (e *Error) Error() string { return e.Reason }

func (e *Error) Unwrap() error { return e.Err }

func fail(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Provider is what the writer needs of a provider; provider.Provider
// satisfies it.
type Provider interface {
	Records(ctx context.Context, zoneID string, f provider.RecordFilter) ([]provider.Record, error)
	ApplyChanges(ctx context.Context, zoneID string, c provider.Changes) (provider.ApplyResult, error)
}

var _ Provider = provider.Provider(nil)

// Providers gives the provider, with the master credential, of a scope.
type Providers interface {
	Provider(ctx context.Context, scope string) (Provider, error)
}

// ProvidersFunc adapts a function to Providers.
type ProvidersFunc func(ctx context.Context, scope string) (Provider, error)

// Provider implements Providers.
func (f ProvidersFunc) Provider(ctx context.Context, scope string) (Provider, error) {
	return f(ctx, scope)
}

// Options configure a Writer. Providers is required.
type Options struct {
	Providers Providers
	// Window is how long the first request with changes for a zone waits for
	// others to join its batch. The default, 0, sends at once when the zone
	// has no batch in flight and gathers while it has one: a lone client
	// waits for nothing, and under load batches grow with the provider's
	// latency and pacing instead of multiplying (batch.New).
	Window time.Duration
	// MaxChanges is the most record changes per batch (default 200,
	// Cloudflare's limit).
	MaxChanges int
	// Refresh is how old a zone snapshot may get before it is listed again
	// (default 5m): records written outside the writer are seen within it.
	Refresh time.Duration
	// MinTTL raises the TTL of added records that ask for less (default 60,
	// Cloudflare's minimum; negative: keep the TTL as sent).
	MinTTL int
	// RequestBudget is how many provider requests the writer's batches of
	// one scope may send per BudgetWindow (default 5m): the front doors'
	// part of the scope's master token's budget (budget.Split). Each scope
	// has its own pace and fair shares. Each tenant is charged its share
	// of every batch it was in (a batch of ten tenants costs each a tenth of
	// a request) and may use a fair part of the budget (budget.Fair): a
	// tenant over it is refused (OverBudget) before anything is sent, so one
	// flooding tenant never spends the others' part. 0: no per-tenant
	// limit, only the provider's pacing.
	RequestBudget int
	BudgetWindow  time.Duration
	// PaceBurst is how many batches may go out at once before the rest are
	// spread evenly over BudgetWindow (default RequestBudget/20; see
	// newPace).
	PaceBurst int
	// Logger receives what is no one request's: failed listings and
	// batches. The audit line of each request is its front door's, which
	// knows the key, the source and the answer; default: discard.
	Logger *slog.Logger
	// Hooks are told of refused batches split to find the request at fault,
	// for metrics.
	Hooks Hooks
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Hooks are told what the writer's batches do (batch.Hooks).
type Hooks = batch.Hooks
