package grant

import "testing"

// BenchmarkCheck runs the admission hot path against testPolicy: ten rules
// over four zones, templates, "*", "**", a nested and an IDN zone.
func BenchmarkCheck(b *testing.B) {
	c := mustCompile(b, testPolicy)
	cases := map[string]Record{
		"granted A with a value":          {Name: "web.team-a.apps.example.com", Type: "A", TTL: 300, Values: []string{"203.0.113.10"}},
		"granted TXT reservation":         {Name: "_acme-challenge.web.team-a.apps.example.com", Type: "TXT"},
		"granted under a double star":     {Name: "a.b.c.team-a.dev.example.com", Type: "TXT"},
		"granted upper case trailing dot": {Name: "WEB.Team-A.apps.example.com.", Type: "A"},
		"granted IDN zone":                {Name: "team-a.b\u00fccher.example", Type: "A"},
		"denied outside every rule":       {Name: "web.team-b.apps.example.com", Type: "A"},
		"denied outside every zone":       {Name: "example.com.evil.net", Type: "A"},
	}
	for name, r := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.Check("team-a", r)
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(testPolicy); err != nil {
			b.Fatal(err)
		}
	}
}
