package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestAuditSampler(t *testing.T) {
	start := time.Unix(1000, 0)
	cases := map[string]struct {
		sources      int // distinct sources, round robin
		requests     int
		wantLogged   int
		wantSummary  int // suppressed in the summary
		wantSources  int
		maxRemembers int
	}{
		"one source gets its first five logged": {sources: 1, requests: 1000, wantLogged: 5, wantSummary: 995, wantSources: 1},
		"many sources stop at the total":        {sources: 50, requests: 1000, wantLogged: 100, wantSummary: 900, wantSources: 50},
		// Sources not remembered cannot be told apart: they count as one.
		"sources beyond the memory bound are only counted": {
			sources: 100, requests: 100, wantLogged: 10, wantSummary: 90, wantSources: 1, maxRemembers: 10,
		},
		"a quiet source writes no summary": {sources: 1, requests: 3, wantLogged: 3},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			a := newAuditSampler(5, 100, time.Minute)
			if c.maxRemembers > 0 {
				a.maxSources = c.maxRemembers
			}
			logged := 0
			for i := range c.requests {
				ok, sum := a.allow(fmt.Sprintf("192.0.2.%d:%d", i%c.sources, 1000+i), start.Add(time.Duration(i)*time.Millisecond))
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
			if max := max(c.maxRemembers, c.sources); a.remembered() > max {
				t.Fatalf("remembers %d sources, at most %d", a.remembered(), max)
			}
			sum := a.flush(start.Add(time.Minute))
			switch {
			case c.wantSummary == 0 && sum != nil:
				t.Fatalf("summary without anything held back: %+v", sum)
			case c.wantSummary > 0 && (sum == nil || sum.suppressed != c.wantSummary || sum.sources != c.wantSources):
				t.Fatalf("summary %+v, want %d suppressed from %d sources", sum, c.wantSummary, c.wantSources)
			}
			if a.remembered() != 0 {
				t.Fatal("sources remembered past the interval")
			}
			if ok, _ := a.allow("192.0.2.0:1", start.Add(time.Minute+time.Second)); !ok {
				t.Fatal("a new interval does not log again")
			}
		})
	}
}

// TestUnauthenticatedFloodIsSampled: a thousand UPDATEs signed with a wrong
// secret for a known key (logged at warning level, one line each before),
// unsigned ones and ones naming an unknown key: a handful of audit lines and
// one summary, every request still answered.
func TestUnauthenticatedFloodIsSampled(t *testing.T) {
	f := newFixture(t, nil)
	badMAC := client{key: keyA, secret: wrongSecret, alg: dns.HmacSHA256}
	unknown := client{key: "nobody.prod.scopedns.", secret: secretA, alg: dns.HmacSHA256}
	const n = 300
	for i := range n {
		c := []client{badMAC, unsigned, unknown}[i%3]
		m := update(testZone)
		m.Insert(rrs(t, acmeName+". 120 IN TXT flood"))
		if _, err := f.exchange("udp", c, m); err != nil && c == unsigned {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if got := len(f.observed()); got != n {
		t.Fatalf("%d requests answered, want %d", got, n)
	}
	if lines := strings.Count(f.logs.String(), `"msg":"rfc2136 update"`); lines > defaultSamplePerSource {
		t.Fatalf("%d audit lines for a flood from one source, want at most %d:\n%s", lines, defaultSamplePerSource, f.logs.String())
	}
	if len(f.records()) != 0 {
		t.Fatal("an unauthenticated update wrote a record")
	}
	f.srv.logSummary(msgUnauthenticatedSummary, f.srv.sampler.flush(time.Now().Add(time.Hour)))
	if !strings.Contains(f.logs.String(), `"msg":"rfc2136 unauthenticated updates not logged","suppressed":`) {
		t.Fatalf("no summary line:\n%s", f.logs.String())
	}
}

// TestOverLimitFloodIsSampled: a signed flood far past the key's rate gets
// REFUSED; its audit lines are sampled by key, the other key's are not.
func TestOverLimitFloodIsSampled(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.RatePerKey, o.BurstPerKey = 0.001, 1 })
	for i := range 100 {
		m := update(testZone)
		m.Insert(rrs(t, acmeName+". 120 IN TXT flood"))
		if _, err := f.exchange("udp", asTeamA, m); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	m := update(testZone)
	m.Insert(rrs(t, otherName+". 120 IN TXT other"))
	if r, err := f.exchange("udp", asTeamB, m); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("the other key: %v %v", r, err)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, `"reason":"rate limit exceeded"`); n > defaultSamplePerSource {
		t.Fatalf("%d audit lines for one key's flood, want at most %d", n, defaultSamplePerSource)
	}
	if !strings.Contains(logs, `"key":"team-b.prod.scopedns.","namespace":"team-b"`) {
		t.Fatalf("the other key's update was not logged:\n%s", logs)
	}
}
