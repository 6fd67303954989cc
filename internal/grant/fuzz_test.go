package grant

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// seedLimit keeps giant hostile inputs out of the fuzz corpus; the tables
// still test them.
const seedLimit = 4096

func FuzzNormalizeName(f *testing.F) {
	for _, tc := range hostileNames {
		if len(tc.in) <= seedLimit {
			f.Add(tc.in)
		}
	}
	for _, s := range []string{"xn--bcher-kva.example", "_acme-challenge.*.example.com", "*.example.com.", "a-b--c.example", "\u0645\u062b\u0627\u0644.\u0645\u062b\u0627\u0644", "l\u00b7l.cat", "\u05d0\u05f3.il"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeName(in)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FieldError", err)
			}
			return
		}
		checkNormalForm(t, out)
		again, err := NormalizeName(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}

// checkNormalForm states what every normalised name looks like, written
// independently of the normaliser.
func checkNormalForm(t *testing.T, out string) {
	t.Helper()
	if len(out) == 0 || len(out) > MaxNameLength {
		t.Fatalf("%q: length %d", out, len(out))
	}
	for i, l := range strings.Split(out, ".") {
		if len(l) == 0 || len(l) > MaxLabelLength {
			t.Fatalf("%q: label %q has length %d", out, l, len(l))
		}
		if l == "*" {
			if i != 0 {
				t.Fatalf("%q: wildcard label at %d", out, i)
			}
			continue
		}
		if !normalLabel.MatchString(l) {
			t.Fatalf("%q: label %q is not lower-case LDH", out, l)
		}
	}
}

var (
	normalLabel    = regexp.MustCompile(`^_?[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	validNamespace = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// patternRegexp translates a normalised pattern into a regular expression,
// a second implementation of the matching rules to hold Check to.
func patternRegexp(pattern, ns string) *regexp.Regexp {
	labels := strings.Split(pattern, ".")
	for i, l := range labels {
		switch l {
		case "*":
			labels[i] = `[^.]+`
		case "**":
			labels[i] = `[^.]+(?:\.[^.]+)*`
		default:
			labels[i] = strings.ReplaceAll(regexp.QuoteMeta(l), regexp.QuoteMeta(Placeholder), regexp.QuoteMeta(ns))
		}
	}
	return regexp.MustCompile(`^` + strings.Join(labels, `\.`) + `$`)
}

func inside(name, zone string) bool {
	return name == zone || strings.HasSuffix(name, "."+zone)
}

func FuzzMatch(f *testing.F) {
	for _, tc := range hostileChecks {
		f.Add("**.{namespace}.apps.example.com", "example.com", tc.ns, tc.rec.Name)
	}
	for _, z := range testPolicy.Zones {
		for _, r := range z.Rules {
			for _, n := range r.Names {
				f.Add(n, z.Name, "team-a", strings.ReplaceAll(strings.ReplaceAll(n, "**", "a.b"), Placeholder, "team-a"))
			}
		}
	}
	f.Add("_acme-challenge.*.{namespace}.example.com", "example.com", "a", "_acme-challenge.*.a.example.com")
	f.Add("x-{namespace}-y.**.example.com", "EXAMPLE.com.", "n--a", "x-n--a-y.*.example.com")
	f.Add("{namespace}.example.com", "example.com", "ns", "ns.example.com.evil.net")
	f.Add("*.example.com", "example.com", "ns", "*.example.com")
	f.Add("b\u00fccher.example.com", "example.com", "ns", "xn--bcher-kva.example.com")

	policy := mustCompile(f, testPolicy)
	f.Fuzz(func(t *testing.T, pattern, zone, ns, name string) {
		// Against the fixed policy: whatever is granted lies in the deepest
		// zone that holds it and matches the pattern Check reports.
		if m, err := policy.Check(ns, Record{Name: name, Type: "A"}); err == nil {
			checkGranted(t, policy, m, ns, name)
			if !patternRegexp(m.Pattern, ns).MatchString(m.Name) {
				t.Fatalf("%q granted by pattern %q that does not match it", m.Name, m.Pattern)
			}
		} else {
			var d *Denial
			if !errors.As(err, &d) {
				t.Fatalf("error %T is not a *Denial", err)
			}
			_ = d.Error()
		}

		// Against a fuzzed one-pattern policy: Check and the regular
		// expression must agree both ways.
		c, err := Compile(onePattern(zone, pattern))
		if err != nil {
			return
		}
		p := c.zones[0].rules[0].patterns[0]
		m, err := c.Check(ns, Record{Name: name, Type: "A"})
		norm, nerr := NormalizeName(name)
		want := nerr == nil && validNamespace.MatchString(ns) && patternRegexp(p.src, ns).MatchString(norm)
		if (err == nil) != want {
			t.Fatalf("pattern %q zone %q ns %q name %q (%q): Check error %v, reference says granted=%v", pattern, zone, ns, name, norm, err, want)
		}
		if err == nil {
			checkGranted(t, c, m, ns, name)
		}
	})
}

func checkGranted(t *testing.T, c *Compiled, m Match, ns, name string) {
	t.Helper()
	if !validNamespace.MatchString(ns) {
		t.Fatalf("granted %q to invalid namespace %q", name, ns)
	}
	norm, err := NormalizeName(name)
	if err != nil || norm != m.Name {
		t.Fatalf("granted %q as %q, but it normalises to %q, %v", name, m.Name, norm, err)
	}
	if !inside(m.Name, m.Zone) {
		t.Fatalf("granted %q outside its zone %q", m.Name, m.Zone)
	}
	for _, z := range c.Zones() {
		if len(z) > len(m.Zone) && inside(m.Name, z) {
			t.Fatalf("granted %q in zone %q though the deeper zone %q holds it", m.Name, m.Zone, z)
		}
	}
	checkNormalForm(t, m.Name)
}

func FuzzCompile(f *testing.F) {
	for _, tc := range hostilePolicies {
		for _, z := range tc.policy.Zones {
			for _, r := range z.Rules {
				for _, n := range r.Names {
					t := "A"
					if len(r.Types) > 0 {
						t = r.Types[0]
					}
					if len(n) <= seedLimit {
						f.Add(z.Name, n, "**.example.com", t, r.MaxTTL, "team-a", "a.example.com")
					}
				}
			}
		}
	}
	f.Add("example.com", "{namespace}.apps.example.com", "*.{namespace}.apps.example.com", "TXT", int32(3600), "team-a", "x.team-a.apps.example.com")
	f.Fuzz(func(t *testing.T, zone, n1, n2, typ string, maxTTL int32, ns, name string) {
		p := Policy{Zones: []Zone{
			{Name: zone, Rules: []Rule{{Names: []string{n1, n2}, Types: []string{typ, "A"}, MaxTTL: maxTTL}}},
			{Name: "nested." + zone, Rules: []Rule{{Names: []string{n2}, Types: []string{"TXT"}}}},
		}}
		c, err := Compile(p)
		if err != nil {
			var fes FieldErrors
			if !errors.As(err, &fes) || len(fes) == 0 {
				t.Fatalf("error %T is not FieldErrors: %v", err, err)
			}
			for _, fe := range fes {
				if !strings.HasPrefix(fe.Field, "spec.zones") {
					t.Fatalf("field %q is not a spec path", fe.Field)
				}
			}
			return
		}
		_ = c.Warnings()
		for _, typ := range []string{typ, "A", "TXT"} {
			if m, err := c.Check(ns, Record{Name: name, Type: typ, TTL: maxTTL}); err == nil {
				checkGranted(t, c, m, ns, name)
			} else {
				_ = err.Error()
			}
		}
		// The compiled form compiles to itself.
		var again Policy
		for _, z := range c.zones {
			cz := Zone{Name: z.name}
			for _, r := range z.rules {
				cr := Rule{Types: r.types.names(), MaxTTL: r.maxTTL}
				for _, p := range r.patterns {
					cr.Names = append(cr.Names, p.src)
				}
				cz.Rules = append(cz.Rules, cr)
			}
			again.Zones = append(again.Zones, cz)
		}
		c2, err := Compile(again)
		if err != nil {
			t.Fatalf("normalised policy does not compile: %v", err)
		}
		if c2.Zones()[0] != c.Zones()[0] || len(c2.Warnings()) != len(c.Warnings()) {
			t.Fatalf("normalised policy compiles differently")
		}
	})
}

func FuzzValidateValues(f *testing.F) {
	for _, s := range []string{"203.0.113.1", "2001:db8::1", "lb.example.net.", `"a" "b"`, "10 mx.example.net", "0 .", "1 2 3 sip.example.net", `0 issue "ca.example; a=b"`, `0 iodef "mailto:a@b"`, "\"\\", "\x00"} {
		for _, typ := range supportedTypes {
			f.Add(typ, s)
		}
	}
	f.Fuzz(func(t *testing.T, typ, v string) {
		err := ValidateValues(typ, []string{v})
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T holds no *FieldError", err)
			}
			return
		}
		if (typ == "CNAME" || typ == "NS") && !func() bool { _, err := normalize(v, kindHost); return err == nil }() {
			t.Fatalf("%s value %q accepted but is not a host name", typ, v)
		}
		if strings.ContainsAny(v, "\x00\n\r") {
			t.Fatalf("%s value %q accepted with a control character", typ, v)
		}
	})
}
