package grant

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

type typeSet uint16

// supportedTypes is ordered as messages list it.
var supportedTypes = [...]string{"A", "AAAA", "CNAME", "TXT", "MX", "SRV", "CAA", "NS"}

// SupportedTypes returns the record types the engine can grant.
func SupportedTypes() []string { return append([]string(nil), supportedTypes[:]...) }

// typeBit is exact: types are upper case in the API, and accepting "txt"
// here would let a claim and the gateway disagree on what was granted.
func typeBit(t string) (typeSet, bool) {
	for i, s := range supportedTypes {
		if s == t {
			return 1 << i, true
		}
	}
	return 0, false
}

func typeBit0(t string) typeSet {
	b, _ := typeBit(t)
	return b
}

func (s typeSet) names() []string {
	var out []string
	for i, t := range supportedTypes {
		if s&(1<<i) != 0 {
			out = append(out, t)
		}
	}
	return out
}

// Limits on record data. TXT: one value may exceed a 255-octet
// character-string (providers split it: Cloudflare's API reference says
// longer strings "are automatically split") up to Cloudflare's limit of
// 2,048 characters of content, which fits a 4096-bit DKIM key; it is
// counted in bytes, which never undercounts characters, and includes any
// quotes. Explicit "quoted" "chunks" are each held to 255 octets. The
// providers refuse the same (provider.MaxTXTContentLength), so a claim
// admitted here is never refused there for its length.
const (
	MaxValues    = 100
	MaxTXTLength = 2048
	maxTXTChunk  = 255
	maxCAAValue  = 1024
)

// ValidateValues checks the data of one record set. No values is valid: it
// reserves the name and type for the namespace's own credentials. Errors are
// FieldErrors with fields relative to the record ("values[1]").
func ValidateValues(typ string, values []string) error {
	if _, ok := typeBit(typ); !ok {
		return &FieldError{Field: "type", Value: typ, Rule: "unsupported type; supported types are " + strings.Join(SupportedTypes(), ", ")}
	}
	if len(values) > MaxValues {
		return &FieldError{Field: "values", Value: fmt.Sprint(len(values), " values"), Rule: fmt.Sprintf("at most %d values per record", MaxValues)}
	}
	if typ == "CNAME" && len(values) > 1 {
		return &FieldError{Field: "values", Value: strings.Join(values, ","), Rule: "a CNAME has exactly one target"}
	}
	var errs FieldErrors
	for i, v := range values {
		if j := indexOf(values[:i], v); j >= 0 {
			errs = append(errs, &FieldError{Field: fmt.Sprintf("values[%d]", i), Value: v, Rule: fmt.Sprintf("duplicates values[%d]", j)})
			continue
		}
		if err := validateValue(typ, v, len(values)); err != nil {
			errs = append(errs, &FieldError{Field: fmt.Sprintf("values[%d]", i), Value: v, Rule: err.Error()})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// indexOf is quadratic over at most MaxValues short strings, which is cheaper
// than a map for the one or two values a record usually has.
func indexOf(vs []string, v string) int {
	for i, x := range vs {
		if x == v {
			return i
		}
	}
	return -1
}

func validateValue(typ, v string, n int) error {
	if v == "" {
		return errors.New("value must not be empty; leave out values to reserve the record")
	}
	if err := printable(v); err != nil {
		return err
	}
	switch typ {
	case "A":
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is4() {
			return errors.New("not an IPv4 address in dotted-quad form without leading zeros")
		}
	case "AAAA":
		a, err := netip.ParseAddr(v)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return errors.New("not an IPv6 address (no zone index)")
		}
	case "CNAME", "NS":
		return validateHost(v)
	case "TXT":
		return validateTXT(v)
	case "MX":
		f := strings.Fields(v)
		if len(f) != 2 {
			return errors.New(`MX is "<preference> <host>"`)
		}
		pref, err := parseUint(f[0], 65535, "preference")
		if err != nil {
			return err
		}
		// RFC 7505 null MX: "this domain accepts no mail", alone and at 0.
		if f[1] == "." {
			if pref != 0 || n != 1 {
				return errors.New(`a null MX ("0 .") must be the only MX value and have preference 0`)
			}
			return nil
		}
		return validateHost(f[1])
	case "SRV":
		f := strings.Fields(v)
		if len(f) != 4 {
			return errors.New(`SRV is "<priority> <weight> <port> <target>"`)
		}
		for i, what := range []string{"priority", "weight", "port"} {
			if _, err := parseUint(f[i], 65535, what); err != nil {
				return err
			}
		}
		if f[3] == "." { // RFC 2782: the service is decidedly not available
			return nil
		}
		return validateHost(f[3])
	case "CAA":
		return validateCAA(v)
	}
	return nil
}

func validateHost(v string) error {
	if _, err := normalizeName(v, kindHost); err != nil {
		return fmt.Errorf("not a host name: %v", err)
	}
	return nil
}

// printable refuses what would corrupt a zone file, a log line or a
// terminal: invalid UTF-8, control and format characters (bidi overrides).
func printable(v string) error {
	if !utf8.ValidString(v) {
		return errors.New("value must be valid UTF-8")
	}
	for i, r := range v {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("value contains the non-printable character %U at byte %d", r, i)
		}
	}
	return nil
}

func parseUint(s string, max int, what string) (int, error) {
	if s == "" || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("%s %q is not a number from 0 to %d without leading zeros", what, s, max)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%s %q is not a number from 0 to %d", what, s, max)
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > max {
		return 0, fmt.Errorf("%s %d is above %d", what, n, max)
	}
	return n, nil
}

// validateTXT accepts plain text, or presentation form: one or more
// "quoted" character-strings separated by spaces, with \" and \\ escapes.
func validateTXT(v string) error {
	if len(v) > MaxTXTLength {
		return fmt.Errorf("TXT content is %d bytes; the provider takes at most %d (longer text is split into 255-byte strings for you, so one value need not be)", len(v), MaxTXTLength)
	}
	if v[0] != '"' {
		return nil
	}
	for rest := v; rest != ""; {
		chunk, tail, err := unquote(rest)
		if err != nil {
			return fmt.Errorf("TXT value starts with a quote, so it must be \"quoted\" strings separated by spaces: %v", err)
		}
		if len(chunk) > maxTXTChunk {
			return fmt.Errorf("a quoted TXT string is %d bytes; each is at most %d", len(chunk), maxTXTChunk)
		}
		rest = strings.TrimLeft(tail, " ")
		if rest != "" && rest == tail {
			return errors.New(`quoted TXT strings must be separated by spaces`)
		}
	}
	return nil
}

// unquote reads one "quoted" string at the start of s and returns its
// content and what follows the closing quote.
func unquote(s string) (content, rest string, err error) {
	if s == "" || s[0] != '"' {
		return "", "", errors.New("expected an opening quote")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 == len(s) || (s[i+1] != '"' && s[i+1] != '\\') {
				return "", "", errors.New(`only \" and \\ escapes are supported`)
			}
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("missing closing quote")
}

// validateCAA follows RFC 8659: "<flags> <tag> <value>", value quoted when
// it holds spaces, as zone files and most provider UIs write it.
func validateCAA(v string) error {
	flags, rest, _ := strings.Cut(v, " ")
	tag, value, _ := strings.Cut(strings.TrimLeft(rest, " "), " ")
	value = strings.TrimLeft(value, " ")
	if _, err := parseUint(flags, 255, "CAA flags"); err != nil {
		return err
	}
	if tag != "issue" && tag != "issuewild" && tag != "iodef" {
		return fmt.Errorf(`CAA is "<flags> <tag> <value>" with tag issue, issuewild or iodef (lower case), not %q`, tag)
	}
	if value == "" {
		return errors.New("CAA value is missing; use \";\" for \"no CA may issue\"")
	}
	if value[0] == '"' {
		content, tail, err := unquote(value)
		if err != nil {
			return fmt.Errorf("CAA value: %v", err)
		}
		if tail != "" {
			return errors.New("CAA value has text after its closing quote")
		}
		value = content
	} else if strings.ContainsAny(value, " \"") {
		return errors.New(`a CAA value with spaces or quotes must be "quoted"`)
	}
	if len(value) > maxCAAValue {
		return fmt.Errorf("CAA value is %d bytes; at most %d", len(value), maxCAAValue)
	}
	if tag == "iodef" {
		u, err := url.Parse(value)
		switch {
		case err != nil:
			return fmt.Errorf("CAA iodef value is not a URL: %v", err)
		case u.Scheme == "mailto" && strings.Contains(u.Opaque, "@"):
			return nil
		case (u.Scheme == "https" || u.Scheme == "http") && u.Host != "":
			return nil
		}
		return errors.New("CAA iodef value must be a mailto:, https: or http: URL")
	}
	// issue and issuewild: "[issuer-domain] [; key=value]...".
	issuer, params, _ := strings.Cut(value, ";")
	if issuer = strings.TrimSpace(issuer); issuer != "" {
		if err := validateHost(issuer); err != nil {
			return fmt.Errorf("CAA issuer: %v", err)
		}
	}
	for _, p := range strings.Split(params, ";") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		k, val, ok := strings.Cut(p, "=")
		if !ok || k == "" || val == "" || strings.ContainsAny(val, " \t") || !isAlnum(k) {
			return fmt.Errorf("CAA parameter %q is not key=value", p)
		}
	}
	return nil
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
