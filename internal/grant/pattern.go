package grant

import (
	"errors"
	"fmt"
	"strings"
)

// Placeholder is the template that expands to the claiming namespace.
const Placeholder = "{namespace}"

type labelKind uint8

const (
	literalLabel  labelKind = iota
	starLabel               // "*": exactly one label
	globLabel               // "**": one or more labels
	templateLabel           // prefix + namespace + suffix
)

type patternLabel struct {
	kind labelKind
	// lit is the whole label of a literal, the text before the placeholder of
	// a template.
	lit string
	suf string
}

func (l patternLabel) match(s, ns string) bool {
	switch l.kind {
	case literalLabel:
		return s == l.lit
	case templateLabel:
		return len(s) == len(l.lit)+len(ns)+len(l.suf) &&
			strings.HasPrefix(s, l.lit) && strings.HasSuffix(s, l.suf) &&
			s[len(l.lit):len(s)-len(l.suf)] == ns
	default:
		return true
	}
}

// pattern is one compiled rule name. Only the labels below the zone apex are
// kept: the zone suffix was checked once at compile time and is matched once
// per Check by the zone lookup.
type pattern struct {
	src   string // normalised, placeholder kept
	rel   []patternLabel
	glob  int  // index of "**" in rel, or -1
	broad bool // the label right under the apex is "*" or "**"
	// templated saves the expansion of patterns without a placeholder.
	templated bool
	// index is the pattern's place in its rule's names, for messages.
	index int
}

// match reports whether the labels of a name below the zone apex match.
func (p *pattern) match(rel []string, ns string) bool {
	if p.glob < 0 {
		if len(rel) != len(p.rel) {
			return false
		}
		for i, l := range rel {
			if !p.rel[i].match(l, ns) {
				return false
			}
		}
		return true
	}
	// "**" takes whatever the fixed labels on either side leave, at least one.
	if len(rel) < len(p.rel) {
		return false
	}
	for i := 0; i < p.glob; i++ {
		if !p.rel[i].match(rel[i], ns) {
			return false
		}
	}
	tail := p.rel[p.glob+1:]
	off := len(rel) - len(tail)
	for i, pl := range tail {
		if !pl.match(rel[off+i], ns) {
			return false
		}
	}
	return true
}

// expand is for messages and Match, never for matching.
func (p *pattern) expand(ns string) string {
	if !p.templated {
		return p.src
	}
	return strings.ReplaceAll(p.src, Placeholder, ns)
}

// parsePattern compiles raw for the zone whose normalised labels are zone.
func parsePattern(raw string, zone []string) (*pattern, error) {
	s, err := prepare(raw)
	if err != nil {
		return nil, err
	}
	labels := strings.Split(s, ".")
	pls := make([]patternLabel, len(labels))
	ulabels := make([]string, 0, len(labels))
	glob, shortest := -1, len(labels)-1
	for i, l := range labels {
		pl, u, err := parsePatternLabel(l)
		if err != nil {
			return nil, err
		}
		if pl.kind == globLabel {
			if glob >= 0 {
				return nil, errors.New(`at most one "**" per pattern; "**" already matches one or more labels`)
			}
			glob = i
		}
		pls[i], labels[i] = pl, pl.String()
		ulabels = append(ulabels, u)
		shortest += pl.minLen()
	}
	if err := checkBidi(ulabels); err != nil {
		return nil, err
	}
	zoneName := strings.Join(zone, ".")
	below := len(labels) - len(zone)
	if below < 0 || !zoneSuffix(pls[below:], zone) {
		return nil, fmt.Errorf("pattern must lie inside zone %q: it must end with the literal labels %q", zoneName, zoneName)
	}
	if shortest > MaxNameLength {
		return nil, fmt.Errorf("pattern can never match: its shortest name is %d octets, more than %d", shortest, MaxNameLength)
	}
	p := &pattern{src: strings.Join(labels, "."), rel: pls[:below], glob: glob}
	p.templated = strings.Contains(p.src, Placeholder)
	if below > 0 {
		k := p.rel[below-1].kind
		p.broad = k == starLabel || k == globLabel
	}
	return p, nil
}

func zoneSuffix(pls []patternLabel, zone []string) bool {
	for i, pl := range pls {
		if pl.kind != literalLabel || pl.lit != zone[i] {
			return false
		}
	}
	return true
}

// parsePatternLabel returns the compiled label and, for literal host labels,
// its U-label for the Bidi check.
func parsePatternLabel(l string) (patternLabel, string, error) {
	switch {
	case l == "**":
		return patternLabel{kind: globLabel}, "", nil
	case l == "*":
		return patternLabel{kind: starLabel}, "", nil
	case strings.Contains(l, "*"):
		return patternLabel{}, "", fmt.Errorf(`label %s: "*" and "**" must be a whole label`, quoteValue(l))
	case strings.ContainsAny(l, "{}"):
		return parseTemplateLabel(l)
	}
	a, u, err := normalizeLabel(l, false, kindHost)
	if err != nil {
		return patternLabel{}, "", err
	}
	return patternLabel{kind: literalLabel, lit: a}, u, nil
}

// parseTemplateLabel keeps templates ASCII so that prefix+namespace+suffix is
// already the A-label: an internationalised label would have to be re-encoded
// as a whole for every namespace, and could not be compared piecewise.
func parseTemplateLabel(l string) (patternLabel, string, error) {
	i := strings.Index(l, Placeholder)
	if i < 0 {
		return patternLabel{}, "", fmt.Errorf("label %s: the only placeholder is %s, as written", quoteValue(l), Placeholder)
	}
	pre, suf := l[:i], l[i+len(Placeholder):]
	switch {
	case strings.ContainsAny(pre+suf, "{}"):
		return patternLabel{}, "", fmt.Errorf("label %s: %s may appear once per label, and no other braces", quoteValue(l), Placeholder)
	case strings.HasPrefix(l, "xn--"):
		return patternLabel{}, "", fmt.Errorf("label %s: a label with %s cannot be an A-label", quoteValue(l), Placeholder)
	case len(pre)+len(suf)+1 > MaxLabelLength:
		return patternLabel{}, "", fmt.Errorf("label %s can never match: with a one-letter namespace it is already longer than %d octets", quoteValue(l), MaxLabelLength)
	}
	body := pre
	if strings.HasPrefix(body, "_") {
		body = body[1:]
	}
	for _, part := range []string{body, suf} {
		for j := 0; j < len(part); j++ {
			c := part[j]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return patternLabel{}, "", fmt.Errorf(`label %s: around %s only letters, digits, hyphens and a leading "_" are allowed`, quoteValue(l), Placeholder)
			}
		}
	}
	if strings.HasPrefix(body, "-") || strings.HasSuffix(suf, "-") {
		return patternLabel{}, "", fmt.Errorf("label %s must not start or end with a hyphen", quoteValue(l))
	}
	return patternLabel{kind: templateLabel, lit: pre, suf: suf}, "", nil
}

func (l patternLabel) String() string {
	switch l.kind {
	case starLabel:
		return "*"
	case globLabel:
		return "**"
	case templateLabel:
		return l.lit + Placeholder + l.suf
	default:
		return l.lit
	}
}

// minLen is the label's shortest expansion, a namespace being at least one octet.
func (l patternLabel) minLen() int {
	switch l.kind {
	case literalLabel:
		return len(l.lit)
	case templateLabel:
		return len(l.lit) + 1 + len(l.suf)
	default:
		return 1
	}
}
