package dyndns

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/scopedns/scopedns/internal/zonewriter"
)

func TestAnswers(t *testing.T) {
	refused := &zonewriter.Error{Code: zonewriter.Refused, Reason: "record owned by another owner"}
	overBudget := &zonewriter.Error{Code: zonewriter.OverBudget, Reason: "provider budget"}
	failed := &zonewriter.Error{Code: zonewriter.Failed, Reason: "provider: 500"}
	cases := map[string]struct {
		before map[string][]string // records the writer holds already
		fail   map[string]error
		req    req
		status int
		body   string
		writes []string // "name TYPE value ttl"
	}{
		"a new IPv4 address for one hostname sets its A record and is answered good": {
			req:    req{query: "hostname=" + home + "&myip=203.0.113.7"},
			body:   "good 203.0.113.7\n",
			writes: []string{home + " A 203.0.113.7 60"},
		},
		"the address the record already holds is answered nochg": {
			before: map[string][]string{home + " A": {"203.0.113.7"}},
			req:    req{query: "hostname=" + home + "&myip=203.0.113.7"},
			body:   "nochg 203.0.113.7\n",
			writes: []string{home + " A 203.0.113.7 60"},
		},
		"several hostnames are answered one line each, in request order": {
			before: map[string][]string{v4only + " A": {"203.0.113.7"}},
			req:    req{query: "hostname=" + nas + "," + v4only + "," + home + "&myip=203.0.113.7"},
			body:   "good 203.0.113.7\nnochg 203.0.113.7\ngood 203.0.113.7\n",
			writes: []string{home + " A 203.0.113.7 60", nas + " A 203.0.113.7 60", v4only + " A 203.0.113.7 60"},
		},
		"an IPv6 address sets the AAAA record and leaves the A record alone": {
			req:    req{query: "hostname=" + home + "&myip=2001:db8::7"},
			body:   "good 2001:db8::7\n",
			writes: []string{home + " AAAA 2001:db8::7 60"},
		},
		"an IPv4 and an IPv6 address set both records": {
			req:    req{query: "hostname=" + home + "&myip=203.0.113.7,2001:db8::7"},
			body:   "good 203.0.113.7,2001:db8::7\n",
			writes: []string{home + " A 203.0.113.7 60", home + " AAAA 2001:db8::7 60"},
		},
		"an IPv4-mapped IPv6 address sets the A record": {
			req:    req{query: "hostname=" + home + "&myip=::ffff:203.0.113.7"},
			body:   "good 203.0.113.7\n",
			writes: []string{home + " A 203.0.113.7 60"},
		},
		"an IPv4 and an IPv6 address for a name granted only A set only the A record": {
			req:    req{query: "hostname=" + v4only + "&myip=2001:db8::7,203.0.113.7"},
			body:   "good 203.0.113.7\n",
			writes: []string{v4only + " A 203.0.113.7 60"},
		},
		"without myip the address the request came from is set": {
			req:    req{query: "hostname=" + home, remote: "198.51.100.9:40000"},
			body:   "good 198.51.100.9\n",
			writes: []string{home + " A 198.51.100.9 60"},
		},
		"an empty myip (what ddclient sends when it knows no address) uses the request's address": {
			req:    req{query: "hostname=" + home + "&myip=", remote: "[2001:db8::9]:40000"},
			body:   "good 2001:db8::9\n",
			writes: []string{home + " AAAA 2001:db8::9 60"},
		},
		"X-Forwarded-For from a peer that is not a trusted proxy is not believed": {
			req:    req{query: "hostname=" + home, remote: "198.51.100.9:40000", xff: "192.0.2.66"},
			body:   "good 198.51.100.9\n",
			writes: []string{home + " A 198.51.100.9 60"},
		},
		"X-Forwarded-For from a trusted proxy gives the client's address, not what the client wrote in it": {
			req:    req{query: "hostname=" + home, remote: "10.1.2.3:40000", xff: "192.0.2.66, 198.51.100.20, 10.9.9.9"},
			body:   "good 198.51.100.20\n",
			writes: []string{home + " A 198.51.100.20 60"},
		},
		"a malformed myip is ignored, as the spec says, and the request's address is set": {
			req:    req{query: "hostname=" + home + "&myip=not-an-address", remote: "198.51.100.9:40000"},
			body:   "good 198.51.100.9\n",
			writes: []string{home + " A 198.51.100.9 60"},
		},
		"names are compared after normalisation: upper case and a trailing dot match": {
			req:    req{query: "hostname=HOME.team-a.DYN.example.com.&myip=203.0.113.7"},
			body:   "good 203.0.113.7\n",
			writes: []string{home + " A 203.0.113.7 60"},
		},
		"a hostname twice is written once and answered on both lines": {
			req:    req{query: "hostname=" + home + "," + home + "&myip=203.0.113.7"},
			body:   "good 203.0.113.7\ngood 203.0.113.7\n",
			writes: []string{home + " A 203.0.113.7 60"},
		},
		"a grant's maxTTL below the default lowers the TTL": {
			req:    req{query: "hostname=" + short + "&myip=203.0.113.7"},
			body:   "good 203.0.113.7\n",
			writes: []string{short + " A 203.0.113.7 30"},
		},
		"POST with the parameters in a form body is accepted": {
			req:    req{method: http.MethodPost, form: "hostname=" + home + "&myip=203.0.113.7"},
			body:   "good 203.0.113.7\n",
			writes: []string{home + " A 203.0.113.7 60"},
		},
		"the previous password still logs in during a rotation overlap": {
			req:    req{query: "hostname=" + home + "&myip=203.0.113.7", user: userA, pass: previousA},
			body:   "good 203.0.113.7\n",
			writes: []string{home + " A 203.0.113.7 60"},
		},

		"a request without credentials gets 401 with a Basic challenge and badauth": {
			req:    req{query: "hostname=" + home + "&myip=203.0.113.7", noAuth: true},
			status: http.StatusUnauthorized,
			body:   "badauth\n",
		},
		"a wrong password is badauth, once, and nothing is written": {
			req:  req{query: "hostname=" + home + "," + v4only + "&myip=203.0.113.7", user: userA, pass: "wrong"},
			body: "badauth\n",
		},
		"an unknown username is badauth": {
			req:  req{query: "hostname=" + home + "&myip=203.0.113.7", user: "nobody", pass: passwordA},
			body: "badauth\n",
		},
		"another login's password is badauth": {
			req:  req{query: "hostname=" + home + "&myip=203.0.113.7", user: userA, pass: passwordB},
			body: "badauth\n",
		},
		"a hostname list with one name outside the grant refuses the whole request and writes nothing": {
			req:  req{query: "hostname=" + home + "," + hostB + "," + v4only + "&myip=203.0.113.7"},
			body: "nohost\nnohost\nnohost\n",
		},
		"another namespace's hostname is nohost": {
			req:  req{query: "hostname=" + hostB + "&myip=203.0.113.7"},
			body: "nohost\n",
		},
		"a name that is not a domain name is notfqdn and refuses the whole request": {
			req:  req{query: "hostname=" + home + ",localhost&myip=203.0.113.7"},
			body: "nohost\nnotfqdn\n",
		},
		"a name with an invalid label is notfqdn": {
			req:  req{query: "hostname=bad_label!.dyn.example.com&myip=203.0.113.7"},
			body: "notfqdn\n",
		},
		"no hostname is notfqdn, once": {
			req:  req{query: "myip=203.0.113.7"},
			body: "notfqdn\n",
		},
		"more than 20 hostnames are numhost, once": {
			req:  req{query: "hostname=" + strings.Repeat(home+",", 21) + "&myip=203.0.113.7"},
			body: "numhost\n",
		},
		"two IPv4 addresses in myip (a round robin) are numhost": {
			req:  req{query: "hostname=" + home + "&myip=203.0.113.7,203.0.113.8"},
			body: "numhost\n",
		},
		"an IPv6 address for a name granted only A is nohost": {
			req:  req{query: "hostname=" + v4only + "&myip=2001:db8::7"},
			body: "nohost\n",
		},
		"the writer refusing (another owner's record) is nohost": {
			fail: map[string]error{home: refused},
			req:  req{query: "hostname=" + home + "&myip=203.0.113.7"},
			body: "nohost\n",
		},
		"the namespace over its provider budget is abuse": {
			fail: map[string]error{home: overBudget},
			req:  req{query: "hostname=" + home + "&myip=203.0.113.7"},
			body: "abuse\n",
		},
		"the provider failing is dnserr, on that hostname's line only": {
			fail:   map[string]error{home: failed},
			req:    req{query: "hostname=" + v4only + "," + home + "&myip=203.0.113.7"},
			body:   "good 203.0.113.7\ndnserr\n",
			writes: []string{v4only + " A 203.0.113.7 60"},
		},
		"any other write error (a timeout) is 911": {
			fail: map[string]error{home: errors.New("context deadline exceeded")},
			req:  req{query: "hostname=" + home + "&myip=203.0.113.7"},
			body: "911\n",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nil)
			for k, v := range tc.before {
				f.writer.records[k] = v
			}
			for k, v := range tc.fail {
				f.writer.fail[k] = v
			}
			w := f.do(tc.req)
			want := tc.status
			if want == 0 {
				want = http.StatusOK
			}
			if w.Code != want {
				t.Errorf("status %d, want %d", w.Code, want)
			}
			if got := w.Body.String(); got != tc.body {
				t.Errorf("body %q, want %q", got, tc.body)
			}
			if want == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("no Basic challenge: %q", w.Header().Get("WWW-Authenticate"))
			}
			// Writes that failed are not in the fake's records but were
			// attempted: compare only what the fake accepted.
			var got []string
			for _, wr := range f.writer.writes() {
				if f.writer.fail[strings.Fields(wr)[0]] == nil {
					got = append(got, wr)
				}
			}
			if !slices.Equal(got, tc.writes) {
				t.Errorf("writes %q, want %q", got, tc.writes)
			}
		})
	}
}

func TestOtherMethodsAreNotAllowed(t *testing.T) {
	f := newFixture(t, nil)
	w := f.do(req{method: http.MethodPut, query: "hostname=" + home + "&myip=203.0.113.7"})
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST" {
		t.Fatalf("PUT: %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if n := f.writer.callCount(); n != 0 {
		t.Fatalf("PUT wrote %d times", n)
	}
}

// TestWritesCarryTheLoginsTenant: each hostname is one request to its own
// zone, as the login's tenant, tagged dyndns2, with Replace.
func TestWritesCarryTheLoginsTenant(t *testing.T) {
	f := newFixture(t, nil)
	f.do(req{query: "hostname=" + home + "," + nas + "&myip=203.0.113.7"})
	calls := f.writer.calls
	if len(calls) != 2 {
		t.Fatalf("%d writer calls, want 2", len(calls))
	}
	zones := map[string]string{}
	for _, c := range calls {
		if c.Tenant.Namespace != "team-a" || c.Tenant.Owner != "owner-a" || c.Protocol != "dyndns2" {
			t.Errorf("request as %+v over %q", c.Tenant, c.Protocol)
		}
		if len(c.Ops) != 1 || c.Ops[0].Kind != zonewriter.Replace {
			t.Errorf("ops %+v, want one Replace", c.Ops)
		}
		zones[c.Ops[0].Name] = c.ZoneID
	}
	if zones[home] != zoneID || zones[nas] != "zone-org" {
		t.Errorf("zones %v", zones)
	}
}

func TestOneLoginOverItsRateIsAnsweredAbuse(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Rate, o.Burst = rate.Every(time.Minute), 3 })
	q := "hostname=" + home + "&myip=203.0.113.%d"
	for i := range 3 {
		if w := f.do(req{query: strings.Replace(q, "%d", string(rune('1'+i)), 1)}); !strings.HasPrefix(w.Body.String(), "good") {
			t.Fatalf("update %d within the burst: %q", i, w.Body.String())
		}
	}
	if w := f.do(req{query: "hostname=" + home + "," + v4only + "&myip=203.0.113.9"}); w.Body.String() != "abuse\nabuse\n" {
		t.Fatalf("over the rate: %q, want abuse per line", w.Body.String())
	}
	if n := f.writer.callCount(); n != 3 {
		t.Fatalf("%d writer calls, want 3: the refused update must not reach the writer", n)
	}
	// Another login has its own bucket, and wrong passwords spend none of it.
	for range 10 {
		f.do(req{query: "hostname=" + hostB + "&myip=203.0.113.9", user: userB, pass: "guess"})
	}
	if w := f.do(req{query: "hostname=" + hostB + "&myip=203.0.113.9", user: userB, pass: passwordB}); w.Body.String() != "good 203.0.113.9\n" {
		t.Fatalf("team-b after team-a's flood and ten wrong passwords: %q", w.Body.String())
	}
	f.clock.advance(time.Minute)
	if w := f.do(req{query: "hostname=" + home + "&myip=203.0.113.10"}); w.Body.String() != "good 203.0.113.10\n" {
		t.Fatalf("a minute later: %q", w.Body.String())
	}
}

func TestARepeatedUpdateCostsNoWriterCall(t *testing.T) {
	f := newFixture(t, nil)
	q := req{query: "hostname=" + home + "&myip=203.0.113.7,2001:db8::7"}
	if w := f.do(q); w.Body.String() != "good 203.0.113.7,2001:db8::7\n" {
		t.Fatalf("first: %q", w.Body.String())
	}
	if w := f.do(q); w.Body.String() != "nochg 203.0.113.7,2001:db8::7\n" {
		t.Fatalf("repeat: %q", w.Body.String())
	}
	if n := f.writer.callCount(); n != 1 {
		t.Fatalf("%d writer calls after a repeat, want 1", n)
	}
	// One family changed: written.
	if w := f.do(req{query: "hostname=" + home + "&myip=203.0.113.7,2001:db8::8"}); w.Body.String() != "good 203.0.113.7,2001:db8::8\n" {
		t.Fatalf("AAAA changed: %q", w.Body.String())
	}
	// After the window the writer is asked again (it answers from its
	// snapshot).
	f.clock.advance(time.Minute)
	if w := f.do(req{query: "hostname=" + home + "&myip=203.0.113.7,2001:db8::8"}); w.Body.String() != "nochg 203.0.113.7,2001:db8::8\n" {
		t.Fatalf("after the window: %q", w.Body.String())
	}
	if n := f.writer.callCount(); n != 3 {
		t.Fatalf("%d writer calls, want 3", n)
	}
	// A failed write forgets: the same address again goes to the writer.
	f.writer.fail[home] = &zonewriter.Error{Code: zonewriter.Failed, Reason: "provider: 500"}
	f.do(req{query: "hostname=" + home + "&myip=203.0.113.50"})
	delete(f.writer.fail, home)
	f.do(req{query: "hostname=" + home + "&myip=203.0.113.50"})
	if n := f.writer.callCount(); n != 5 {
		t.Fatalf("%d writer calls, want 5: a failed write must not be remembered", n)
	}
}

func TestTheRepeatMemoryIsPerLogin(t *testing.T) {
	f := newFixture(t, nil)
	f.do(req{query: "hostname=" + home + "&myip=203.0.113.7"})
	// team-b may not set team-a's host: a remembered address must not turn
	// that into nochg.
	if w := f.do(req{query: "hostname=" + home + "&myip=203.0.113.7", user: userB, pass: passwordB}); w.Body.String() != "nohost\n" {
		t.Fatalf("team-b on team-a's host: %q", w.Body.String())
	}
}

func TestNewNamesEveryBadOption(t *testing.T) {
	_, err := New(Options{TTL: -1, Rate: -1, Burst: -1})
	if err == nil {
		t.Fatal("no error")
	}
	for _, field := range []string{"Options.Users", "Options.Writer", "Options.TTL", "Options.Rate", "Options.Burst"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
}

func TestFullBucketsAreDroppedWhenManyLoginsAccumulate(t *testing.T) {
	l := newLimiters(rate.Every(time.Minute), 2)
	now := time.Now()
	l.allow("busy", 2, now) // empty: must survive the pruning
	for i := range maxLimiters {
		l.allow(strings.Repeat("x", i+1), 0, now.Add(-time.Hour))
	}
	l.allow("one-more", 1, now)
	if _, ok := l.m["busy"]; !ok {
		t.Fatal("the bucket of a login that used it was dropped")
	}
	if len(l.m) > maxLimiters/2 {
		t.Fatalf("%d buckets kept, want the full ones dropped", len(l.m))
	}
	if l.allow("busy", 1, now) {
		t.Fatal("the busy login got a token back by the pruning")
	}
}
