package grant

import (
	"errors"
	"strings"
	"testing"
)

// TTL 1 asks Cloudflare for its automatic TTL, which resolvers see as 300 s,
// so the maxTTL check must compare 300, not 1.
func TestTTLAgainstMaxTTL(t *testing.T) {
	policy := Policy{Zones: []Zone{{Name: "example.com", Rules: []Rule{
		{Names: []string{"{namespace}.short.example.com"}, Types: []string{"TXT"}, MaxTTL: 120},
		{Names: []string{"{namespace}.five.example.com"}, Types: []string{"TXT"}, MaxTTL: 300},
		{Names: []string{"{namespace}.free.example.com"}, Types: []string{"TXT"}},
	}}}}
	c := mustCompile(t, policy)
	tests := map[string]struct {
		name    string
		ttl     int32
		allowed bool
	}{
		"refuses the automatic TTL under a maxTTL below 300":   {name: "team-a.short.example.com", ttl: 1},
		"allows the automatic TTL under a maxTTL of 300":       {name: "team-a.five.example.com", ttl: 1, allowed: true},
		"allows the automatic TTL where the rule has no limit": {name: "team-a.free.example.com", ttl: 1, allowed: true},
		"allows an explicit TTL at the maxTTL":                 {name: "team-a.short.example.com", ttl: 120, allowed: true},
		"refuses an explicit TTL above the maxTTL":             {name: "team-a.short.example.com", ttl: 121},
		"allows an unset TTL under a maxTTL below 300":         {name: "team-a.short.example.com", ttl: 0, allowed: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := c.Check("team-a", Record{Name: tc.name, Type: "TXT", TTL: tc.ttl})
			if tc.allowed {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var d *Denial
			if !errors.As(err, &d) || d.Reason != ReasonTTLAboveMax {
				t.Fatalf("Check = %v, want a %s denial", err, ReasonTTLAboveMax)
			}
			if tc.ttl == AutoTTL && !strings.Contains(d.Error(), "300") {
				t.Errorf("the denial does not say what TTL 1 means: %v", d)
			}
		})
	}
}

func TestEffectiveTTL(t *testing.T) {
	for in, want := range map[int32]int32{0: 0, 1: 300, 60: 60, 300: 300, 86400: 86400} {
		if got := EffectiveTTL(in); got != want {
			t.Errorf("EffectiveTTL(%d) = %d, want %d", in, got, want)
		}
	}
}
