package grant

import (
	"fmt"
	"testing"
)

func TestShareable(t *testing.T) {
	tests := map[string]struct {
		rules []Rule
		want  bool
	}{
		"a template gives every namespace its own names":     {rules: []Rule{aRule("{namespace}.example.com")}, want: true},
		"a star gives many names":                            {rules: []Rule{aRule("*.apps.example.com")}, want: true},
		"a double star gives many names":                     {rules: []Rule{aRule("**.apps.example.com")}, want: true},
		"two literal names can go to two namespaces":         {rules: []Rule{aRule("a.example.com", "b.example.com")}, want: true},
		"one literal name with two types can be split":       {rules: []Rule{{Names: []string{"a.example.com"}, Types: []string{"A", "TXT"}}}, want: true},
		"one literal name and type has one holder at a time": {rules: []Rule{aRule("a.example.com")}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := mustCompile(t, Policy{Zones: []Zone{{Name: "example.com", Rules: tc.rules}}})
			if got := c.Shareable(); fmt.Sprint(got) != fmt.Sprint([]bool{tc.want}) {
				t.Fatalf("Shareable = %v, want [%v]", got, tc.want)
			}
		})
	}
}
