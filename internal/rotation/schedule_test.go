package rotation

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cases := map[string]struct {
		spec    string
		wantErr string
		period  time.Duration
	}{
		"accepts @every with a Go duration":          {spec: "@every 720h", period: 720 * time.Hour},
		"accepts a weekly cron expression":           {spec: "0 3 * * 1", period: 7 * 24 * time.Hour},
		"accepts the @daily descriptor":              {spec: "@daily", period: 24 * time.Hour},
		"measures the longest gap of a monthly cron": {spec: "0 0 1 * *", period: 31 * 24 * time.Hour},
		"refuses a six-field expression":             {spec: "0 0 3 * * 1", wantErr: "neither a five-field cron"},
		"refuses garbage":                            {spec: "every day", wantErr: "neither a five-field cron"},
		"refuses an empty schedule":                  {spec: "", wantErr: "neither a five-field cron"},
		"refuses rotating every second":              {spec: "@every 1s", wantErr: "more often than once a minute"},
	}
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := Parse(tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want one containing %q", tc.spec, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.spec, err)
			}
			if got := s.LongestPeriod(from); got != tc.period {
				t.Fatalf("LongestPeriod = %v, want %v", got, tc.period)
			}
			if next := s.Next(from); !next.After(from) {
				t.Fatalf("Next(%v) = %v, not after it", from, next)
			}
		})
	}
}
