package grant

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/bidirule"
	"golang.org/x/text/unicode/bidi"
)

// RFC 1035 limits, counted on the A-label form without the trailing dot.
const (
	MaxNameLength  = 253
	MaxLabelLength = 63
)

// maxInputLength rejects absurd input before IDNA mapping spends time on it.
// Four UTF-8 bytes per octet of a 253-octet name is more than any real name.
const maxInputLength = 1024

type nameKind int

const (
	// kindRecord is a record owner name: "*" may be the whole first label.
	kindRecord nameKind = iota
	// kindHost is a name inside record data (CNAME, MX, ...), never a wildcard.
	kindHost
	// kindZone is a zone apex: no wildcard and no "_service" labels.
	kindZone
)

// NormalizeName returns the canonical form of a record name: ASCII lower
// case, one trailing dot removed, internationalised labels as A-labels (UTS 46
// lookup mapping, IDNA2008 validity, Bidi and ContextJ rules, plus the
// look-alike checks in script.go), RFC 1035 lengths. Labels are letters,
// digits and hyphens; a label may start with '_' (service labels such as
// _acme-challenge) and the first label may be exactly "*" (a wildcard record).
// Errors are *FieldError with an empty Field.
func NormalizeName(name string) (string, error) {
	return normalize(name, kindRecord)
}

func normalize(name string, kind nameKind) (string, error) {
	out, err := normalizeName(name, kind)
	if err != nil {
		return "", &FieldError{Value: name, Rule: err.Error()}
	}
	return out, nil
}

func normalizeName(name string, kind nameKind) (string, error) {
	s, err := prepare(name)
	if err != nil {
		return "", err
	}
	if isASCII(s) && !strings.Contains(s, "xn--") {
		// Nothing can map or change direction: validate in place, no allocation.
		for i, rest := 0, s; ; i++ {
			l, next, more := strings.Cut(rest, ".")
			if _, _, err := normalizeLabel(l, i == 0, kind); err != nil {
				return "", err
			}
			if !more {
				break
			}
			rest = next
		}
		return checkNameLength(s)
	}

	// 127 labels already fill 253 octets; say so before mapping hundreds.
	if n := strings.Count(s, ".") + 1; n > MaxNameLength/2+1 {
		return "", fmt.Errorf("name has %d labels; at most %d fit in %d octets", n, MaxNameLength/2+1, MaxNameLength)
	}
	labels := strings.Split(s, ".")
	ulabels := make([]string, len(labels))
	for i, l := range labels {
		a, u, err := normalizeLabel(l, i == 0, kind)
		if err != nil {
			return "", err
		}
		labels[i], ulabels[i] = a, u
	}
	if err := checkBidi(ulabels); err != nil {
		return "", err
	}
	return checkNameLength(strings.Join(labels, "."))
}

// checkBidi applies RFC 5893 to the whole name: once one label is
// right-to-left, every label must satisfy the Bidi rule, or the name displays
// in a misleading order. Empty entries (wildcard, service labels) are skipped.
func checkBidi(ulabels []string) error {
	rtl := false
	for _, u := range ulabels {
		if u != "" && bidirule.DirectionString(u) != bidi.LeftToRight {
			rtl = true
			break
		}
	}
	if !rtl {
		return nil
	}
	for _, u := range ulabels {
		if u != "" && !bidirule.ValidString(u) {
			return fmt.Errorf("label %s breaks the RFC 5893 Bidi rule that applies to every label of a name with right-to-left text", quoteValue(u))
		}
	}
	return nil
}

func checkNameLength(s string) (string, error) {
	if len(s) > MaxNameLength {
		return "", fmt.Errorf("name is %d octets; names are at most %d octets", len(s), MaxNameLength)
	}
	return s, nil
}

// alternateDots are the separators UTS 46 maps to '.'; splitting on them up
// front keeps "a。b" from hiding a second label inside one.
var alternateDots = strings.NewReplacer("\u3002", ".", "\uff0e", ".", "\uff61", ".")

// prepare applies the checks and foldings every name shares before it is split.
func prepare(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("name must not be empty")
	case len(name) > maxInputLength:
		return "", fmt.Errorf("name is %d bytes; names are at most %d octets", len(name), MaxNameLength)
	case !utf8.ValidString(name):
		return "", errors.New("name must be valid UTF-8")
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c == 0x7f {
			return "", fmt.Errorf("name must not contain spaces or control characters (byte %#02x at %d)", c, i)
		}
	}
	s := lowerASCII(name)
	if !isASCII(s) {
		s = alternateDots.Replace(s)
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", errors.New(`the root name "." is not a record name`)
	}
	return s, nil
}

// normalizeLabel returns the A-label and, for host name labels, the U-label
// used by the whole-name Bidi check. Wildcard and service labels return an
// empty U-label: they are ASCII by construction and not host names.
func normalizeLabel(l string, first bool, kind nameKind) (a, u string, err error) {
	switch {
	case l == "":
		return "", "", errors.New(`name must not contain empty labels (no leading dot, no "..")`)
	case l == "*":
		if kind == kindRecord && first {
			return l, "", nil
		}
		if kind == kindRecord {
			return "", "", errors.New(`"*" is allowed only as the whole first label (a wildcard record)`)
		}
		return "", "", errors.New(`"*" is not allowed here`)
	case l[0] == '_':
		if kind == kindZone {
			return "", "", fmt.Errorf("label %s: a zone name has no service labels", quoteValue(l))
		}
		if len(l) == 1 {
			return "", "", errors.New(`label "_" needs a name after the underscore, e.g. "_acme-challenge"`)
		}
		if err := checkLDH(l[1:], l); err != nil {
			return "", "", err
		}
		return l, "", nil
	case isASCII(l) && !strings.HasPrefix(l, "xn--"):
		if err := checkLDH(l, l); err != nil {
			return "", "", err
		}
		return l, l, nil
	}
	return normalizeIDNLabel(l)
}

func normalizeIDNLabel(l string) (a, u string, err error) {
	invalid := func(err error) error {
		// idna quotes the whole label back; a long hostile one is clipped.
		return fmt.Errorf("label %s is not a valid internationalised label (IDNA2008, UTS 46 lookup): %s", quoteValue(l), clip(err.Error(), 2*maxQuoted))
	}
	a, err = idna.Lookup.ToASCII(l)
	switch {
	case err != nil:
		return "", "", invalid(err)
	case a == "":
		return "", "", fmt.Errorf("label %s maps to nothing (it holds only ignorable characters or an empty A-label)", quoteValue(l))
	case strings.Contains(a, "."):
		return "", "", fmt.Errorf("label %s maps to a label separator", quoteValue(l))
	case !strings.HasPrefix(a, "xn--"):
		// Compatibility forms such as fullwidth letters fold to plain ASCII, so
		// the name is what it looks like; hold it to the ASCII rules.
		if err := checkLDH(a, l); err != nil {
			return "", "", err
		}
		return a, a, nil
	}
	if len(a) > MaxLabelLength {
		return "", "", fmt.Errorf("label %s is %d octets as an A-label; labels are 1 to %d octets", quoteValue(l), len(a), MaxLabelLength)
	}
	if u, err = idna.Lookup.ToUnicode(a); err != nil {
		return "", "", invalid(err)
	}
	// Two spellings of one U-label would be two names for one grant.
	if back, err := idna.Lookup.ToASCII(u); err != nil || back != a {
		return "", "", fmt.Errorf("label %s is not the canonical A-label of %s", quoteValue(l), quoteValue(u))
	}
	if err := checkIDNA2008(u); err != nil {
		return "", "", fmt.Errorf("label %s (%s): %v", quoteValue(l), quoteValue(u), err)
	}
	if err := checkScript(u); err != nil {
		return "", "", fmt.Errorf("label %s (%s): %v", quoteValue(l), quoteValue(u), err)
	}
	return a, u, nil
}

// checkLDH holds an ASCII label to RFC 1035 letters-digits-hyphen syntax.
// Hyphens in the third and fourth position are allowed: Kubernetes namespace
// names may have them, and they only mean an A-label after "xn".
func checkLDH(l, whole string) error {
	if len(whole) > MaxLabelLength {
		return fmt.Errorf("label %s is %d octets; labels are 1 to %d octets", quoteValue(whole), len(whole), MaxLabelLength)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-':
		case c == '_':
			return fmt.Errorf(`label %s: "_" is allowed only as the first character of a label`, quoteValue(whole))
		case c == '*':
			return fmt.Errorf(`label %s: "*" must be a whole label`, quoteValue(whole))
		default:
			return fmt.Errorf("label %s contains %q; labels hold only letters, digits and hyphens", quoteValue(whole), c)
		}
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return fmt.Errorf("label %s must not start or end with a hyphen", quoteValue(whole))
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII folds only ASCII: non-ASCII case is IDNA's job, and
// strings.ToLower would turn U+212A KELVIN SIGN into a plain "k" before IDNA
// could judge it.
func lowerASCII(s string) string {
	i := 0
	for i < len(s) && (s[i] < 'A' || s[i] > 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if 'A' <= b[i] && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}
