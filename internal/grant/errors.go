package grant

import (
	"fmt"
	"strings"
)

// FieldError says which rule a value broke. Field is a path such as
// "spec.zones[0].rules[1].names[2]"; NormalizeName leaves it empty and
// ValidateValues makes it relative ("values[1]"), so callers place it in
// their own objects with Under.
type FieldError struct {
	Field string
	Value string
	Rule  string
}

func (e *FieldError) Error() string {
	v := quoteValue(e.Value)
	if e.Field == "" {
		return v + ": " + e.Rule
	}
	return e.Field + ": " + v + ": " + e.Rule
}

// Under returns a copy of e whose Field is prefixed by parent.
func (e *FieldError) Under(parent string) *FieldError {
	c := *e
	c.Field = joinField(parent, e.Field)
	return &c
}

// FieldErrors reports every broken rule at once, the way Kubernetes
// validation does, so an admin fixes a policy in one round trip.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap lets errors.As find the first *FieldError.
func (es FieldErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Under returns a copy of es with every Field prefixed by parent.
func (es FieldErrors) Under(parent string) FieldErrors {
	out := make(FieldErrors, len(es))
	for i, e := range es {
		out[i] = e.Under(parent)
	}
	return out
}

func joinField(parent, field string) string {
	switch {
	case parent == "":
		return field
	case field == "":
		return parent
	case strings.HasPrefix(field, "["):
		return parent + field
	default:
		return parent + "." + field
	}
}

// maxQuoted bounds how much of a hostile value is echoed back: an error
// message is read by people and stored in statuses and events.
const maxQuoted = 80

func quoteValue(v string) string {
	if len(v) <= maxQuoted {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%q… (%d bytes)", clip(v, maxQuoted), len(v))
}

// clip cuts s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
