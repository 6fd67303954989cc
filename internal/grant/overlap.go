package grant

import (
	"fmt"
	"slices"
	"strings"
)

// PatternRef names one rule name pattern of a compiled policy by its place
// in the DNSScope spec.
type PatternRef struct {
	Zone, Rule, Name int
	// Pattern is the normalised pattern, placeholder kept.
	Pattern string
	// NS is set when the rule allows NS: a delegation at a granted name
	// takes every name below it too.
	NS bool
}

// Field is the spec path of the pattern, e.g. "spec.zones[0].rules[1].names[2]".
func (r PatternRef) Field() string {
	return fmt.Sprintf("spec.zones[%d].rules[%d].names[%d]", r.Zone, r.Rule, r.Name)
}

// Overlap is one name that two different namespaces are both granted: by A
// for NamespaceA and by B for NamespaceB. The name is a witness the analysis
// built, not the only one.
type Overlap struct {
	A, B PatternRef
	Name string
	// NamespaceB is empty when B has no placeholder: then every selected
	// namespace other than NamespaceA is granted the name by B.
	NamespaceA, NamespaceB string
	// DelegationA and DelegationB are set when the side reaches Name only
	// through an NS record at that name above it.
	DelegationA, DelegationB string
}

// String says what was found in the words the webhook shows the admin.
func (o Overlap) String() string {
	side := func(ns, delegation string) string {
		who := fmt.Sprintf("namespace %q", ns)
		if ns == "" {
			who = "any other namespace"
		}
		if delegation != "" {
			return fmt.Sprintf("%s by delegating %q (NS)", who, delegation)
		}
		return who
	}
	return fmt.Sprintf("%s %q and %s %q overlap across namespaces: %q can be claimed by %s through the first and by %s through the second",
		o.A.Field(), o.A.Pattern, o.B.Field(), o.B.Pattern, o.Name,
		side(o.NamespaceA, o.DelegationA), side(o.NamespaceB, o.DelegationB))
}

// overlapWork bounds the work of one Overlaps call, in label and character
// comparisons (about half a second on one core). A zone at the schema's
// limits holds 3,200 patterns, 5 million pairs, and a pattern may have 127
// labels: that would take longer than an admission request may. Real
// scopes hold tens of patterns and use a tiny part of it.
var overlapWork = 1 << 22

// pairWork is what examining a pair costs besides its comparisons, measured
// as about ten of them.
const pairWork = 10

// Overlaps returns up to limit pairs of patterns whose grants meet for two
// different namespaces (limit <= 0: all), and whether every pair was
// examined: false when the analysis ran out of its work budget, and then
// an empty answer proves nothing. Pairs of patterns without
// {namespace} are left out: such a name is granted to every selected
// namespace on purpose, and the older claim wins it.
//
// The analysis is sound: every pair whose expansions can meet for two valid
// namespace names is reported. It is exact except for what it treats
// conservatively, each of which can only add a report:
//   - the 253-octet limit of a whole name is not applied (each label's
//     63-octet limit is);
//   - record types are not compared: two namespaces holding one name is a
//     shared name even with different types (a CNAME excludes all others);
//   - a witness that lies in a deeper zone of the policy, where neither rule
//     applies, still counts;
//   - a pattern of a rule that allows NS also covers every name below it.
//
// Patterns of different zones never meet: a name belongs to its deepest
// zone and only that zone's rules grant it.
func (c *Compiled) Overlaps(limit int) (overlaps []Overlap, complete bool) {
	var out []Overlap
	an := &analysis{work: overlapWork}
	for zi := range c.zones {
		z := &c.zones[zi]
		var refs []PatternRef
		var shapes []shape
		for ri := range z.rules {
			ns := z.rules[ri].types&typeBit0("NS") != 0
			for _, p := range z.rules[ri].patterns {
				refs = append(refs, PatternRef{Zone: zi, Rule: ri, Name: p.index, Pattern: p.src, NS: ns})
				shapes = append(shapes, shapeOf(p))
			}
		}
		for i := range shapes {
			for j := i; j < len(shapes); j++ {
				a, b := i, j
				if !shapes[a].templated {
					a, b = b, a
				}
				if !shapes[a].templated {
					continue
				}
				an.work -= pairWork
				o, ok := an.overlapOf(shapes[a], shapes[b], refs[a].NS, refs[b].NS)
				if an.work < 0 {
					return out, false
				}
				if !ok {
					continue
				}
				o.A, o.B = refs[a], refs[b]
				o.Name += "." + z.name
				if o.DelegationA != "" {
					o.DelegationA += "." + z.name
				}
				if o.DelegationB != "" {
					o.DelegationB += "." + z.name
				}
				out = append(out, o)
				if limit > 0 && len(out) >= limit {
					return out, true
				}
			}
		}
	}
	return out, true
}

// analysis carries the work left to one Overlaps call.
type analysis struct{ work int }

// shape is a pattern's labels below the zone apex as the analysis sees
// them; lead counts star labels added in front to stand for the names below
// an NS delegation.
type shape struct {
	rel       []patternLabel
	glob      int
	templated bool
	lead      int
	// kmax is the longest namespace that keeps every template label of the
	// pattern within 63 octets.
	kmax int
}

func shapeOf(p *pattern) shape {
	s := shape{rel: p.rel, glob: p.glob, templated: p.templated, kmax: MaxLabelLength}
	for _, l := range p.rel {
		if l.kind == templateLabel {
			s.kmax = min(s.kmax, MaxLabelLength-len(l.lit)-len(l.suf))
		}
	}
	return s
}

// below is the shape of the names e labels under a match of s.
func (s shape) below(e int) shape {
	rel := make([]patternLabel, 0, e+len(s.rel))
	for range e {
		rel = append(rel, patternLabel{kind: starLabel})
	}
	rel = append(rel, s.rel...)
	out := s
	out.rel, out.lead = rel, e
	if s.glob >= 0 {
		out.glob = s.glob + e
	}
	return out
}

// overlapOf tries a and b, then, for a side whose rule allows NS, the names
// below its delegations. Two delegations meet only if one lies below the
// other, which the one-sided extensions already cover.
//
// Beyond len(other)+1 leading labels the added stars face only the other
// pattern's "**" or nothing, so longer extensions add no new names.
func (an *analysis) overlapOf(a, b shape, aNS, bNS bool) (Overlap, bool) {
	if o, ok := an.meet(a, b); ok {
		return o, true
	}
	for e := 1; an.work >= 0 && e <= max(len(a.rel), len(b.rel))+1; e++ {
		if aNS && e <= len(b.rel)+1 {
			if o, ok := an.meet(a.below(e), b); ok {
				o.DelegationA = strings.SplitN(o.Name, ".", e+1)[e]
				return o, true
			}
		}
		if bNS && e <= len(a.rel)+1 {
			if o, ok := an.meet(a, b.below(e)); ok {
				o.DelegationB = strings.SplitN(o.Name, ".", e+1)[e]
				return o, true
			}
		}
	}
	return Overlap{}, false
}

// meet looks for a name (labels below the apex) that a grants to some
// namespace n and b to some namespace m != n. It tries every length of name
// for which the labels of a and b pair up differently: beyond the sum of
// their fixed labels plus one, longer names only widen the part where both
// "**" match anything.
func (an *analysis) meet(a, b shape) (Overlap, bool) {
	lo, hi := max(minLabels(a), minLabels(b)), len(a.rel)+len(b.rel)+1
	if a.glob < 0 {
		hi = min(hi, len(a.rel))
	}
	if b.glob < 0 {
		hi = min(hi, len(b.rel))
	}
	for n := lo; n <= hi && an.work >= 0; n++ {
		if o, ok := an.meetAt(a, b, n); ok {
			return o, true
		}
	}
	return Overlap{}, false
}

func minLabels(s shape) int { return len(s.rel) }

// at returns the pattern label that covers position i of a name of n labels,
// a star for a position inside the "**".
func (s shape) at(i, n int) patternLabel {
	if s.glob < 0 || i < s.glob {
		return s.rel[i]
	}
	tail := len(s.rel) - s.glob - 1
	if i >= n-tail {
		return s.rel[s.glob+1+i-(n-tail)]
	}
	return patternLabel{kind: starLabel}
}

// equation is a label where both sides have a template:
// a.lit + n + a.suf == b.lit + m + b.suf.
type equation struct{ a, b patternLabel }

// meetAt solves for names of exactly n labels. Every position pairs a label
// of a with one of b; literals pin a namespace, two templates give an
// equation between the namespaces, stars take anything.
func (an *analysis) meetAt(a, b shape, n int) (Overlap, bool) {
	an.work -= n
	var pinN, pinM string
	var eqs []equation
	for i := range n {
		x, y := a.at(i, n), b.at(i, n)
		switch {
		case x.kind == literalLabel && y.kind == literalLabel:
			if x.lit != y.lit {
				return Overlap{}, false
			}
		case x.kind == templateLabel && y.kind == literalLabel:
			if !pin(&pinN, y.lit, x) {
				return Overlap{}, false
			}
		case x.kind == literalLabel && y.kind == templateLabel:
			if !pin(&pinM, x.lit, y) {
				return Overlap{}, false
			}
		case x.kind == templateLabel && y.kind == templateLabel:
			// The same affixes on both sides make n == m.
			if x.lit == y.lit && x.suf == y.suf || !affixesAgree(x, y) {
				return Overlap{}, false
			}
			if !slices.Contains(eqs, equation{x, y}) {
				eqs = append(eqs, equation{x, y})
			}
		}
	}
	nsA, nsB, ok := an.solve(pinN, pinM, eqs, a, b)
	if !ok {
		return Overlap{}, false
	}
	labels := make([]string, n)
	for i := range n {
		x, y := a.at(i, n), b.at(i, n)
		switch {
		case x.kind == literalLabel || x.kind == templateLabel:
			labels[i] = x.expand(nsA)
		case y.kind == literalLabel || y.kind == templateLabel:
			labels[i] = y.expand(nsB)
		default:
			labels[i] = "x"
		}
	}
	if !b.templated {
		nsB = ""
	}
	return Overlap{Name: strings.Join(labels, "."), NamespaceA: nsA, NamespaceB: nsB}, true
}

// affixesAgree is the cheap necessary condition of an equation: both
// labels start with their prefixes and end with their suffixes, so the
// shorter of each pair must begin (end) the longer one. It spares most pairs
// of a large scope the search over namespace lengths.
func affixesAgree(x, y patternLabel) bool {
	p, q := x.lit, y.lit
	if len(p) > len(q) {
		p, q = q, p
	}
	s, t := x.suf, y.suf
	if len(s) > len(t) {
		s, t = t, s
	}
	return strings.HasPrefix(q, p) && strings.HasSuffix(t, s)
}

func (l patternLabel) expand(ns string) string {
	if l.kind == templateLabel {
		return l.lit + ns + l.suf
	}
	return l.lit
}

// pin records that the namespace of template t must make literal lit, and
// reports whether that is possible and agrees with an earlier pin.
func pin(dst *string, lit string, t patternLabel) bool {
	if len(lit) <= len(t.lit)+len(t.suf) || !strings.HasPrefix(lit, t.lit) || !strings.HasSuffix(lit, t.suf) {
		return false
	}
	ns := lit[len(t.lit) : len(lit)-len(t.suf)]
	if validateNamespace(ns) != nil || *dst != "" && *dst != ns {
		return false
	}
	*dst = ns
	return true
}

// solve finds namespaces n (for a) and m (for b), n != m, that satisfy the
// pins and equations, both valid RFC 1123 labels short enough for every
// template label of their pattern. The equations are solved character by
// character for each length of n: each character of n and m is a slot, and
// slots that must be equal, or equal to a fixed character, are joined.
func (an *analysis) solve(pinN, pinM string, eqs []equation, a, b shape) (string, string, bool) {
	if pinN != "" && len(pinN) > a.kmax || pinM != "" && len(pinM) > b.kmax {
		return "", "", false
	}
	if len(eqs) == 0 {
		// n and m are independent: any choice that differs will do.
		n, m := pinN, pinM
		if n == "" {
			n = "x"
			if n == m {
				n = "y"
			}
		}
		if !b.templated {
			return n, "", true
		}
		if m == "" {
			m = "x"
			if m == n {
				m = "y"
			}
		}
		return n, m, n != m
	}
	// Every equation fixes len(m) - len(n) by the lengths of its affixes.
	delta := len(eqs[0].a.lit) + len(eqs[0].a.suf) - len(eqs[0].b.lit) - len(eqs[0].b.suf)
	for _, e := range eqs[1:] {
		if len(e.a.lit)+len(e.a.suf)-len(e.b.lit)-len(e.b.suf) != delta {
			return "", "", false
		}
	}
	kmin, kmax := 1, a.kmax
	if pinN != "" {
		kmin, kmax = len(pinN), len(pinN)
	}
	for k := kmin; k <= kmax && an.work >= 0; k++ {
		j := k + delta
		if j < 1 || j > b.kmax || pinM != "" && j != len(pinM) {
			continue
		}
		if n, m, ok := an.solveLengths(k, j, pinN, pinM, eqs); ok {
			return n, m, true
		}
	}
	return "", "", false
}

// slots is a union-find over the characters of n (0..k-1) and m (k..k+j-1),
// each class optionally fixed to one character.
type slots struct {
	parent []int
	fixed  []byte
}

func (s *slots) find(i int) int {
	for s.parent[i] != i {
		s.parent[i] = s.parent[s.parent[i]]
		i = s.parent[i]
	}
	return i
}

func (s *slots) fix(i int, c byte) bool {
	r := s.find(i)
	if s.fixed[r] != 0 && s.fixed[r] != c {
		return false
	}
	s.fixed[r] = c
	return true
}

func (s *slots) union(i, j int) bool {
	ri, rj := s.find(i), s.find(j)
	if ri == rj {
		return true
	}
	if s.fixed[ri] != 0 && s.fixed[rj] != 0 && s.fixed[ri] != s.fixed[rj] {
		return false
	}
	if s.fixed[ri] == 0 {
		s.fixed[ri] = s.fixed[rj]
	}
	s.parent[rj] = ri
	return true
}

func (an *analysis) solveLengths(k, j int, pinN, pinM string, eqs []equation) (string, string, bool) {
	an.work -= k + j
	s := &slots{parent: make([]int, k+j), fixed: make([]byte, k+j)}
	for i := range s.parent {
		s.parent[i] = i
	}
	for i := 0; i < len(pinN); i++ {
		s.fix(i, pinN[i])
	}
	for i := 0; i < len(pinM); i++ {
		if !s.fix(k+i, pinM[i]) {
			return "", "", false
		}
	}
	// A character of an equation's label is a fixed affix character or a
	// slot of the side's namespace.
	type char struct {
		slot int // -1: fixed
		c    byte
	}
	at := func(l patternLabel, base, size, t int) char {
		switch {
		case t < len(l.lit):
			return char{-1, l.lit[t]}
		case t < len(l.lit)+size:
			return char{base + t - len(l.lit), 0}
		default:
			return char{-1, l.suf[t-len(l.lit)-size]}
		}
	}
	for _, e := range eqs {
		an.work -= len(e.a.lit) + k + len(e.a.suf)
		for t := 0; t < len(e.a.lit)+k+len(e.a.suf); t++ {
			x, y := at(e.a, 0, k, t), at(e.b, k, j, t)
			ok := true
			switch {
			case x.slot < 0 && y.slot < 0:
				ok = x.c == y.c
			case x.slot < 0:
				ok = s.fix(y.slot, x.c)
			case y.slot < 0:
				ok = s.fix(x.slot, y.c)
			default:
				ok = s.union(x.slot, y.slot)
			}
			if !ok {
				return "", "", false
			}
		}
	}
	// Fixed characters must make valid namespaces: an affix may hold "_".
	for i := range s.parent {
		c := s.fixed[s.find(i)]
		edge := i == 0 || i == k-1 || i == k || i == k+j-1
		if c != 0 && !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' && !edge) {
			return "", "", false
		}
	}
	// n != m: lengths differ, or some position's slots can take different
	// characters. Free classes get "x"; one class at the differing position
	// is set apart.
	if k == j {
		differ := -1
		for i := range k {
			rn, rm := s.find(i), s.find(k+i)
			if rn != rm && !(s.fixed[rn] != 0 && s.fixed[rn] == s.fixed[rm]) {
				differ = i
				break
			}
		}
		if differ < 0 {
			return "", "", false
		}
		rn, rm := s.find(differ), s.find(k+differ)
		switch {
		case s.fixed[rn] == 0 && s.fixed[rm] == 0:
			s.fixed[rn], s.fixed[rm] = 'x', 'y'
		case s.fixed[rn] == 0:
			s.fixed[rn] = other(s.fixed[rm])
		case s.fixed[rm] == 0:
			s.fixed[rm] = other(s.fixed[rn])
		}
	}
	out := make([]byte, k+j)
	for i := range out {
		r := s.find(i)
		if s.fixed[r] == 0 {
			s.fixed[r] = 'x'
		}
		out[i] = s.fixed[r]
	}
	return string(out[:k]), string(out[k:]), true
}

func other(c byte) byte {
	if c == 'x' {
		return 'y'
	}
	return 'x'
}
