package grant

import (
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestCheckGrants(t *testing.T) {
	c := mustCompile(t, testPolicy)
	tests := map[string]struct {
		ns   string
		rec  Record
		want Match
	}{
		"grants the namespace's own name": {
			ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "A", TTL: 300, Values: []string{"203.0.113.10"}},
			want: Match{Zone: "example.com", RuleIndex: 0, Name: "team-a.apps.example.com", Pattern: "team-a.apps.example.com", MaxTTL: 3600},
		},
		"grants a reservation without values": {
			ns: "team-a", rec: Record{Name: "_acme-challenge.web.team-a.apps.example.com", Type: "TXT"},
			want: Match{Zone: "example.com", RuleIndex: 0, Name: "_acme-challenge.web.team-a.apps.example.com", Pattern: "_acme-challenge.*.team-a.apps.example.com", MaxTTL: 3600},
		},
		"grants by the first rule that allows the type": {
			ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "CAA", Values: []string{`0 issue "letsencrypt.org"`}},
			want: Match{Zone: "example.com", RuleIndex: 5, Name: "team-a.apps.example.com", Pattern: "team-a.apps.example.com"},
		},
		"grants a template inside a label": {
			ns: "team-a", rec: Record{Name: "api-team-a.example.com", Type: "CNAME", TTL: 300, Values: []string{"lb.example.net."}},
			want: Match{Zone: "example.com", RuleIndex: 2, Name: "api-team-a.example.com", Pattern: "api-team-a.example.com", MaxTTL: 300},
		},
		"grants a TTL of zero as unset under a maxTTL": {
			ns: "team-a", rec: Record{Name: "api-team-a.example.com", Type: "CNAME"},
			want: Match{Zone: "example.com", RuleIndex: 2, Name: "api-team-a.example.com", Pattern: "api-team-a.example.com", MaxTTL: 300},
		},
		"grants any TTL where the rule has no limit": {
			ns: "team-a", rec: Record{Name: "x.team-a.dev.example.com", Type: "TXT", TTL: 86400},
			want: Match{Zone: "example.com", RuleIndex: 1, Name: "x.team-a.dev.example.com", Pattern: "**.team-a.dev.example.com"},
		},
		"grants a delegation below the zone apex": {
			ns: "team-a", rec: Record{Name: "team-a.delegated.example.com", Type: "NS", Values: []string{"ns1.example.net", "ns2.example.net"}},
			want: Match{Zone: "example.com", RuleIndex: 6, Name: "team-a.delegated.example.com", Pattern: "team-a.delegated.example.com"},
		},
		"grants a name in the deepest zone": {
			ns: "team-a", rec: Record{Name: "team-a.internal.example.com", Type: "A"},
			want: Match{Zone: "internal.example.com", ZoneIndex: 1, Name: "team-a.internal.example.com", Pattern: "team-a.internal.example.com"},
		},
		"marks a match of a zone-wide rule as broad": {
			ns: "team-a", rec: Record{Name: "_dmarc.example.org", Type: "TXT", Values: []string{"v=DMARC1; p=none"}},
			want: Match{Zone: "example.org", ZoneIndex: 3, Name: "_dmarc.example.org", Pattern: "**.example.org", Broad: true},
		},
		"grants a wildcard record under a double star": {
			ns: "team-a", rec: Record{Name: "*.x.team-a.dev.example.com", Type: "A"},
			want: Match{Zone: "example.com", RuleIndex: 1, Name: "*.x.team-a.dev.example.com", Pattern: "**.team-a.dev.example.com"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := c.Check(tc.ns, tc.rec)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got != tc.want {
				t.Fatalf("Check =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestDenialMessages(t *testing.T) {
	c := mustCompile(t, testPolicy)
	tests := map[string]struct {
		ns      string
		rec     Record
		mention []string
	}{
		"names the record, the zones and why when the name is outside every zone": {
			ns: "team-a", rec: Record{Name: "example.com.evil.net", Type: "A"},
			mention: []string{`"example.com.evil.net"`, `"team-a"`, "outside every zone", "example.com, internal.example.com, xn--bcher-kva.example, example.org"},
		},
		"shows the patterns with the namespace expanded when no rule matches": {
			ns: "team-a", rec: Record{Name: "web.team-b.apps.example.com", Type: "A"},
			mention: []string{"matches no rule pattern", `zone "example.com"`, "rules[0] (names team-a.apps.example.com, *.team-a.apps.example.com", "types A, AAAA, CNAME, TXT, maxTTL 3600", "rules[2] (names api-team-a.example.com"},
		},
		"lists only the rules that match the name when the type is not allowed": {
			ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "SRV"},
			mention: []string{"type SRV is not allowed", "rules[0]", "rules[5]"},
		},
		"says which maxTTL was exceeded": {
			ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "A", TTL: 7200},
			mention: []string{"ttl 7200", "maxTTL 3600"},
		},
		"passes on the value error with its field": {
			ns: "team-a", rec: Record{Name: "team-a.apps.example.com", Type: "A", Values: []string{"203.0.113.1", "::1"}},
			mention: []string{"values[1]", `"::1"`, "IPv4"},
		},
		"quotes a hostile namespace instead of printing it raw": {
			ns: "evil\nnamespace", rec: Record{Name: "a.example.com", Type: "A"},
			mention: []string{`"evil\nnamespace"`, "RFC 1123"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := c.Check(tc.ns, tc.rec)
			if err == nil {
				t.Fatal("Check granted the record")
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("denial does not mention %q:\n%v", m, err)
				}
			}
			if strings.ContainsAny(err.Error(), "\n\x00") {
				t.Errorf("denial holds raw control characters: %q", err)
			}
		})
	}
}

func TestDenialOfAHugePolicyStaysShort(t *testing.T) {
	var rules []Rule
	for i := 0; i < 50; i++ {
		var names []string
		for j := 0; j < 50; j++ {
			names = append(names, strings.Repeat("n", 40)+"-"+string(rune('a'+i%26))+string(rune('a'+j%26))+"-"+string(rune('a'+i/26))+string(rune('a'+j/26))+".example.com")
		}
		rules = append(rules, Rule{Names: names, Types: []string{"A"}})
	}
	c := mustCompile(t, Policy{Zones: []Zone{{Name: "example.com", Rules: rules}}})
	_, err := c.Check("team-a", Record{Name: "x.example.com", Type: "A"})
	if err == nil {
		t.Fatal("Check granted the record")
	}
	if n := len(err.Error()); n > 8*1024 {
		t.Fatalf("denial is %d bytes", n)
	}
	if !strings.Contains(err.Error(), "and 42 more") {
		t.Fatalf("denial does not say how much it left out: %v", err)
	}
}

func TestCompileWarnsAboutZoneWideRules(t *testing.T) {
	c := mustCompile(t, Policy{Zones: []Zone{{Name: "example.com", Rules: []Rule{
		{Names: []string{"**.example.com", "{namespace}.example.com", "_acme-challenge.*.example.com", "*.{namespace}.example.com"}, Types: []string{"TXT"}},
	}}}})
	want := []string{
		`spec.zones[0].rules[0].names[0]: "**.example.com" grants names across the whole zone "example.com" to every selected namespace`,
		`spec.zones[0].rules[0].names[2]: "_acme-challenge.*.example.com" grants names across the whole zone "example.com" to every selected namespace`,
	}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Warnings =\n %q\nwant\n %q", got, want)
	}
}

func TestCompileReportsEveryError(t *testing.T) {
	_, err := Compile(Policy{Zones: []Zone{
		{Name: "example.com", Rules: []Rule{{Names: []string{"a**.example.com", "b.example.org"}, Types: []string{"A", "SPF"}, MaxTTL: -1}}},
		{Name: "exa mple.org"},
	}})
	var fes FieldErrors
	if !errors.As(err, &fes) {
		t.Fatalf("error %T is not FieldErrors: %v", err, err)
	}
	var fields []string
	for _, fe := range fes {
		fields = append(fields, fe.Field)
	}
	want := []string{
		"spec.zones[1].name",
		"spec.zones[0].rules[0].maxTTL",
		"spec.zones[0].rules[0].types[1]",
		"spec.zones[0].rules[0].names[0]",
		"spec.zones[0].rules[0].names[1]",
		"spec.zones[1].rules",
	}
	if !reflect.DeepEqual(fields, want) {
		t.Fatalf("fields %q, want %q", fields, want)
	}
}

func TestCompiledAccessors(t *testing.T) {
	c := mustCompile(t, testPolicy)
	if got, want := c.Zones(), []string{"example.com", "internal.example.com", "xn--bcher-kva.example", "example.org"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Zones = %q, want %q", got, want)
	}
	tests := map[string]struct {
		name, zone string
	}{
		"finds the zone of a name":               {"a.b.example.com", "example.com"},
		"finds the zone apex itself":             {"example.com", "example.com"},
		"prefers the deepest zone":               {"a.internal.example.com", "internal.example.com"},
		"finds no zone for a string-suffix name": {"notexample.com", ""},
		"finds no zone for a parent":             {"com", ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := c.ZoneOf(tc.name)
			if got != tc.zone || ok != (tc.zone != "") {
				t.Fatalf("ZoneOf(%q) = %q, %v; want %q", tc.name, got, ok, tc.zone)
			}
		})
	}
}

func TestFieldErrorUnder(t *testing.T) {
	_, err := NormalizeName("a..b")
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("not a FieldError: %v", err)
	}
	if got := fe.Under("spec.records[3].name").Error(); !strings.HasPrefix(got, `spec.records[3].name: "a..b": `) {
		t.Fatalf("Under: %s", got)
	}
	verr := ValidateValues("A", []string{"x"})
	var fes FieldErrors
	if !errors.As(verr, &fes) {
		t.Fatalf("not FieldErrors: %v", verr)
	}
	if got := fes.Under("spec.records[0]")[0].Field; got != "spec.records[0].values[0]" {
		t.Fatalf("Under: %s", got)
	}
}

func TestCheckIsSafeForConcurrentUse(t *testing.T) {
	c := mustCompile(t, testPolicy)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Go(func() {
			for name, tc := range hostileChecks {
				m, err := c.Check(tc.ns, tc.rec)
				if (err == nil) != (tc.reason == "") || (err == nil && m.Name != tc.want) {
					t.Errorf("%s: %+v, %v", name, m, err)
				}
				_ = c.Warnings()
			}
		})
	}
	wg.Wait()
}

func TestExpandListsEveryRuleForTheNamespace(t *testing.T) {
	c := mustCompile(t, testPolicy)
	rules := c.Expand("team-a")
	if got, want := len(rules), 10; got != want {
		t.Fatalf("Expand gave %d rules, want %d (every rule of every zone)", got, want)
	}
	first := rules[0]
	if first.Zone != "example.com" || first.Index != 0 || first.MaxTTL != 3600 {
		t.Errorf("first rule = %+v, want zone example.com, rules[0], maxTTL 3600", first)
	}
	if got, want := strings.Join(first.Names, " "), "team-a.apps.example.com *.team-a.apps.example.com _acme-challenge.team-a.apps.example.com _acme-challenge.*.team-a.apps.example.com"; got != want {
		t.Errorf("names = %q, want %q", got, want)
	}
	if got, want := strings.Join(first.Types, ","), "A,AAAA,CNAME,TXT"; got != want {
		t.Errorf("types = %q, want %q", got, want)
	}
	if last := rules[len(rules)-1]; last.Zone != "example.org" || last.Names[0] != "**.example.org" {
		t.Errorf("last rule = %+v, want example.org's **.example.org", last)
	}
}
