package provider

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The content of an MX, SRV or CAA record is its zone-file data, the same
// text a DNSRecordClaim carries: "10 mail.example.com", "10 5 443
// svc.example.com", `0 issue "letsencrypt.org"`. Implementations translate
// it to the provider's fields (Cloudflare: priority and data) and back, and
// return it in the form CanonicalContent gives, so that a record read back
// compares equal to the one written.

// MX is the data of an MX record. Host "." is the null MX of RFC 7505.
type MX struct {
	Preference uint16
	Host       string
}

// ParseMX reads "<preference> <host>".
func ParseMX(content string) (MX, error) {
	f := strings.Fields(content)
	if len(f) != 2 {
		return MX{}, errors.New(`MX content is "<preference> <host>"`)
	}
	pref, err := parseUint16(f[0], "MX preference")
	if err != nil {
		return MX{}, err
	}
	host, err := hostContent(f[1], "MX host")
	if err != nil {
		return MX{}, err
	}
	return MX{Preference: pref, Host: host}, nil
}

// Content is the canonical content of the record.
func (m MX) Content() string {
	return strconv.Itoa(int(m.Preference)) + " " + canonicalHost(m.Host)
}

// SRV is the data of an SRV record. Target "." means the service is not
// available (RFC 2782).
type SRV struct {
	Priority, Weight, Port uint16
	Target                 string
}

// ParseSRV reads "<priority> <weight> <port> <target>".
func ParseSRV(content string) (SRV, error) {
	f := strings.Fields(content)
	if len(f) != 4 {
		return SRV{}, errors.New(`SRV content is "<priority> <weight> <port> <target>"`)
	}
	var n [3]uint16
	for i, what := range []string{"SRV priority", "SRV weight", "SRV port"} {
		v, err := parseUint16(f[i], what)
		if err != nil {
			return SRV{}, err
		}
		n[i] = v
	}
	target, err := hostContent(f[3], "SRV target")
	if err != nil {
		return SRV{}, err
	}
	return SRV{Priority: n[0], Weight: n[1], Port: n[2], Target: target}, nil
}

// Content is the canonical content of the record.
func (s SRV) Content() string {
	return fmt.Sprintf("%d %d %d %s", s.Priority, s.Weight, s.Port, canonicalHost(s.Target))
}

// CAA is the data of a CAA record (RFC 8659). Value is the raw value,
// without zone-file quoting.
type CAA struct {
	Flags uint8
	Tag   string
	Value string
}

// ParseCAA reads "<flags> <tag> <value>", the value either "quoted" (with
// \" and \\ escapes, and \DDD for a byte) or a single word.
func ParseCAA(content string) (CAA, error) {
	flags, rest := cutField(content)
	tag, value := cutField(rest)
	n, err := strconv.ParseUint(flags, 10, 8)
	if err != nil {
		return CAA{}, fmt.Errorf(`CAA content is "<flags> <tag> <value>" with flags from 0 to 255, not %q`, flags)
	}
	if !validCAATag(tag) {
		return CAA{}, fmt.Errorf("CAA tag %q is not 1 to 15 letters and digits", tag)
	}
	switch {
	case strings.HasPrefix(value, `"`):
		v, tail, err := unquoteCAA(value)
		if err != nil {
			return CAA{}, fmt.Errorf("CAA value: %v", err)
		}
		if strings.TrimSpace(tail) != "" {
			return CAA{}, errors.New("CAA value has text after its closing quote")
		}
		value = v
	case value == "":
		return CAA{}, errors.New("CAA value is missing")
	case strings.ContainsAny(value, " \t\""):
		return CAA{}, errors.New(`a CAA value with spaces or quotes must be "quoted"`)
	}
	return CAA{Flags: uint8(n), Tag: strings.ToLower(tag), Value: value}, nil
}

// Content is the canonical content of the record: the tag in lower case
// (tags compare without case, RFC 8659 §4.1), the value always quoted.
func (c CAA) Content() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(c.Flags)))
	b.WriteByte(' ')
	b.WriteString(strings.ToLower(c.Tag))
	b.WriteString(` "`)
	for i := 0; i < len(c.Value); i++ {
		if ch := c.Value[i]; ch == '"' || ch == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c.Value[i])
	}
	b.WriteByte('"')
	return b.String()
}

// CanonicalContent is the form in which two contents of one record type are
// equal when they mean the same data: addresses in their standard form,
// host names in lower case without the trailing dot, MX, SRV and CAA as
// their Content methods write them. Content that does not parse, and TXT,
// is returned as it is.
func CanonicalContent(typ, content string) string {
	switch strings.ToUpper(typ) {
	case "A", "AAAA":
		if a, err := netip.ParseAddr(strings.TrimSpace(content)); err == nil {
			return a.String()
		}
	case "CNAME", "NS", "PTR":
		return NormalizeName(content)
	case "MX":
		if m, err := ParseMX(content); err == nil {
			return m.Content()
		}
	case "SRV":
		if s, err := ParseSRV(content); err == nil {
			return s.Content()
		}
	case "CAA":
		if c, err := ParseCAA(content); err == nil {
			return c.Content()
		}
	}
	return content
}

// MaxTXTContentLength is the most content a TXT record may carry, in bytes:
// Cloudflare takes up to 2,048 characters and splits text into 255-byte
// character-strings itself. Bytes never undercount characters, so content
// within it is within Cloudflare's limit. grant.MaxTXTLength is the same, so
// admission refuses what the provider would.
const MaxTXTContentLength = 2048

// validContent checks the content of the types whose content has parts, and
// the length of TXT content.
func validContent(typ, content string) error {
	var err error
	switch strings.ToUpper(typ) {
	case "TXT":
		if len(content) > MaxTXTContentLength {
			err = fmt.Errorf("TXT content is %d bytes, more than %d", len(content), MaxTXTContentLength)
		}
	case "MX":
		_, err = ParseMX(content)
	case "SRV":
		_, err = ParseSRV(content)
	case "CAA":
		_, err = ParseCAA(content)
	}
	return err
}

func parseUint16(s, what string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not a number from 0 to 65535", what, s)
	}
	return uint16(n), nil
}

// hostContent checks a target name; "." (the root) is allowed.
func hostContent(s, what string) (string, error) {
	if strings.TrimSpace(s) == "." {
		return ".", nil
	}
	h := NormalizeName(s)
	if h == "" || strings.HasPrefix(h, ".") || strings.HasSuffix(h, ".") || strings.Contains(h, "..") {
		return "", fmt.Errorf("%s %q is not a host name", what, s)
	}
	return h, nil
}

func canonicalHost(s string) string {
	if strings.TrimSpace(s) == "." {
		return "."
	}
	return NormalizeName(s)
}

// cutField splits off the first space- or tab-separated field.
func cutField(s string) (field, rest string) {
	s = strings.TrimLeft(s, " \t")
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], strings.TrimLeft(s[i:], " \t")
	}
	return s, ""
}

func validCAATag(t string) bool {
	if t == "" || len(t) > 15 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// unquoteCAA reads one "quoted" string at the start of s and returns its
// content and what follows the closing quote.
func unquoteCAA(s string) (value, rest string, err error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
				n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
				if n > 255 {
					return "", "", fmt.Errorf(`escape \%s is above 255`, s[i+1:i+4])
				}
				b.WriteByte(byte(n))
				i += 3
				continue
			}
			if i+1 == len(s) {
				return "", "", errors.New("missing closing quote")
			}
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", errors.New("missing closing quote")
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
