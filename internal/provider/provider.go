// Package provider is the small interface the controllers and the gateway use to
// talk to a DNS provider: look zones up, read and write the records the operator
// owns, and mint, narrow, widen and revoke zone-scoped API tokens.
//
// Implementations live in subpackages: cloudflare (the real thing, on
// cloudflare-go) and memory (in process, for unit tests and benchmarks). Both pass
// the same contract suite in package contract.
//
// Nothing in this package or its implementations puts a credential value in an
// error, a log line or a String method: token values travel as [Secret], which
// prints as "[redacted]" and is read only through [Secret.Reveal].
package provider

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/scopedns/scopedns/internal/grant"
)

// Provider is what the controllers need from a DNS provider. Implementations are
// safe for concurrent use. Every method classifies its errors (see [IsNotFound],
// [IsForbidden], [IsQuotaExceeded], [IsRateLimited], [IsRetryable]).
type Provider interface {
	// Verify checks that the credential the provider was built with works and is
	// active. A revoked, disabled or expired credential gives an error that
	// satisfies IsForbidden.
	Verify(ctx context.Context) error

	// Zones looks zones up by name (compared after lower-casing and dropping a
	// trailing dot). The result follows the order of names; a name that does not
	// exist, or that the credential cannot see, is simply absent.
	Zones(ctx context.Context, names []string) ([]Zone, error)

	// Records lists the records of a zone that match filter, reading every page.
	Records(ctx context.Context, zoneID string, filter RecordFilter) ([]Record, error)

	// ApplyChanges applies a batch of record changes to one zone. Changes are
	// sent in batches of at most the implementation's batch limit; within a
	// batch, deletes run before updates and updates before creates, and a
	// batch is all or nothing. When a later batch fails, the result still
	// reports what the earlier batches did.
	ApplyChanges(ctx context.Context, zoneID string, changes Changes) (ApplyResult, error)

	// MintToken creates an API token limited to spec.ZoneIDs with Zone Read and
	// DNS Write, optionally limited to client addresses and a validity window.
	// The value is returned once, here, and never again.
	MintToken(ctx context.Context, spec TokenSpec) (MintedToken, error)

	// UpdateTokenZones replaces the zones a token may act on, in place: the
	// value stays the same, every other property of the token is kept.
	UpdateTokenZones(ctx context.Context, tokenID string, zoneIDs []string) (Token, error)

	// RevokeToken deletes a token. A token that does not exist gives an error
	// that satisfies IsNotFound; callers that only want it gone treat that as
	// success.
	RevokeToken(ctx context.Context, tokenID string) error

	// Tokens lists the tokens whose name starts with namePrefix (all tokens
	// when it is empty), typically TokenNamePrefix(cluster).
	Tokens(ctx context.Context, namePrefix string) ([]Token, error)

	// Token reads one token by ID, without its value. A token that does not
	// exist gives an error that satisfies IsNotFound. The controllers read a
	// token before revoking or re-scoping it, and act only when its name is
	// theirs (TokenBelongsTo): an ID alone may have come from anywhere.
	Token(ctx context.Context, tokenID string) (Token, error)
}

// Zone is a DNS zone at the provider.
type Zone struct {
	ID   string
	Name string
}

// Record is one resource record at the provider. Several values for one name
// and type are several records.
type Record struct {
	// ID is the provider's identifier; empty for a record not yet created.
	ID string
	// Name is the fully qualified name, lower case, without a trailing dot.
	Name string
	// Type is the record type in upper case, one of SupportedTypes.
	Type string
	// Content is the record data: an address, a target name, TXT text, or
	// for MX, SRV and CAA the zone-file data ("10 mail.example.com"; see
	// ParseMX, ParseSRV, ParseCAA), which implementations translate to and
	// from the provider's own fields and read back in canonical form.
	Content string
	// TTL in seconds; 0 or 1 means the provider's automatic TTL.
	TTL int
	// Proxied asks Cloudflare to proxy an A, AAAA or CNAME record. The operator
	// never sets it; it is read so that such records can be recognised.
	Proxied bool
	// Comment carries the owner marker (see OwnerComment), at most
	// MaxCommentLength characters.
	Comment string
}

// Owner returns the owner marker of the record, if it carries one.
func (r Record) Owner() (Owner, bool) { return ParseOwner(r.Comment) }

// String describes the record without its ID, for messages and logs.
func (r Record) String() string {
	return fmt.Sprintf("%s %s %q ttl=%d", r.Name, r.Type, r.Content, r.TTL)
}

// SupportedTypes are the record types every implementation reads and writes.
var SupportedTypes = []string{"A", "AAAA", "CNAME", "TXT", "MX", "SRV", "CAA", "NS", "PTR"}

// IsSupportedType reports whether t (in any case) is one of SupportedTypes.
func IsSupportedType(t string) bool {
	return slices.Contains(SupportedTypes, strings.ToUpper(t))
}

// NormalizeName is the one name normalisation: grant.NormalizeName (ASCII
// lower case, one trailing dot dropped, internationalised labels in the ASCII
// xn-- form Cloudflare stores, so a target like mäil.example.com equals what
// the provider reads back). A name the grant language refuses can never be
// granted or claimed; it only has to compare equal to itself, so it is lower
// cased and loses its trailing dot.
func NormalizeName(name string) string {
	if n, err := grant.NormalizeName(name); err == nil {
		return n
	}
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// RecordFilter selects records. Empty fields match everything.
type RecordFilter struct {
	// Name matches the fully qualified name exactly (after NormalizeName).
	Name string
	// Type matches the record type (any case).
	Type string
	// Owner matches the record comment exactly, typically OwnerComment(...).
	Owner string
	// OwnerPrefix matches comments that start with it, typically
	// OwnerPrefix(cluster) for every record this cluster owns.
	OwnerPrefix string
}

// Matches reports whether r passes the filter. Implementations use it to filter
// on the client side whatever the server did not.
func (f RecordFilter) Matches(r Record) bool {
	if f.Name != "" && NormalizeName(f.Name) != NormalizeName(r.Name) {
		return false
	}
	if f.Type != "" && !strings.EqualFold(f.Type, r.Type) {
		return false
	}
	if f.Owner != "" && f.Owner != r.Comment {
		return false
	}
	if f.OwnerPrefix != "" && !strings.HasPrefix(r.Comment, f.OwnerPrefix) {
		return false
	}
	return true
}

// Changes is a set of record changes for one zone, in the style of
// external-dns's plan.Changes: UpdateNew[i] replaces UpdateOld[i].
type Changes struct {
	// Create lists records to create; their ID is ignored.
	Create []Record
	// UpdateOld lists the records being replaced, with their ID.
	UpdateOld []Record
	// UpdateNew lists the replacements, one for each UpdateOld; the ID is
	// taken from UpdateOld.
	UpdateNew []Record
	// Delete lists records to delete, with their ID.
	Delete []Record
}

// Len is the number of record operations in the changes.
func (c Changes) Len() int { return len(c.Create) + len(c.UpdateNew) + len(c.Delete) }

// IsEmpty reports whether there is nothing to do.
func (c Changes) IsEmpty() bool { return c.Len() == 0 }

// Validate checks the changes without calling the provider. Its error satisfies
// IsInvalid.
func (c Changes) Validate() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(c.UpdateOld) != len(c.UpdateNew) {
		add("%d old records for %d updates", len(c.UpdateOld), len(c.UpdateNew))
	}
	seen := map[string]string{}
	claimID := func(what, id string, i int) {
		if id == "" {
			add("%s[%d] has no record ID", what, i)
			return
		}
		if prev, dup := seen[id]; dup {
			add("record %s appears in both %s and %s", id, prev, what)
			return
		}
		seen[id] = what
	}
	for i, r := range c.Delete {
		claimID("delete", r.ID, i)
	}
	for i, r := range c.UpdateOld {
		claimID("update", r.ID, i)
	}
	for i, r := range c.Create {
		if err := validateRecord(r); err != "" {
			add("create[%d] (%s): %s", i, r.Name, err)
		}
	}
	for i, r := range c.UpdateNew {
		if err := validateRecord(r); err != "" {
			add("update[%d] (%s): %s", i, r.Name, err)
		}
		if i < len(c.UpdateOld) && !strings.EqualFold(c.UpdateOld[i].Type, r.Type) && c.UpdateOld[i].Type != "" {
			add("update[%d] (%s) changes the type from %s to %s; delete and create instead", i, r.Name, c.UpdateOld[i].Type, r.Type)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &Error{Op: "validate", Kind: KindInvalid, Message: strings.Join(problems, "; ")}
}

func validateRecord(r Record) string {
	switch {
	case NormalizeName(r.Name) == "":
		return "no name"
	case !IsSupportedType(r.Type):
		return fmt.Sprintf("type %q is not supported (supported: %s)", r.Type, strings.Join(SupportedTypes, ", "))
	case r.Content == "":
		return "no content"
	case validContent(r.Type, r.Content) != nil:
		return validContent(r.Type, r.Content).Error()
	case r.TTL < 0:
		return "negative TTL"
	case len(r.Comment) > MaxCommentLength:
		return fmt.Sprintf("comment is %d characters, more than %d", len(r.Comment), MaxCommentLength)
	}
	return ""
}

// ApplyResult reports what ApplyChanges did.
type ApplyResult struct {
	// Created holds the created records as stored, with their IDs, in the
	// order of Changes.Create.
	Created []Record
	// Updated holds the updated records as stored, in the order of
	// Changes.UpdateNew.
	Updated []Record
	// Deleted holds the IDs of the deleted records.
	Deleted []string
}

// Permission groups every minted token gets: what a DNS-01 solver needs.
const (
	PermissionZoneRead = "Zone Read"
	PermissionDNSWrite = "DNS Write"
)

// TokenSpec describes a token to mint.
type TokenSpec struct {
	// Name is the token's name, deterministic per cluster (see TokenName).
	Name string
	// ZoneIDs are the zones the token may read and write DNS records in.
	ZoneIDs []string
	// AllowedCIDRs, when set, limits the client addresses the token works from.
	AllowedCIDRs []string
	// NotBefore, when set, is the time before which the token does not work.
	NotBefore time.Time
	// ExpiresOn, when set, is the time from which the token no longer works.
	ExpiresOn time.Time
}

// Validate checks the spec without calling the provider. Its error satisfies
// IsInvalid.
func (s TokenSpec) Validate() error {
	var problems []string
	if s.Name == "" {
		problems = append(problems, "no token name")
	}
	if len(s.Name) > MaxTokenNameLength {
		problems = append(problems, fmt.Sprintf("token name is %d characters, more than %d", len(s.Name), MaxTokenNameLength))
	}
	if len(s.ZoneIDs) == 0 {
		problems = append(problems, "no zones")
	}
	for _, id := range s.ZoneIDs {
		if id == "" {
			problems = append(problems, "empty zone ID")
		}
	}
	for _, c := range s.AllowedCIDRs {
		if _, err := netip.ParsePrefix(c); err != nil {
			problems = append(problems, fmt.Sprintf("allowed CIDR %q is not a CIDR", c))
		}
	}
	if !s.NotBefore.IsZero() && !s.ExpiresOn.IsZero() && !s.ExpiresOn.After(s.NotBefore) {
		problems = append(problems, "token expires before it becomes valid")
	}
	if len(problems) == 0 {
		return nil
	}
	return &Error{Op: "validate", Kind: KindInvalid, Message: strings.Join(problems, "; ")}
}

// TokenStatus is the provider's view of a token.
type TokenStatus string

// Token statuses, as Cloudflare names them.
const (
	TokenActive   TokenStatus = "active"
	TokenDisabled TokenStatus = "disabled"
	TokenExpired  TokenStatus = "expired"
)

// Token describes a token without its value.
type Token struct {
	ID   string
	Name string
	// ZoneIDs are the zones the token's policies grant, sorted.
	ZoneIDs      []string
	AllowedCIDRs []string
	Status       TokenStatus
	IssuedOn     time.Time
	ModifiedOn   time.Time
	NotBefore    time.Time
	ExpiresOn    time.Time
}

// MintedToken is a freshly minted token with its value.
type MintedToken struct {
	Token
	// Value is the bearer credential. It prints as "[redacted]".
	Value Secret
}

// Secret is a credential value. Every way of printing, logging or marshalling it
// shows "[redacted]"; Reveal returns the value for the one place that needs it
// (a Kubernetes Secret's data, an Authorization header).
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s == "" }

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer without revealing the value.
func (s Secret) GoString() string { return `provider.Secret("` + redacted + `")` }

// Format implements fmt.Formatter so that no verb (%x included) reveals the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = f.Write([]byte(s.GoString()))
		return
	}
	_, _ = f.Write([]byte(redacted))
}

// MarshalJSON implements json.Marshaler without revealing the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler without revealing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer without revealing the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Redact replaces every occurrence of each non-empty secret in s.
func Redact(s string, secrets ...Secret) string {
	for _, v := range secrets {
		if len(v) >= 4 { // a shorter "secret" would redact ordinary text
			s = strings.ReplaceAll(s, string(v), redacted)
		}
	}
	return s
}

// Observer is told about every request an implementation makes to its backend:
// the operation (one of the Op constants), the result (one of the Result
// constants) and how long it took. It must be cheap and safe for concurrent
// use; a Prometheus counter and histogram fit.
type Observer func(op, result string, d time.Duration)

// Operations reported to an Observer.
const (
	OpVerify               = "verify"
	OpZonesList            = "zones.list"
	OpRecordsList          = "records.list"
	OpRecordsBatch         = "records.batch"
	OpPermissionGroupsList = "permission_groups.list"
	OpTokensCreate         = "tokens.create"
	OpTokensGet            = "tokens.get"
	OpTokensUpdate         = "tokens.update"
	OpTokensDelete         = "tokens.delete"
	OpTokensList           = "tokens.list"
)

// Results reported to an Observer.
const (
	ResultOK          = "ok"
	ResultNotFound    = "not_found"
	ResultForbidden   = "forbidden"
	ResultRateLimited = "rate_limited"
	// ResultThrottled means the client-side limiter refused to send the
	// request because the wait was longer than allowed.
	ResultThrottled   = "throttled"
	ResultClientError = "client_error"
	ResultServerError = "server_error"
	ResultTransport   = "transport_error"
)

// TokenMinter is implemented by a provider that can say whether it mints API
// tokens at all. A provider that does not implement it is taken to mint them
// (Cloudflare, the memory store).
type TokenMinter interface {
	MintsTokens() bool
}

// MintsTokens reports whether p mints provider API tokens. The token sweep,
// the token quota and providerToken credentials apply only to providers that
// do; the others answer every token method with an error satisfying
// IsNotSupported.
func MintsTokens(p Provider) bool {
	if m, ok := p.(TokenMinter); ok {
		return m.MintsTokens()
	}
	return true
}
