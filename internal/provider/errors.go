package provider

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind classifies a provider error.
type Kind uint8

// Error kinds. Only KindRateLimited and KindUnavailable are worth retrying as
// they are; every other kind is permanent until something changes.
const (
	// KindUnknown is an error the implementation could not classify; permanent.
	KindUnknown Kind = iota
	// KindInvalid is a request the provider (or Validate) rejected as malformed.
	KindInvalid
	// KindNotFound is a zone, record or token that does not exist.
	KindNotFound
	// KindForbidden is a credential that is invalid, revoked, expired, or
	// lacks the permission (401 and 403 alike).
	KindForbidden
	// KindConflict is a change that clashes with the zone's contents, such as a
	// record that already exists or a CNAME beside other records.
	KindConflict
	// KindQuotaExceeded is a provider quota reached: tokens per account,
	// records per zone.
	KindQuotaExceeded
	// KindRateLimited is a request refused for the rate limit; RetryAfter says
	// how long to wait.
	KindRateLimited
	// KindUnavailable is a server error or a transport failure; retry with
	// backoff.
	KindUnavailable
	// KindNotSupported is an operation the provider does not offer at all,
	// such as minting API tokens on an RFC 2136 server; permanent.
	KindNotSupported
)

var kindNames = [...]string{
	KindUnknown:       "failed",
	KindInvalid:       "invalid request",
	KindNotFound:      "not found",
	KindForbidden:     "forbidden",
	KindConflict:      "conflict",
	KindQuotaExceeded: "quota exceeded",
	KindRateLimited:   "rate limited",
	KindUnavailable:   "unavailable",
	KindNotSupported:  "not supported",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Sentinels for errors.Is. An *Error matches the sentinel of its kind.
var (
	ErrInvalid       = errors.New("provider: invalid request")
	ErrNotFound      = errors.New("provider: not found")
	ErrForbidden     = errors.New("provider: forbidden")
	ErrConflict      = errors.New("provider: conflict")
	ErrQuotaExceeded = errors.New("provider: quota exceeded")
	ErrRateLimited   = errors.New("provider: rate limited")
	ErrUnavailable   = errors.New("provider: unavailable")
	ErrNotSupported  = errors.New("provider: not supported")
)

func (k Kind) sentinel() error {
	switch k {
	case KindInvalid:
		return ErrInvalid
	case KindNotFound:
		return ErrNotFound
	case KindForbidden:
		return ErrForbidden
	case KindConflict:
		return ErrConflict
	case KindQuotaExceeded:
		return ErrQuotaExceeded
	case KindRateLimited:
		return ErrRateLimited
	case KindUnavailable:
		return ErrUnavailable
	case KindNotSupported:
		return ErrNotSupported
	}
	return nil
}

// Error is a classified provider error. Its text is built only from the fields
// below, none of which ever holds a credential: implementations copy the
// provider's error codes and messages (with known secrets redacted), never a
// raw response or request.
type Error struct {
	// Op is the operation, one of the Op constants or "validate".
	Op string
	// Kind classifies the error.
	Kind Kind
	// Status is the HTTP status, 0 when there was no response.
	Status int
	// Codes are the provider's error codes, if any.
	Codes []int
	// Message is the provider's explanation, or the implementation's.
	Message string
	// RetryAfter is how long to wait before retrying, for KindRateLimited.
	RetryAfter time.Duration
	// Err is an underlying error that carries no secret (a transport error),
	// or nil.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("provider: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString(e.Kind.String())
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		for i, c := range e.Codes {
			if i == 0 {
				b.WriteString(", code ")
			} else {
				b.WriteString(",")
			}
			b.WriteString(strconv.Itoa(c))
		}
		b.WriteString(")")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Kind == KindRateLimited && e.RetryAfter > 0 {
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Is matches the sentinel of the error's kind.
func (e *Error) Is(target error) bool {
	s := e.Kind.sentinel()
	return s != nil && s == target
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of a provider error, KindUnknown for any other error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindUnknown
}

// IsInvalid reports whether err is a request rejected as malformed.
func IsInvalid(err error) bool { return errors.Is(err, ErrInvalid) }

// IsNotFound reports whether err is about a zone, record or token that does not
// exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsForbidden reports whether err is a credential that is invalid, revoked,
// expired or not allowed to do what was asked.
func IsForbidden(err error) bool { return errors.Is(err, ErrForbidden) }

// IsConflict reports whether err is a change that clashes with the zone.
func IsConflict(err error) bool { return errors.Is(err, ErrConflict) }

// IsNotSupported reports whether err is an operation the provider does not
// offer (minting tokens on a provider that mints none).
func IsNotSupported(err error) bool { return errors.Is(err, ErrNotSupported) }

// IsQuotaExceeded reports whether err is a provider quota reached.
func IsQuotaExceeded(err error) bool { return errors.Is(err, ErrQuotaExceeded) }

// IsRateLimited reports whether err is a rate-limit refusal, and how long to
// wait before trying again (at least one second when the provider did not say).
func IsRateLimited(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.Kind == KindRateLimited {
		if e.RetryAfter > 0 {
			return e.RetryAfter, true
		}
		return time.Second, true
	}
	if errors.Is(err, ErrRateLimited) {
		return time.Second, true
	}
	return 0, false
}

// IsRetryable reports whether retrying the same request later may succeed:
// rate limits and server or transport failures. Everything else is permanent
// until the request or the provider's state changes.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable)
}

// IsRequestFault reports whether err is the provider refusing what a request
// asked for: content it finds malformed (KindInvalid), a change that clashes
// with the zone (KindConflict), a record that does not exist (KindNotFound).
// Such a refusal can belong to one part of a batch, so a refused batch is
// worth splitting to find that part. Every other error meets any request
// alike (rate limits, outages, credentials, quotas) and splitting would only
// multiply the load.
func IsRequestFault(err error) bool {
	switch KindOf(err) {
	case KindInvalid, KindConflict, KindNotFound:
		return true
	}
	return false
}

// ResultOf maps an error to the Result label an Observer would use for it.
func ResultOf(err error) string {
	if err == nil {
		return ResultOK
	}
	var e *Error
	if !errors.As(err, &e) {
		return ResultTransport
	}
	switch e.Kind {
	case KindNotFound:
		return ResultNotFound
	case KindForbidden:
		return ResultForbidden
	case KindRateLimited:
		return ResultRateLimited
	case KindUnavailable:
		if e.Status >= 500 {
			return ResultServerError
		}
		return ResultTransport
	}
	return ResultClientError
}
