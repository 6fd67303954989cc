package provider

import (
	"strconv"
	"strings"
)

// ContentKey is the one record-content equality every path uses (the claim
// planner, the zone writer, the front doors): two contents of one type are
// the same record when their keys are equal. TXT compares by its strings,
// with or without zone-file quoting ("v=1" and `"v=1"` are one record, `"a"
// "b"` is two strings and not "ab"); every other type as CanonicalContent
// writes it (host names without case or trailing dot, MX, SRV and CAA as the
// provider reads them back).
func ContentKey(typ, content string) string {
	if !strings.EqualFold(typ, "TXT") {
		return CanonicalContent(typ, content)
	}
	var b strings.Builder
	for _, s := range TXTStrings(content) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}

// SameContent reports whether two contents of one type are the same record
// (ContentKey).
func SameContent(typ, a, b string) bool { return ContentKey(typ, a) == ContentKey(typ, b) }

// TXTStrings reads TXT content into raw (unescaped) strings: quoted strings
// when the content is in zone-file quoting, else the content itself.
func TXTStrings(content string) []string {
	if strings.HasPrefix(content, `"`) {
		if parts, ok := parseQuoted(content); ok {
			return parts
		}
	}
	return []string{content}
}

// parseQuoted reads `"a" "b\"c"` with zone-file escapes (\X and \DDD).
func parseQuoted(s string) ([]string, bool) {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, len(out) > 0
		}
		if s[0] != '"' {
			return nil, false
		}
		var b strings.Builder
		i := 1
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] != '\\' {
				b.WriteByte(s[i])
				continue
			}
			if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
				n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
				if n > 255 {
					return nil, false
				}
				b.WriteByte(byte(n))
				i += 3
				continue
			}
			if i+1 >= len(s) {
				return nil, false
			}
			i++
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, false
		}
		out = append(out, b.String())
		s = s[i+1:]
	}
}
