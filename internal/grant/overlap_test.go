package grant

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

func rules(zone string, rs ...Rule) Zone { return Zone{Name: zone, Rules: rs} }

func aRule(names ...string) Rule { return Rule{Names: names, Types: []string{"A"}} }

func TestOverlaps(t *testing.T) {
	tests := map[string]struct {
		policy Policy
		// want lists "A-pattern | B-pattern" of every overlap, in order.
		want []string
		// witness is the first overlap's name and namespaces, when checked.
		witness *Overlap
	}{
		"a namespace named apps is granted every tenant's base name": {
			policy:  Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.apps.example.com"), aRule("*.{namespace}.example.com"))}},
			want:    []string{"{namespace}.apps.example.com | *.{namespace}.example.com"},
			witness: &Overlap{Name: "x.apps.example.com", NamespaceA: "x", NamespaceB: "apps"},
		},
		"the design's example grant does not overlap": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.apps.example.com", "*.{namespace}.apps.example.com",
				"_acme-challenge.{namespace}.apps.example.com", "_acme-challenge.*.{namespace}.apps.example.com"))}},
		},
		"the engine's test policy does not overlap": {policy: testPolicy},
		"a suffix after the placeholder meets the bare placeholder": {
			policy:  Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.example.com", "{namespace}-dev.example.com"))}},
			want:    []string{"{namespace}.example.com | {namespace}-dev.example.com"},
			witness: &Overlap{Name: "x-dev.example.com", NamespaceA: "x-dev", NamespaceB: "x"},
		},
		"a prefix and a suffix meet where the namespaces shift": {
			policy:  Policy{Zones: []Zone{rules("example.com", aRule("{namespace}-a.example.com", "a-{namespace}.example.com"))}},
			want:    []string{"{namespace}-a.example.com | a-{namespace}.example.com"},
			witness: &Overlap{Name: "a-x-a.example.com", NamespaceA: "a-x", NamespaceB: "x-a"},
		},
		"different fixed prefixes never meet": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("a{namespace}.example.com", "b{namespace}.example.com"))}},
		},
		"a prefix that would put an underscore in a namespace never meets": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("_{namespace}.example.com", "{namespace}.example.com"))}},
		},
		"a prefix that would end a namespace with a hyphen never meets": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("a-{namespace}.example.com", "a{namespace}.example.com"))}},
		},
		"two double stars cross over": {
			policy:  Policy{Zones: []Zone{rules("example.com", aRule("**.{namespace}.x.example.com"), aRule("{namespace}.**.example.com"))}},
			want:    []string{"**.{namespace}.x.example.com | {namespace}.**.example.com"},
			witness: &Overlap{Name: "y.x.x.example.com", NamespaceA: "x", NamespaceB: "y"},
		},
		"a double star in front of the placeholder does not meet itself": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("**.{namespace}.example.com", "{namespace}.**.example.com"))}},
			want:   []string{"**.{namespace}.example.com | {namespace}.**.example.com"},
		},
		"a shared wildcard covers every tenant's names": {
			policy:  Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.apps.example.com"), aRule("*.apps.example.com"))}},
			want:    []string{"{namespace}.apps.example.com | *.apps.example.com"},
			witness: &Overlap{Name: "x.apps.example.com", NamespaceA: "x"},
		},
		"a literal name is some namespace's templated name": {
			policy:  Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.example.com", "www.example.com"))}},
			want:    []string{"{namespace}.example.com | www.example.com"},
			witness: &Overlap{Name: "www.example.com", NamespaceA: "www"},
		},
		"patterns without a placeholder are shared on purpose and not reported": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("www.example.com", "*.example.com", "**.example.com"))}},
		},
		"patterns of different zones never meet": {
			policy: Policy{Zones: []Zone{
				rules("example.com", aRule("*.*.example.com")),
				rules("sub.example.com", aRule("{namespace}.sub.example.com")),
			}},
		},
		"a delegation takes the names below it": {
			policy: Policy{Zones: []Zone{rules("example.com",
				Rule{Names: []string{"{namespace}.example.com"}, Types: []string{"NS"}},
				aRule("{namespace}.apps.example.com"))}},
			want:    []string{"{namespace}.example.com | {namespace}.apps.example.com"},
			witness: &Overlap{Name: "x.apps.example.com", NamespaceA: "apps", NamespaceB: "x", DelegationA: "apps.example.com"},
		},
		"without NS the same patterns do not meet": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.example.com"), aRule("{namespace}.apps.example.com"))}},
		},
		"a namespace too long for the label never meets": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule(
				strings.Repeat("a", 61)+"{namespace}.example.com", "{namespace}"+strings.Repeat("a", 61)+".example.com"))}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := mustCompile(t, tc.policy)
			got, _ := c.Overlaps(0)
			var pairs []string
			for _, o := range got {
				pairs = append(pairs, o.A.Pattern+" | "+o.B.Pattern)
				checkWitness(t, c, o)
			}
			if fmt.Sprint(pairs) != fmt.Sprint(tc.want) {
				t.Fatalf("Overlaps =\n %q\nwant\n %q", pairs, tc.want)
			}
			if w := tc.witness; w != nil {
				o := got[0]
				if o.Name != w.Name || o.NamespaceA != w.NamespaceA || o.NamespaceB != w.NamespaceB || o.DelegationA != w.DelegationA || o.DelegationB != w.DelegationB {
					t.Errorf("witness = %+v, want %+v", o, *w)
				}
			}
		})
	}
}

func TestOverlapMessageNamesFieldsAndNamespaces(t *testing.T) {
	c := mustCompile(t, Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.apps.example.com"), aRule("*.{namespace}.example.com"))}})
	all, _ := c.Overlaps(0)
	got := all[0].String()
	for _, want := range []string{"spec.zones[0].rules[0].names[0]", "spec.zones[0].rules[1].names[0]", `"x.apps.example.com"`, `namespace "apps"`, `namespace "x"`} {
		if !strings.Contains(got, want) {
			t.Errorf("message %q does not mention %s", got, want)
		}
	}
}

func TestOverlapsStopsAtTheLimit(t *testing.T) {
	c := mustCompile(t, Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.example.com", "{namespace}-a.example.com", "{namespace}-b.example.com", "*.example.com"))}})
	all, _ := c.Overlaps(0)
	if two, _ := c.Overlaps(2); len(all) <= 2 || len(two) != 2 {
		t.Fatalf("Overlaps(0) = %d, Overlaps(2) = %d", len(all), len(two))
	}
}

// checkWitness verifies an overlap with the matcher itself: the name is
// granted by A to NamespaceA and by B to NamespaceB (any namespace when B
// has no placeholder), through the delegation when one is named.
func checkWitness(t *testing.T, c *Compiled, o Overlap) {
	t.Helper()
	if err := validateNamespace(o.NamespaceA); err != nil {
		t.Fatalf("%v: %v", o, err)
	}
	pa, pb := c.patternAt(o.A), c.patternAt(o.B)
	if pb.templated {
		if err := validateNamespace(o.NamespaceB); err != nil || o.NamespaceB == o.NamespaceA {
			t.Fatalf("%v: namespace B %q: %v", o, o.NamespaceB, err)
		}
	}
	granted := func(p *pattern, name, delegation, ns string) bool {
		if delegation != "" {
			if !below(name, delegation) {
				return false
			}
			name = delegation
		}
		zi, rel := c.zoneOf(name)
		return zi == o.A.Zone && p.match(splitLabels(nil, rel), ns)
	}
	if !granted(pa, o.Name, o.DelegationA, o.NamespaceA) || !granted(pb, o.Name, o.DelegationB, o.NamespaceB) {
		t.Fatalf("witness does not hold: %v", o)
	}
}

func (c *Compiled) patternAt(r PatternRef) *pattern {
	for _, p := range c.zones[r.Zone].rules[r.Rule].patterns {
		if p.index == r.Name {
			return p
		}
	}
	panic(fmt.Sprintf("no pattern %+v", r))
}

// The property: over random patterns built from a small alphabet, so that
// labels and namespaces collide often, every overlap a brute force finds
// among small namespaces is reported (soundness), and every reported
// overlap holds (its witness matches).
func TestOverlapsAgreeWithBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	universe := smallNamespaces(3)
	pool := []string{"a", "b", "a-b", "ab", "*", "**", "{namespace}", "a{namespace}", "{namespace}b", "a-{namespace}", "{namespace}-b", "{namespace}-a-b", "b-a{namespace}"}
	random := func() string {
		n := 1 + rng.Intn(3)
		var ls []string
		glob := false
		for len(ls) < n {
			l := pool[rng.Intn(len(pool))]
			if l == "**" && glob {
				continue
			}
			glob = glob || l == "**"
			ls = append(ls, l)
		}
		return strings.Join(ls, ".") + ".example.com"
	}
	found := 0
	for range 1500 {
		p, q := random(), random()
		c, err := Compile(Policy{Zones: []Zone{rules("example.com", aRule(p), aRule(q))}})
		if err != nil {
			continue
		}
		got := map[[2]int]bool{}
		all, _ := c.Overlaps(0)
		for _, o := range all {
			checkWitness(t, c, o)
			got[[2]int{o.A.Rule, o.B.Rule}], got[[2]int{o.B.Rule, o.A.Rule}] = true, true
		}
		pats := []*pattern{c.zones[0].rules[0].patterns[0], c.zones[0].rules[1].patterns[0]}
		for i := range 2 {
			for j := i; j < 2; j++ {
				if !pats[i].templated && !pats[j].templated {
					continue
				}
				if name, n, m, ok := bruteMeet(pats[i], pats[j], universe); ok {
					found++
					if !got[[2]int{i, j}] {
						t.Errorf("%q and %q meet at %q for namespaces %q and %q, but Overlaps says nothing", pats[i].src, pats[j].src, name, n, m)
					}
				}
			}
		}
	}
	if found < 100 {
		t.Fatalf("only %d meets found: the generator no longer exercises the analysis", found)
	}
}

// bruteMeet tries every pair of namespaces of the universe and every name
// length: where either pattern fixes a label the name must carry it, and
// where both take any label "x" will do, so for each (n, m, length) there is
// one name to test.
func bruteMeet(a, b *pattern, universe []string) (string, string, string, bool) {
	for _, n := range universe {
		for _, m := range universe {
			if n == m {
				continue
			}
			for l := 1; l <= len(a.rel)+len(b.rel)+1; l++ {
				sa, sb := shapeOf(a), shapeOf(b)
				if l < len(a.rel) || a.glob < 0 && l != len(a.rel) || l < len(b.rel) || b.glob < 0 && l != len(b.rel) {
					continue
				}
				name := make([]string, l)
				for i := range l {
					x, y := sa.at(i, l), sb.at(i, l)
					switch {
					case x.kind == literalLabel || x.kind == templateLabel:
						name[i] = x.expand(n)
					case y.kind == literalLabel || y.kind == templateLabel:
						name[i] = y.expand(m)
					default:
						name[i] = "x"
					}
				}
				if a.match(name, n) && b.match(name, m) {
					return strings.Join(name, "."), n, m, true
				}
			}
		}
	}
	return "", "", "", false
}

// smallNamespaces lists every RFC 1123 label over {a, b, -} up to max octets.
func smallNamespaces(max int) []string {
	var out []string
	var gen func(prefix string)
	gen = func(prefix string) {
		if prefix != "" && validateNamespace(prefix) == nil {
			out = append(out, prefix)
		}
		if len(prefix) == max {
			return
		}
		for _, c := range "ab-" {
			gen(prefix + string(c))
		}
	}
	gen("")
	return out
}

func FuzzOverlaps(f *testing.F) {
	f.Add("{namespace}.apps.example.com", "*.{namespace}.example.com")
	f.Add("**.{namespace}.x.example.com", "{namespace}.**.example.com")
	f.Add("{namespace}-a.example.com", "a-{namespace}.example.com")
	f.Fuzz(func(t *testing.T, p, q string) {
		// Long patterns only spend the work budget; short ones find bugs.
		if len(p) > 80 || len(q) > 80 {
			return
		}
		c, err := Compile(Policy{Zones: []Zone{rules("example.com", aRule(p), Rule{Names: []string{q}, Types: []string{"NS"}})}})
		if err != nil {
			return
		}
		all, _ := c.Overlaps(0)
		for _, o := range all {
			checkWitness(t, c, o)
		}
	})
}

func TestOverlapsSaysWhenItGaveUp(t *testing.T) {
	defer func(n int) { overlapWork = n }(overlapWork)
	c := mustCompile(t, Policy{Zones: []Zone{rules("example.com", aRule("{namespace}-a.example.com", "{namespace}-b.example.com", "{namespace}-c.example.com", "{namespace}-d.example.com", "{namespace}-e.example.com"))}})
	overlapWork = 10
	if _, complete := c.Overlaps(0); complete {
		t.Fatal("15 pairs were examined with a work budget of 10")
	}
	overlapWork = 1000
	if _, complete := c.Overlaps(0); !complete {
		t.Fatal("15 pairs were not examined with a work budget of 1000")
	}
}

// A zone at the schema's limits: 50 rules of 64 templated names.
func BenchmarkOverlapsLargeZone(b *testing.B) {
	var rs []Rule
	for i := range 50 {
		var names []string
		for j := range 64 {
			names = append(names, fmt.Sprintf("{namespace}-r%dn%d.apps.example.com", i, j))
		}
		rs = append(rs, aRule(names...))
	}
	c := mustCompile(b, Policy{Zones: []Zone{{Name: "example.com", Rules: rs}}})
	b.ResetTimer()
	for range b.N {
		c.Overlaps(20)
	}
}
