package grant

import "testing"

// testPolicy is shaped like the DESIGN.md example plus the corners the
// engine has to get right: templates inside labels, "**", a nested zone, an
// internationalised zone and a deliberately broad rule.
var testPolicy = Policy{Zones: []Zone{
	{Name: "example.com", Rules: []Rule{
		{
			Names: []string{
				"{namespace}.apps.example.com",
				"*.{namespace}.apps.example.com",
				"_acme-challenge.{namespace}.apps.example.com",
				"_acme-challenge.*.{namespace}.apps.example.com",
			},
			Types:  []string{"A", "AAAA", "CNAME", "TXT"},
			MaxTTL: 3600,
		},
		{Names: []string{"**.{namespace}.dev.example.com"}, Types: []string{"A", "TXT"}},
		{Names: []string{"api-{namespace}.example.com"}, Types: []string{"CNAME"}, MaxTTL: 300},
		{Names: []string{"mail.{namespace}.apps.example.com"}, Types: []string{"MX", "TXT"}},
		{Names: []string{"_sip._tcp.{namespace}.apps.example.com"}, Types: []string{"SRV"}},
		{Names: []string{"{namespace}.apps.example.com"}, Types: []string{"CAA"}},
		{Names: []string{"{namespace}.delegated.example.com"}, Types: []string{"NS"}},
	}},
	{Name: "internal.example.com", Rules: []Rule{
		{Names: []string{"{namespace}.internal.example.com"}, Types: []string{"A"}},
	}},
	{Name: "Bücher.example.", Rules: []Rule{
		{Names: []string{"{namespace}.bücher.example"}, Types: []string{"A"}},
	}},
	{Name: "example.org", Rules: []Rule{
		{Names: []string{"**.example.org"}, Types: []string{"TXT"}},
	}},
}}

func mustCompile(t testing.TB, p Policy) *Compiled {
	t.Helper()
	c, err := Compile(p)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return c
}

// onePattern is a policy with a single rule, for pattern tests.
func onePattern(zone string, names ...string) Policy {
	return Policy{Zones: []Zone{{Name: zone, Rules: []Rule{{Names: names, Types: []string{"A"}}}}}}
}
