package grant

import "fmt"

// ReasonOtherExpansion refuses a name that the scope's templates also give
// to another namespace: two different namespaces' expansions meet there, so
// neither may hold it (issue 17, item 6). The DNSScope webhook warns of such
// templates (Overlaps); this is the claim path's half.
const ReasonOtherExpansion Reason = "OtherNamespaceExpansion"

// Ambiguity is a pattern that covers a name for a namespace other than the
// one that asked. It never says which namespace: the pattern with its
// placeholder kept is enough for an admin to fix the scope, and a tenant
// learns nothing about who else may exist.
type Ambiguity struct {
	// Scope is the other scope's name when the pattern is not of the
	// claim's own scope (CoversForOther's caller sets it); Zone is then the
	// pattern's zone index in that scope.
	Scope      string
	Zone       int
	Rule, Name int    // the pattern's place in its zone: rules[Rule].names[Name]
	Pattern    string // normalised, placeholder kept
	// Via says how it covers the name: "" at the name itself, "NS" by a
	// delegation at a name above, "below" at a name the claimed NS would
	// delegate.
	Via string
}

func (a Ambiguity) detail() string {
	where := "for another namespace"
	switch a.Via {
	case "NS":
		where = "for another namespace, by an NS delegation above the name"
	case "below":
		where = "for another namespace, at a name below this NS delegation"
	}
	field := fmt.Sprintf("rules[%d].names[%d] %q", a.Rule, a.Name, a.Pattern)
	if a.Scope != "" {
		field = fmt.Sprintf("spec.zones[%d].rules[%d].names[%d] %q of DNSScope %q", a.Zone, a.Rule, a.Name, a.Pattern, a.Scope)
	}
	return fmt.Sprintf("the name also belongs to the expansion of %s %s; where two namespaces' expansions meet, neither may hold the name (the scope's templates overlap, see spec.strictTemplates)",
		field, where)
}

// OtherExpansionDenial is the refusal of a record whose name a pattern of
// another scope covers for another namespace (CoversForOther): the same
// words as Check's, naming that scope.
func OtherExpansionDenial(namespace string, m Match, typ string, a Ambiguity) *Denial {
	return &Denial{Namespace: namespace, Name: m.Name, Type: typ, Zone: m.Zone, Reason: ReasonOtherExpansion, Detail: a.detail()}
}

// CoversForOther asks another scope's policy (c) whether it covers a name
// that own, the claim's scope, granted to namespace (m, from own.Check),
// for some other namespace: a name two namespaces' expansions meet at is
// no one's, whichever scopes the patterns are in. Only the deepest zone of
// c that holds the name is consulted, as Check would. It says nothing of
// c's selector: "another namespace" is any valid namespace name.
func (c *Compiled) CoversForOther(own *Compiled, namespace string, m Match, isNS bool) (Ambiguity, bool) {
	zi, relName := c.zoneOf(m.Name)
	if zi < 0 || m.ZoneIndex < 0 || m.ZoneIndex >= len(own.zones) {
		return Ambiguity{}, false
	}
	var buf, ownBuf [16]string
	_, ownRel := own.zoneOf(m.Name)
	mine := own.zones[m.ZoneIndex].mineByTemplate(splitLabels(ownBuf[:0], ownRel), namespace)
	a, ok := c.zones[zi].coversForOther(splitLabels(buf[:0], relName), namespace, isNS, mine)
	a.Zone = zi
	return a, ok
}

// mineByTemplate reports whether ns reaches rel through a pattern with
// {namespace} in z.
func (z *compiledZone) mineByTemplate(rel []string, ns string) bool {
	for j := range z.rules {
		for _, p := range z.rules[j].patterns {
			if p.templated && p.match(rel, ns) {
				return true
			}
		}
	}
	return false
}

// coversForOther looks, in zone z, for a pattern that covers the name rel
// (labels below the apex) for a namespace other than ns, any valid namespace
// name whether it exists or not: it solves each template for the namespace
// the name spells instead of listing namespaces. A pattern without
// {namespace} covers a name for every namespace; a name that only such
// patterns cover is shared on purpose (the older claim wins) and is not
// ambiguous, but one that ns holds through a template (mine) and everyone
// through a literal is. A rule that allows NS also covers the names below
// its patterns (a delegation takes them), and a claimed NS covers the names
// below rel. Types are not compared: two namespaces at one name share it
// whatever the types (a CNAME excludes every other type).
//
// It costs one pass over the zone's patterns and allocates nothing.
func (z *compiledZone) coversForOther(rel []string, ns string, isNS, mine bool) (Ambiguity, bool) {
	// covers reports whether p covers a name for some namespace other than
	// ns: any, for a pattern without a placeholder, when ns holds the name
	// through a template.
	covers := func(p *pattern, rel []string, below bool) bool {
		if !p.templated {
			return mine && p.coversFor(rel, below, "")
		}
		return p.coversFor(rel, below, ns)
	}
	for j := range z.rules {
		cr := &z.rules[j]
		delegates := cr.types&typeBit0("NS") != 0
		for _, p := range cr.patterns {
			ref := Ambiguity{Rule: j, Name: p.index, Pattern: p.src}
			if covers(p, rel, false) {
				return ref, true
			}
			if delegates {
				for k := 1; k < len(rel); k++ {
					if covers(p, rel[k:], false) {
						ref.Via = "NS"
						return ref, true
					}
				}
			}
			if isNS && covers(p, rel, true) {
				ref.Via = "below"
				return ref, true
			}
		}
	}
	return Ambiguity{}, false
}

// coversFor reports whether p matches a name (labels below the apex) for
// some valid namespace other than not ("" excludes none; a pattern without
// a placeholder matches for every namespace). The name is rel when below is
// false, and any name of one or more labels more above rel when it is true.
//
// Positions are fixed once the name's length is: labels before a "**" from
// the front, after it from the back. Each template label at a known label
// spells the namespace; it must spell the same one everywhere. A template
// label above rel takes any namespace. Longer names than len(p.rel)+len(rel)+1
// only widen the "**" over unknown labels, so they add nothing.
func (p *pattern) coversFor(rel []string, below bool, not string) bool {
	lo, hi := len(rel), len(rel)
	if below {
		lo, hi = len(rel)+1, len(p.rel)+len(rel)+1
	}
	if p.glob < 0 {
		lo, hi = max(lo, len(p.rel)), min(hi, len(p.rel))
	} else {
		lo = max(lo, len(p.rel))
	}
	for n := lo; n <= hi; n++ {
		if p.coversAt(rel, n, not) {
			return true
		}
	}
	return false
}

// coversAt is coversFor for names of exactly n labels, the last len(rel) of
// them rel.
func (p *pattern) coversAt(rel []string, n int, not string) bool {
	free := n - len(rel)
	var ns string
	pinned := false
	longest := MaxLabelLength
	for i := range n {
		l := p.labelAt(i, n)
		if l.kind == templateLabel {
			longest = min(longest, MaxLabelLength-len(l.lit)-len(l.suf))
		}
		if i < free {
			continue // an unknown label: anything, a template with any namespace
		}
		s := rel[i-free]
		switch l.kind {
		case literalLabel:
			if s != l.lit {
				return false
			}
		case templateLabel:
			if len(s) <= len(l.lit)+len(l.suf) || s[:len(l.lit)] != l.lit || s[len(s)-len(l.suf):] != l.suf {
				return false
			}
			x := s[len(l.lit) : len(s)-len(l.suf)]
			if pinned && x != ns {
				return false
			}
			ns, pinned = x, true
		}
	}
	if !p.templated {
		return true
	}
	if !pinned {
		// Every template label is above rel: some namespace other than
		// not fits there (a one-letter one always does).
		return true
	}
	return ns != not && len(ns) <= longest && validateNamespace(ns) == nil
}

// labelAt is the pattern label at position i of a name of n labels, a star
// inside the "**".
func (p *pattern) labelAt(i, n int) patternLabel {
	if p.glob < 0 || i < p.glob {
		return p.rel[i]
	}
	tail := len(p.rel) - p.glob - 1
	if i >= n-tail {
		return p.rel[p.glob+1+i-(n-tail)]
	}
	return patternLabel{kind: starLabel}
}
