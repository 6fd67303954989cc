package acmedns

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/zonewriter"
)

func value(c byte) string { return strings.Repeat(string(c), 43) }

// deletes returns name=content of every value the requests delete.
func deletes(reqs []zonewriter.Request) []string {
	var out []string
	for _, r := range reqs {
		for _, op := range r.Ops {
			if op.Kind == zonewriter.DeleteValue {
				out = append(out, op.Name+"="+op.Content)
			}
		}
	}
	return out
}

func TestStaleValuesAreRemovedAfterTheirTTL(t *testing.T) {
	cases := map[string]struct {
		// steps: "w<c>" writes value c as team-a, "W<c>" as team-b, "+<d>"
		// advances the clock, "s" sweeps.
		steps       []string
		wantDeletes []string
		wantPending int
	}{
		"a value is kept until its TTL ends": {
			steps: []string{"wa", "+14m", "s"}, wantPending: 1,
		},
		"a value is removed when its TTL ends": {
			steps: []string{"wa", "+15m", "s"}, wantDeletes: []string{nameA + "=" + value('a')},
		},
		"the same value written again starts its TTL again": {
			steps: []string{"wa", "+10m", "wa", "+10m", "s"}, wantPending: 1,
		},
		"only two values per name are remembered, as the keep-two rule leaves": {
			steps:       []string{"wa", "+1m", "wb", "+1m", "wc", "+15m", "s"},
			wantDeletes: []string{nameA + "=" + value('b'), nameA + "=" + value('c')},
		},
		"each name keeps its own two": {
			steps: []string{"wa", "Wb", "+15m", "s"}, wantDeletes: []string{nameA + "=" + value('a'), nameB + "=" + value('b')},
		},
		"a removed value is not removed twice": {
			steps: []string{"wa", "+15m", "s", "+15m", "s"}, wantDeletes: []string{nameA + "=" + value('a')},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			writes := 0
			for _, s := range c.steps {
				switch s[0] {
				case 'w':
					mustUpdate(t, f, userA, passA, subA, value(s[1]))
					writes++
				case 'W':
					mustUpdate(t, f, userB, passB, subB, value(s[1]))
					writes++
				case '+':
					d, err := time.ParseDuration(s[1:])
					if err != nil {
						t.Fatal(err)
					}
					f.clock.add(d)
				case 's':
					f.h.Sweep(t.Context())
				}
			}
			got := deletes(f.w.requests())
			if strings.Join(sorted(got), " ") != strings.Join(sorted(c.wantDeletes), " ") {
				t.Fatalf("deleted %v, want %v", got, c.wantDeletes)
			}
			if f.h.Pending() != c.wantPending {
				t.Fatalf("%d pending, want %d", f.h.Pending(), c.wantPending)
			}
		})
	}
}

func TestStaleValueDeleteIsTheAccountsTenant(t *testing.T) {
	f := newFixture(t)
	mustUpdate(t, f, userA, passA, subA, value('a'))
	f.clock.add(15 * time.Minute)
	f.h.Sweep(t.Context())
	reqs := f.w.requests()
	del := reqs[len(reqs)-1]
	if del.Tenant.Namespace != "team-a" || del.ZoneID != "zone-1" || del.Protocol != Protocol || len(del.Ops) != 1 ||
		del.Ops[0].Kind != zonewriter.DeleteValue || del.Ops[0].Name != nameA || del.Ops[0].Type != "TXT" || del.Ops[0].Content != value('a') {
		t.Fatalf("delete %+v", del)
	}
}

func TestStaleValueDeleteOutcomes(t *testing.T) {
	cases := map[string]struct {
		err         error
		wantPending int
	}{
		"a failed delete is tried again":      {&zonewriter.Error{Code: zonewriter.Failed, Reason: "down"}, 1},
		"a delete over budget is tried again": {&zonewriter.Error{Code: zonewriter.OverBudget, Reason: "budget"}, 1},
		"a refused delete is forgotten":       {&zonewriter.Error{Code: zonewriter.Refused, Reason: "grant gone"}, 0},
		"a removed value is forgotten":        {nil, 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			mustUpdate(t, f, userA, passA, subA, value('a'))
			f.clock.add(15 * time.Minute)
			f.w.err = c.err
			f.h.Sweep(t.Context())
			if f.h.Pending() != c.wantPending {
				t.Fatalf("%d pending, want %d", f.h.Pending(), c.wantPending)
			}
		})
	}
}

func mustUpdate(t *testing.T, f *fixture, user, key, sub, txt string) {
	t.Helper()
	if rec := f.do("POST", "/update", user, key, body(sub, txt)); rec.Code != 200 {
		t.Fatalf("update answered %d %s", rec.Code, rec.Body.String())
	}
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestRunSweeps: Run sweeps on its ticker until its context ends.
func TestRunSweeps(t *testing.T) {
	f := newFixture(t)
	mustUpdate(t, f, userA, passA, subA, value('a'))
	f.clock.add(15 * time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- f.h.Run(ctx, time.Millisecond) }()
	deadline := time.Now().Add(10 * time.Second)
	for f.h.Pending() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run did not sweep the stale value")
		}
		runtime.Gosched()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}
