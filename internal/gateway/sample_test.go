package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/auditsample"
)

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
	if lines := strings.Count(f.logs.String(), `"msg":"rfc2136 update"`); lines > auditsample.DefaultPerSource {
		t.Fatalf("%d audit lines for a flood from one source, want at most %d:\n%s", lines, auditsample.DefaultPerSource, f.logs.String())
	}
	if len(f.records()) != 0 {
		t.Fatal("an unauthenticated update wrote a record")
	}
	f.srv.logSummary(msgUnauthenticatedSummary, f.srv.sampler.Flush(time.Now().Add(time.Hour)))
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
	if n := strings.Count(logs, `"reason":"rate limit exceeded"`); n > auditsample.DefaultPerSource {
		t.Fatalf("%d audit lines for one key's flood, want at most %d", n, auditsample.DefaultPerSource)
	}
	if !strings.Contains(logs, `"key":"team-b.prod.scopedns.","namespace":"team-b"`) {
		t.Fatalf("the other key's update was not logged:\n%s", logs)
	}
}
