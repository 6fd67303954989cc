package wire

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

var idnaProfile = idna.New(idna.MapForLookup(), idna.StrictDomainName(false), idna.Transitional(false))

// NormalizeName lower-cases a DNS name, drops the trailing dot, converts
// non-ASCII labels to A-labels and checks RFC 1035 lengths. A "*" is
// accepted only as a whole leftmost label, and only when wildcard is true.
func NormalizeName(name string, wildcard bool) (string, error) {
	n := strings.TrimSuffix(strings.TrimSpace(name), ".")
	if n == "" {
		return "", errors.New("name is empty")
	}
	labels := strings.Split(n, ".")
	for i, l := range labels {
		if isASCII(l) {
			labels[i] = strings.ToLower(l)
			continue
		}
		a, err := idnaProfile.ToASCII(l)
		if err != nil {
			return "", fmt.Errorf("label %q: %v", l, err)
		}
		labels[i] = a
	}
	for i, l := range labels {
		if len(l) == 0 {
			return "", errors.New("empty label")
		}
		if len(l) > 63 {
			return "", fmt.Errorf("label %q is longer than 63 characters", l)
		}
		if l == "*" {
			if !wildcard || i != 0 {
				return "", errors.New(`"*" is allowed only as the leftmost label`)
			}
			continue
		}
		for _, c := range l {
			ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
			if !ok {
				return "", fmt.Errorf("label %q has the invalid character %q", l, c)
			}
		}
	}
	out := strings.Join(labels, ".")
	if len(out) > 253 {
		return "", errors.New("name is longer than 253 characters")
	}
	return out, nil
}

// NormalizeHostname is NormalizeName without wildcards.
func NormalizeHostname(name string) (string, error) { return NormalizeName(name, false) }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// InZone reports whether name is the zone apex or below it.
func InZone(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}
