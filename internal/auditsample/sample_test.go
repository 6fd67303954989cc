package auditsample

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestSampler(t *testing.T) {
	start := time.Unix(1000, 0)
	cases := map[string]struct {
		sources      int // distinct sources, round robin
		requests     int
		wantLogged   int
		wantSummary  int // suppressed in the summary
		wantSources  int
		maxRemembers int
		firstAlways  bool
	}{
		"one source gets its first five logged": {sources: 1, requests: 1000, wantLogged: 5, wantSummary: 995, wantSources: 1},
		"many sources stop at the total":        {sources: 50, requests: 1000, wantLogged: 100, wantSummary: 900, wantSources: 50},
		// Sources not remembered cannot be told apart: they count as one.
		"sources beyond the memory bound are only counted": {
			sources: 100, requests: 100, wantLogged: 10, wantSummary: 90, wantSources: 1, maxRemembers: 10,
		},
		"a quiet source writes no summary": {sources: 1, requests: 3, wantLogged: 3},
		"with FirstOfEachSource, sources beyond the memory bound still only count": {
			sources: 100, requests: 100, wantLogged: 10, wantSummary: 90, wantSources: 1, maxRemembers: 10, firstAlways: true,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			a := New(5, 100, time.Minute)
			if c.maxRemembers > 0 {
				a.maxSources = c.maxRemembers
			}
			if c.firstAlways {
				a.FirstOfEachSource()
			}
			logged := 0
			for i := range c.requests {
				ok, sum := a.Allow(fmt.Sprintf("192.0.2.%d:%d", i%c.sources, 1000+i), start.Add(time.Duration(i)*time.Millisecond))
				if sum != nil {
					t.Fatalf("summary inside the interval: %+v", sum)
				}
				if ok {
					logged++
				}
			}
			if logged != c.wantLogged {
				t.Fatalf("logged %d, want %d", logged, c.wantLogged)
			}
			if limit := max(c.maxRemembers, c.sources); a.Remembered() > limit {
				t.Fatalf("remembers %d sources, at most %d", a.Remembered(), limit)
			}
			sum := a.Flush(start.Add(time.Minute))
			switch {
			case c.wantSummary == 0 && sum != nil:
				t.Fatalf("summary without anything held back: %+v", sum)
			case c.wantSummary > 0 && (sum == nil || sum.Suppressed != c.wantSummary || sum.Sources != c.wantSources):
				t.Fatalf("summary %+v, want %d suppressed from %d sources", sum, c.wantSummary, c.wantSources)
			}
			if a.Remembered() != 0 {
				t.Fatal("sources remembered past the interval")
			}
			if ok, _ := a.Allow("192.0.2.0:1", start.Add(time.Minute+time.Second)); !ok {
				t.Fatal("a new interval does not log again")
			}
		})
	}
}

func TestLogWritesOneSummaryLine(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil))
	Log(context.Background(), l, "held back", nil)
	if buf.Len() != 0 {
		t.Fatalf("a nil summary wrote %q", buf.String())
	}
	Log(context.Background(), l, "held back", &Summary{Suppressed: 7, Sources: 1, Top: []SourceCount{{Source: "192.0.2.1", Suppressed: 7}}, Interval: time.Minute})
	if got := buf.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, `"suppressed":7,"sources":1,"top":["192.0.2.1=7"]`) {
		t.Fatalf("summary line %q", got)
	}
}

// TestFirstOfEachSourceKeepsALateSourcesLine: twenty sources flooding
// together write the interval's 100 lines; a source that comes after them
// has its first line written with FirstOfEachSource, and none without.
func TestFirstOfEachSourceKeepsALateSourcesLine(t *testing.T) {
	start := time.Unix(1000, 0)
	for _, first := range []bool{false, true} {
		a := New(5, 100, time.Minute)
		if first {
			a.FirstOfEachSource()
		}
		for i := range 20 {
			for range 10 {
				a.Allow(fmt.Sprintf("flood-%d", i), start)
			}
		}
		late, _ := a.Allow("late", start)
		again, _ := a.Allow("late", start)
		if late != first || again {
			t.Errorf("FirstOfEachSource %v: the late source's first line written %v, its second %v; want %v, false", first, late, again, first)
		}
	}
}
