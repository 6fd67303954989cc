package dyndns

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func logLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestOneAuditLinePerRequestWithoutSecrets(t *testing.T) {
	f := newFixture(t, nil)
	f.do(req{query: "hostname=" + home + "&myip=203.0.113.7"})
	f.do(req{query: "hostname=" + home + "&myip=203.0.113.7", user: userA, pass: previousA})
	f.do(req{query: "hostname=" + home + "," + hostB + "&myip=203.0.113.8"})
	f.do(req{query: "hostname=" + home + "&myip=203.0.113.7", user: userA, pass: "a-wrong-password"})
	// A client that swapped username and password.
	f.do(req{query: "hostname=" + home + "&myip=203.0.113.7", user: passwordA, pass: userA})

	out := f.logs.String()
	lines := logLines(t, out)
	if len(lines) != 5 {
		t.Fatalf("%d audit lines for 5 requests:\n%s", len(lines), out)
	}
	for _, secret := range []string{passwordA, previousA, "a-wrong-password"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds a password %q:\n%s", secret, out)
		}
	}
	want := []struct{ answers, reason, username string }{
		{"good 203.0.113.7", "", userA},
		{"nochg 203.0.113.7", "", userA},
		{"nohost nohost", hostB, userA},
		{"badauth", "wrong password", userA},
		{"badauth", "unknown username", ""},
	}
	for i, w := range want {
		l := lines[i]
		if l["msg"] != "dyndns2 update" || l["protocol"] != "dyndns2" {
			t.Errorf("line %d: %v", i, l)
		}
		var answers []string
		for _, a := range l["answers"].([]any) {
			answers = append(answers, a.(string))
		}
		if got := strings.Join(answers, " "); got != w.answers {
			t.Errorf("line %d answers %q, want %q", i, got, w.answers)
		}
		if reason, _ := l["reason"].(string); !strings.Contains(reason, w.reason) {
			t.Errorf("line %d reason %q does not name %q", i, reason, w.reason)
		}
		if u, _ := l["username"].(string); u != w.username {
			t.Errorf("line %d username %q, want %q", i, u, w.username)
		}
	}
	if lines[0]["namespace"] != "team-a" || lines[0]["myip"] != "203.0.113.7" {
		t.Errorf("first line lacks namespace or address: %v", lines[0])
	}
}

// TestAFloodOfFailedLoginsIsCountedNotLogged: guesses get badauth, cost no
// memory, and after the first few are counted in the next line logged.
func TestAFloodOfFailedLoginsIsCountedNotLogged(t *testing.T) {
	f := newFixture(t, nil)
	const flood = 5000
	for i := range flood {
		if w := f.do(req{query: "hostname=" + home, user: fmt.Sprintf("guess-%d", i), pass: "x"}); w.Body.String() != "badauth\n" {
			t.Fatalf("guess %d: %q", i, w.Body.String())
		}
	}
	if n := len(logLines(t, f.logs.String())); n > 30 {
		t.Fatalf("%d log lines for %d failed logins; want them paced", n, flood)
	}
	f.h.limits.mu.Lock()
	limiters := len(f.h.limits.m)
	f.h.limits.mu.Unlock()
	if limiters != 0 || len(f.h.repeats.m) != 0 {
		t.Fatalf("state kept for logins that failed: %d limiters, %d repeats", limiters, len(f.h.repeats.m))
	}
	f.do(req{query: "hostname=" + home + "&myip=203.0.113.7"})
	lines := logLines(t, f.logs.String())
	last := lines[len(lines)-1]
	if n, _ := last["refusedNotLogged"].(float64); n < flood-30 {
		t.Fatalf("the next line logged does not count the guesses not logged: %v", last)
	}
}

func TestPasswordMatches(t *testing.T) {
	cases := map[string]struct {
		given     string
		passwords []string
		want      bool
	}{
		"the current password matches":                  {"cur", []string{"cur", "prev"}, true},
		"the previous password matches":                 {"prev", []string{"cur", "prev"}, true},
		"another password does not":                     {"other", []string{"cur", "prev"}, false},
		"a prefix of the password does not":             {"cu", []string{"cur"}, false},
		"the password with more after it does not":      {"curr", []string{"cur"}, false},
		"an empty password never matches an empty slot": {"", []string{"", "cur"}, false},
		"no passwords match nothing":                    {"cur", nil, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := passwordMatches(tc.given, tc.passwords); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestALoginInALoopIsCountedNotLogged: a login over its rate is answered
// abuse on every request, but its lines are paced like failed logins.
func TestALoginInALoopIsCountedNotLogged(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Rate, o.Burst = 1e-9, 1 })
	const loop = 2000
	for range loop {
		f.do(req{query: "hostname=" + home + "&myip=203.0.113.7"})
	}
	if n := len(logLines(t, f.logs.String())); n > 30 {
		t.Fatalf("%d log lines for a login looping %d times; want them paced", n, loop)
	}
	if n := f.writer.callCount(); n != 1 {
		t.Fatalf("%d writer calls; only the first update is within the rate", n)
	}
}

func TestAuditLinesStayShortWhateverTheQuery(t *testing.T) {
	f := newFixture(t, nil)
	long := strings.Repeat("x", 100_000)
	f.do(req{query: "hostname=" + long + "," + home + "&myip=" + long})
	if n := len(f.logs.String()); n > 4096 {
		t.Fatalf("a %d-byte audit line for two long parameters", n)
	}
}
