package grant

import (
	"errors"
	"math/rand"
	"strings"
	"testing"
)

func TestCheckRefusesANameAnotherNamespacesExpansionCovers(t *testing.T) {
	nsRule := func(names ...string) Rule { return Rule{Names: names, Types: []string{"NS"}} }
	txtRule := func(names ...string) Rule { return Rule{Names: names, Types: []string{"TXT"}} }
	issue := Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.apps.example.com"), aRule("*.{namespace}.example.com"))}}
	tests := map[string]struct {
		policy Policy
		ns     string
		rec    Record
		// want is the pattern named in the refusal; "" when granted.
		want string
	}{
		"namespace apps claiming foo's base name is refused, naming foo's rule": {
			policy: issue, ns: "apps", rec: Record{Name: "foo.apps.example.com", Type: "A"},
			want: `rules[0].names[0] "{namespace}.apps.example.com"`,
		},
		"namespace foo claiming its own base name is refused too, since apps' expansion covers it": {
			policy: issue, ns: "foo", rec: Record{Name: "foo.apps.example.com", Type: "A"},
			want: `rules[1].names[0] "*.{namespace}.example.com"`,
		},
		"a name only one namespace's expansion reaches is granted under overlapping templates": {
			policy: issue, ns: "foo", rec: Record{Name: "www.foo.example.com", Type: "A"},
		},
		"the design's example grant does not overlap and grants every form": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.apps.example.com", "*.{namespace}.apps.example.com",
				"_acme-challenge.{namespace}.apps.example.com", "_acme-challenge.*.{namespace}.apps.example.com"))}},
			ns: "team-a", rec: Record{Name: "_acme-challenge.www.team-a.apps.example.com", Type: "A"},
		},
		"the engine's test policy grants a base name": {
			policy: testPolicy, ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "A"},
		},
		"a suffixed template gives namespace x-dev the dev name of namespace x": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.example.com", "{namespace}-dev.example.com"))}},
			ns:     "x-dev", rec: Record{Name: "x-dev.example.com", Type: "A"},
			want: `"{namespace}-dev.example.com"`,
		},
		"a prefix that would put an underscore in the other namespace does not meet": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("_{namespace}.example.com", "{namespace}.example.com"))}},
			ns:     "x", rec: Record{Name: "_x.example.com", Type: "A"},
		},
		"a namespace too long for the other template's label below a delegation does not meet": {
			policy: Policy{Zones: []Zone{rules("example.com", nsRule("{namespace}.example.com"), aRule("{namespace}"+strings.Repeat("b", 60)+".{namespace}-z.example.com"))}},
			ns:     "abcd-z", rec: Record{Name: "abcd-z.example.com", Type: "NS", Values: []string{"ns1.example.net"}},
		},
		"a namespace short enough for the other template's label below a delegation meets": {
			policy: Policy{Zones: []Zone{rules("example.com", nsRule("{namespace}.example.com"), aRule("{namespace}"+strings.Repeat("b", 60)+".{namespace}-z.example.com"))}},
			ns:     "abc-z", rec: Record{Name: "abc-z.example.com", Type: "NS", Values: []string{"ns1.example.net"}},
			want: "at a name below this NS delegation",
		},
		"a shared wildcard beside a template makes the tenant's base name no one's": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.apps.example.com"), aRule("*.apps.example.com"))}},
			ns:     "x", rec: Record{Name: "x.apps.example.com", Type: "A"},
			want: `"*.apps.example.com"`,
		},
		"the shared wildcard does not give another namespace a tenant's base name": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.apps.example.com"), aRule("*.apps.example.com"))}},
			ns:     "y", rec: Record{Name: "x.apps.example.com", Type: "A"},
			want: `"{namespace}.apps.example.com"`,
		},
		"names only patterns without a placeholder cover are shared on purpose": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("www.example.com", "*.example.com"), aRule("**.example.com"))}},
			ns:     "x", rec: Record{Name: "www.example.com", Type: "A"},
		},
		"rules of other types still overlap: two namespaces at one name share it": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.apps.example.com"), txtRule("*.{namespace}.example.com"))}},
			ns:     "apps", rec: Record{Name: "foo.apps.example.com", Type: "TXT"},
			want: `"{namespace}.apps.example.com"`,
		},
		"a rule that allows NS above the name gives it to the namespace that may delegate there": {
			policy: Policy{Zones: []Zone{rules("example.com", nsRule("{namespace}.example.com"), aRule("{namespace}.apps.example.com"))}},
			ns:     "x", rec: Record{Name: "x.apps.example.com", Type: "A"},
			want: `"{namespace}.example.com" for another namespace, by an NS delegation above the name`,
		},
		"an NS claimed above another namespace's names would delegate them away": {
			policy: Policy{Zones: []Zone{rules("example.com", nsRule("{namespace}.example.com"), aRule("{namespace}.apps.example.com"))}},
			ns:     "apps", rec: Record{Name: "apps.example.com", Type: "NS", Values: []string{"ns1.example.net"}},
			want: `"{namespace}.apps.example.com" for another namespace, at a name below this NS delegation`,
		},
		"without NS the same patterns do not meet": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("{namespace}.example.com"), aRule("{namespace}.apps.example.com"))}},
			ns:     "x", rec: Record{Name: "x.apps.example.com", Type: "A"},
		},
		"a deeper zone's names are judged by its own rules alone": {
			policy: Policy{Zones: []Zone{
				rules("example.com", aRule("*.{namespace}.example.com")),
				rules("apps.example.com", aRule("{namespace}.apps.example.com")),
			}},
			ns: "foo", rec: Record{Name: "foo.apps.example.com", Type: "A"},
		},
		"two double stars cross over": {
			policy: Policy{Zones: []Zone{rules("example.com", aRule("**.{namespace}.x.example.com"), aRule("{namespace}.**.example.com"))}},
			ns:     "x", rec: Record{Name: "y.x.x.example.com", Type: "A"},
			want: `"{namespace}.**.example.com"`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := mustCompile(t, tc.policy)
			_, err := c.Check(tc.ns, tc.rec)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check(%q, %s) = %v, want granted", tc.ns, tc.rec.Name, err)
				}
				return
			}
			var d *Denial
			if !errors.As(err, &d) || d.Reason != ReasonOtherExpansion {
				t.Fatalf("Check(%q, %s) = %v, want %s", tc.ns, tc.rec.Name, err, ReasonOtherExpansion)
			}
			msg := d.Error()
			for _, w := range []string{tc.want, "expansion", "another namespace"} {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q does not contain %q", msg, w)
				}
			}
		})
	}
}

// The refusal names the rule and never the other namespace: in the issue's
// example it could only be "foo", which the name spells, but a message that
// named namespaces would say which ones the scope selects.
func TestOtherExpansionRefusalDoesNotNameTheOtherNamespace(t *testing.T) {
	c := mustCompile(t, Policy{Zones: []Zone{rules("example.com", aRule("{namespace}-dev.example.com"), aRule("{namespace}.example.com"))}})
	_, err := c.Check("team-a", Record{Name: "team-a-dev.example.com", Type: "A"})
	if err == nil || strings.Contains(strings.ReplaceAll(err.Error(), "team-a-dev", ""), `"team-a-dev"`) {
		t.Fatalf("Check = %v", err)
	}
	// The only quoted namespace is the claimant's.
	if strings.Count(err.Error(), `namespace "`) != 1 || !strings.Contains(err.Error(), `namespace "team-a"`) {
		t.Fatalf("message %q names a namespace other than the claimant's", err)
	}
}

// Every overlap the scope webhook reports is refused on the claim path: its
// witness, asked by the namespace of its first side, is not granted.
func TestOverlapWitnessesAreRefusedOnTheClaimPath(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	pool := []string{"a", "b", "a-b", "*", "**", "{namespace}", "a{namespace}", "{namespace}b", "a-{namespace}", "{namespace}-b"}
	random := func() string {
		var ls []string
		glob := false
		for n := 1 + rng.Intn(3); len(ls) < n; {
			l := pool[rng.Intn(len(pool))]
			if l == "**" && glob {
				continue
			}
			glob = glob || l == "**"
			ls = append(ls, l)
		}
		return strings.Join(ls, ".") + ".example.com"
	}
	checked := 0
	for range 1500 {
		c, err := Compile(Policy{Zones: []Zone{rules("example.com", aRule(random()), aRule(random()))}})
		if err != nil {
			continue
		}
		all, _ := c.Overlaps(0)
		for _, o := range all {
			_, err := c.Check(o.NamespaceA, Record{Name: o.Name, Type: "A"})
			var d *Denial
			if !errors.As(err, &d) || d.Reason != ReasonOtherExpansion {
				t.Fatalf("%v: Check(%q, %q) = %v, want %s", o, o.NamespaceA, o.Name, err, ReasonOtherExpansion)
			}
			checked++
		}
	}
	if checked < 100 {
		t.Fatalf("only %d witnesses checked: the generator no longer exercises the analysis", checked)
	}
}

// The property, both ways: over random pairs of patterns and names built
// from them, Check refuses a name as another namespace's exactly when a
// brute force finds patterns p (for the claimant) and q (for some other
// namespace), not both without a placeholder, that match it. A namespace
// that a template spells is a part of one of the name's labels, so trying
// every part of every label is trying every namespace that matters.
func TestOtherExpansionAgreesWithBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(23))
	pool := []string{"a", "b", "a-b", "ab", "*", "**", "{namespace}", "a{namespace}", "{namespace}b", "a-{namespace}", "{namespace}-b"}
	nss := []string{"a", "b", "ab", "a-b", "b-a", "x"}
	random := func() string {
		var ls []string
		glob := false
		for n := 1 + rng.Intn(3); len(ls) < n; {
			l := pool[rng.Intn(len(pool))]
			if l == "**" && glob {
				continue
			}
			glob = glob || l == "**"
			ls = append(ls, l)
		}
		return strings.Join(ls, ".")
	}
	refused, granted := 0, 0
	for range 3000 {
		p, q := random(), random()
		c, err := Compile(Policy{Zones: []Zone{rules("example.com", aRule(p+".example.com"), aRule(q+".example.com"))}})
		if err != nil {
			continue
		}
		pats := []*pattern{c.zones[0].rules[0].patterns[0], c.zones[0].rules[1].patterns[0]}
		for range 4 {
			ns := nss[rng.Intn(len(nss))]
			src := []string{p, q}[rng.Intn(2)]
			src = strings.ReplaceAll(src, "**", []string{"a", "b.a", "a-b"}[rng.Intn(3)])
			src = strings.ReplaceAll(src, "*", []string{"a", "b", "ab"}[rng.Intn(3)])
			name := strings.ReplaceAll(src, Placeholder, ns)
			rel := strings.Split(name, ".")
			if _, err := NormalizeName(name + ".example.com"); err != nil {
				continue
			}
			mine := pats[0].match(rel, ns) || pats[1].match(rel, ns)
			if !mine {
				continue
			}
			want := false
			for _, x := range pats {
				for _, y := range pats {
					if !x.match(rel, ns) || !x.templated && !y.templated {
						continue
					}
					for _, m := range labelParts(rel) {
						if m != ns && validateNamespace(m) == nil && y.match(rel, m) {
							want = true
						}
					}
				}
			}
			_, err := c.Check(ns, Record{Name: name + ".example.com", Type: "A"})
			var d *Denial
			got := errors.As(err, &d) && d.Reason == ReasonOtherExpansion
			if err != nil && !got {
				t.Fatalf("%q, %q: Check(%q, %q) = %v", p, q, ns, name, err)
			}
			if got != want {
				t.Fatalf("patterns %q and %q, namespace %q, name %q: refused as another's = %v, brute force says %v (%v)", p, q, ns, name, got, want, err)
			}
			if got {
				refused++
			} else {
				granted++
			}
		}
	}
	t.Logf("refused %d, granted %d", refused, granted)
	if refused < 100 || granted < 100 {
		t.Fatalf("only %d refused and %d granted: the generator no longer exercises both sides", refused, granted)
	}
}

// labelParts lists every substring of every label, plus "x" for a pattern
// without a placeholder, which matches for any namespace.
func labelParts(labels []string) []string {
	out := []string{"x", "zz"}
	for _, l := range labels {
		for i := range len(l) {
			for j := i + 1; j <= len(l); j++ {
				out = append(out, l[i:j])
			}
		}
	}
	return out
}
