package sim

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/idna"
)

var idnaProfile = idna.New(idna.MapForLookup(), idna.StrictDomainName(false), idna.Transitional(false))

// normalizeName lower-cases a DNS name, drops the trailing dot, converts
// non-ASCII labels to A-labels and checks RFC 1035 lengths. A "*" is
// accepted only as a whole leftmost label, and only when wildcard is true.
func normalizeName(name string, wildcard bool) (string, error) {
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

func normalizeHostname(name string) (string, error) { return normalizeName(name, false) }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// inZone reports whether name is the zone apex or below it.
func inZone(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}

const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// newTokenValue makes a 40-character secret like Cloudflare's.
func newTokenValue() string {
	b := make([]byte, 40)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = tokenAlphabet[int(b[i])%len(tokenAlphabet)]
	}
	return string(b)
}

// validTokenValue accepts what can travel in a Bearer header.
func validTokenValue(v string) error {
	if len(v) < 8 || len(v) > 256 {
		return errors.New("token must be 8 to 256 characters")
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c <= ' ' || c >= 0x7f {
			return errors.New("token has a character that is not printable ASCII")
		}
	}
	return nil
}
