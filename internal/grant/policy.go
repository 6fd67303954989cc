package grant

import (
	"fmt"
	"strings"
)

// Rule, Zone and Policy mirror the zones of a DNSScope spec.
type Rule struct {
	Names  []string
	Types  []string
	MaxTTL int32 // 0: no limit
}

type Zone struct {
	Name  string
	Rules []Rule
}

type Policy struct {
	Zones []Zone
}

// Record is one record a namespace asks for. TTL 0 means "unset": it passes
// any MaxTTL, and the writer must pick a default no larger than Match.MaxTTL.
// No Values reserves the name and type for the namespace's credentials.
type Record struct {
	Name   string
	Type   string
	TTL    int32
	Values []string
}

// Match is the rule that granted a record.
type Match struct {
	Zone      string
	ZoneIndex int
	RuleIndex int
	Name      string // normalised
	Pattern   string // the matching pattern, {namespace} expanded
	MaxTTL    int32  // of the matching rule; 0: no limit
	// Broad is set when the rule grants names across the whole zone ("*" or
	// "**" right under the apex, e.g. "**.example.com"); the webhook warns.
	Broad bool
}

// Compiled is a validated policy, safe for concurrent use.
type Compiled struct {
	zones    []compiledZone
	byName   map[string]int
	warnings []string
}

type compiledZone struct {
	name  string
	rules []compiledRule
}

type compiledRule struct {
	patterns []*pattern
	types    typeSet
	maxTTL   int32
}

// Compile validates p and prepares it for Check. Errors are FieldErrors
// with paths such as "spec.zones[0].rules[1].names[2]".
func Compile(p Policy) (*Compiled, error) {
	var errs FieldErrors
	add := func(field, value, rule string) {
		errs = append(errs, &FieldError{Field: field, Value: value, Rule: rule})
	}
	if len(p.Zones) == 0 {
		add("spec.zones", "", "at least one zone is required")
	}
	c := &Compiled{zones: make([]compiledZone, len(p.Zones)), byName: make(map[string]int, len(p.Zones))}
	zoneLabels := make([][]string, len(p.Zones))
	for i, z := range p.Zones {
		f := fmt.Sprintf("spec.zones[%d].name", i)
		name, err := normalize(z.Name, kindZone)
		if err != nil {
			errs = append(errs, err.(*FieldError).Under(f))
			continue
		}
		if j, dup := c.byName[name]; dup {
			add(f, z.Name, fmt.Sprintf("zone %q is already spec.zones[%d]", name, j))
			continue
		}
		c.byName[name] = i
		c.zones[i].name = name
		zoneLabels[i] = strings.Split(name, ".")
	}
	for i, z := range p.Zones {
		f := fmt.Sprintf("spec.zones[%d].rules", i)
		if len(z.Rules) == 0 {
			add(f, "", "at least one rule is required")
		}
		c.zones[i].rules = make([]compiledRule, len(z.Rules))
		for j, r := range z.Rules {
			cr, rerrs := c.compileRule(i, zoneLabels[i], r, fmt.Sprintf("%s[%d]", f, j))
			errs = append(errs, rerrs...)
			c.zones[i].rules[j] = cr
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
}

// compileRule compiles rule f of zone zi; zone is nil when the zone name
// itself was invalid, and then only the names' own syntax can be checked.
func (c *Compiled) compileRule(zi int, zone []string, r Rule, f string) (compiledRule, FieldErrors) {
	var errs FieldErrors
	add := func(field, value, rule string) {
		errs = append(errs, &FieldError{Field: field, Value: value, Rule: rule})
	}
	cr := compiledRule{maxTTL: r.MaxTTL}
	if r.MaxTTL < 0 {
		add(f+".maxTTL", fmt.Sprint(r.MaxTTL), "maxTTL must be 0 (no limit) or positive")
	}
	if len(r.Types) == 0 {
		add(f+".types", "", "at least one type is required")
	}
	for k, t := range r.Types {
		bit, ok := typeBit(t)
		switch {
		case !ok:
			add(fmt.Sprintf("%s.types[%d]", f, k), t, "unsupported type; supported types are "+strings.Join(SupportedTypes(), ", "))
		case cr.types&bit != 0:
			add(fmt.Sprintf("%s.types[%d]", f, k), t, "duplicate type")
		}
		cr.types |= bit
	}
	if len(r.Names) == 0 {
		add(f+".names", "", "at least one name is required")
	}
	seen := make(map[string]int, len(r.Names))
	for k, raw := range r.Names {
		nf := fmt.Sprintf("%s.names[%d]", f, k)
		if zone == nil {
			continue
		}
		p, err := parsePattern(raw, zone)
		if err != nil {
			add(nf, raw, err.Error())
			continue
		}
		if prev, dup := seen[p.src]; dup {
			add(nf, raw, fmt.Sprintf("duplicates names[%d] (%q)", prev, p.src))
			continue
		}
		seen[p.src] = k
		p.index = k
		if deeper := c.deeperZone(zi, p); deeper >= 0 {
			add(nf, raw, fmt.Sprintf("every name it matches lies in zone %q (spec.zones[%d]), which is more specific; put the rule there", c.zones[deeper].name, deeper))
			continue
		}
		if len(p.rel) == 0 && cr.types&typeBit0("NS") != 0 {
			add(nf, raw, "NS at the zone apex would redelegate the whole zone; it is never granted")
			continue
		}
		if p.broad {
			c.warnings = append(c.warnings, fmt.Sprintf("%s: %q grants names across the whole zone %q to every selected namespace", nf, p.src, c.zones[zi].name))
		}
		cr.patterns = append(cr.patterns, p)
	}
	return cr, errs
}

// deeperZone returns another zone of the policy that holds every name p can
// match, or -1. Such a rule could never match: names belong to the deepest zone.
func (c *Compiled) deeperZone(zi int, p *pattern) int {
	// The literal labels at the end of the pattern are fixed in every match.
	fixed := len(p.rel)
	for fixed > 0 && p.rel[fixed-1].kind == literalLabel {
		fixed--
	}
	suffix := c.zones[zi].name
	for i := len(p.rel) - 1; i >= fixed; i-- {
		suffix = p.rel[i].lit + "." + suffix
		if j, ok := c.byName[suffix]; ok && j != zi {
			return j
		}
	}
	return -1
}

// Zones returns the normalised zone names in policy order.
func (c *Compiled) Zones() []string {
	out := make([]string, len(c.zones))
	for i, z := range c.zones {
		out[i] = z.name
	}
	return out
}

// Warnings lists rules that are valid but grant a whole zone, for the
// webhook to show the admin.
func (c *Compiled) Warnings() []string {
	return append([]string(nil), c.warnings...)
}

// ZoneOf returns the deepest zone of the policy that holds the normalised
// name, and whether there is one.
func (c *Compiled) ZoneOf(name string) (string, bool) {
	zi, _ := c.zoneOf(name)
	if zi < 0 {
		return "", false
	}
	return c.zones[zi].name, true
}

// zoneOf walks the name's suffixes from the longest, so the first hit is the
// deepest zone; the lookups slice name and do not allocate.
func (c *Compiled) zoneOf(name string) (zi int, rel string) {
	for i := 0; ; {
		if zi, ok := c.byName[name[i:]]; ok {
			if i == 0 {
				return zi, ""
			}
			return zi, name[:i-1]
		}
		j := strings.IndexByte(name[i:], '.')
		if j < 0 {
			return -1, ""
		}
		i += j + 1
	}
}

// Check decides whether namespace may own r. It returns the granting rule,
// or a *Denial that names the record, the rules consulted and the reason.
func (c *Compiled) Check(namespace string, r Record) (Match, error) {
	// The Denial is built only on failure: the granted path is the hot one.
	deny := func(name, zone string, reason Reason, detail string, err error) *Denial {
		return &Denial{Namespace: namespace, Name: name, Type: r.Type, Zone: zone, Reason: reason, Detail: detail, Err: err}
	}
	if err := validateNamespace(namespace); err != nil {
		return Match{}, deny(r.Name, "", ReasonInvalidNamespace, err.Error(), err)
	}
	name, err := NormalizeName(r.Name)
	if err != nil {
		return Match{}, deny(r.Name, "", ReasonInvalidName, err.(*FieldError).Rule, err)
	}
	bit, ok := typeBit(r.Type)
	if !ok {
		return Match{}, deny(name, "", ReasonUnsupportedType, "unsupported type; supported types are "+strings.Join(SupportedTypes(), ", "), nil)
	}
	if r.TTL < 0 {
		return Match{}, deny(name, "", ReasonInvalidTTL, fmt.Sprintf("ttl %d is negative", r.TTL), nil)
	}
	zi, relName := c.zoneOf(name)
	if zi < 0 {
		d := deny(name, "", ReasonOutsideZones, "name is outside every zone of the scope", nil)
		d.Checked = limitList(c.Zones(), "zones: ")
		return Match{}, d
	}
	z := &c.zones[zi]
	if relName == "" && bit == typeBit0("NS") {
		return Match{}, deny(name, z.name, ReasonApexNS, "NS at the zone apex would redelegate the whole zone; it is never granted", nil)
	}
	var buf [16]string // deeper names spill to the heap
	rel := splitLabels(buf[:0], relName)

	var nameRules, typeRules []int
	for j := range z.rules {
		cr := &z.rules[j]
		p := cr.match(rel, namespace)
		if p == nil {
			continue
		}
		if cr.types&bit == 0 {
			nameRules = append(nameRules, j)
			continue
		}
		if cr.maxTTL != 0 && EffectiveTTL(r.TTL) > cr.maxTTL {
			typeRules = append(typeRules, j)
			continue
		}
		if err := ValidateValues(r.Type, r.Values); err != nil {
			d := deny(name, z.name, ReasonInvalidValues, err.Error(), err)
			d.Checked = []string{z.describe(j, namespace)}
			return Match{}, d
		}
		// Last, as it is the rarest: a name another namespace's expansion
		// also covers is no one's (issue 17, item 6).
		mine := z.mineByTemplate(rel, namespace)
		if a, ok := z.coversForOther(rel, namespace, bit == typeBit0("NS"), mine); ok {
			return Match{}, deny(name, z.name, ReasonOtherExpansion, a.detail(), nil)
		}
		return Match{Zone: z.name, ZoneIndex: zi, RuleIndex: j, Name: name, Pattern: p.expand(namespace), MaxTTL: cr.maxTTL, Broad: p.broad}, nil
	}
	var d *Denial
	switch {
	case len(typeRules) > 0:
		d = deny(name, z.name, ReasonTTLAboveMax, fmt.Sprintf("ttl %s is above the maxTTL of every rule that allows this name and type", describeTTL(r.TTL)), nil)
		d.Checked = z.describeAll(typeRules, namespace)
	case len(nameRules) > 0:
		d = deny(name, z.name, ReasonTypeNotAllowed, fmt.Sprintf("type %s is not allowed by the rules that match this name", r.Type), nil)
		d.Checked = z.describeAll(nameRules, namespace)
	default:
		all := make([]int, len(z.rules))
		for j := range all {
			all[j] = j
		}
		d = deny(name, z.name, ReasonOutsideRules, "name matches no rule pattern of its zone", nil)
		d.Checked = z.describeAll(all, namespace)
	}
	return Match{}, d
}

func (cr *compiledRule) match(rel []string, ns string) *pattern {
	for _, p := range cr.patterns {
		if p.match(rel, ns) {
			return p
		}
	}
	return nil
}

func splitLabels(dst []string, s string) []string {
	if s == "" {
		return dst
	}
	for {
		l, rest, more := strings.Cut(s, ".")
		dst = append(dst, l)
		if !more {
			return dst
		}
		s = rest
	}
}

// validateNamespace insists on an RFC 1123 label, the only thing Kubernetes
// allows: it is what keeps {namespace} from smuggling in a dot or a "*".
func validateNamespace(ns string) error {
	switch {
	case ns == "":
		return fmt.Errorf("namespace must not be empty")
	case len(ns) > MaxLabelLength:
		return fmt.Errorf("namespace %s is %d characters; at most %d", quoteValue(ns), len(ns), MaxLabelLength)
	}
	for i := 0; i < len(ns); i++ {
		c := ns[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("namespace %s is not an RFC 1123 label (lower-case letters, digits and '-')", quoteValue(ns))
		}
	}
	if ns[0] == '-' || ns[len(ns)-1] == '-' {
		return fmt.Errorf("namespace %q must start and end with a letter or digit", ns)
	}
	return nil
}
