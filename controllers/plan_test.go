package controllers

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/provider"
)

const owner = "scopedns:it:team-a/web"

func rr(id, name, typ, content string, ttl int, comment string) provider.Record {
	return provider.Record{ID: id, Name: name, Type: typ, Content: content, TTL: ttl, Comment: comment}
}

// summary renders changes compactly so a case states its expectation in one line.
func summary(c provider.Changes) string {
	var parts []string
	for _, r := range c.Create {
		parts = append(parts, fmt.Sprintf("+%s/%s=%s", r.Name, r.Type, r.Content))
	}
	for i := range c.UpdateNew {
		parts = append(parts, fmt.Sprintf("~%s:%s->%s@%d", c.UpdateOld[i].ID, c.UpdateOld[i].Content, c.UpdateNew[i].Content, c.UpdateNew[i].TTL))
	}
	for _, r := range c.Delete {
		parts = append(parts, "-"+r.ID)
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

func TestPlanRecords(t *testing.T) {
	cases := map[string]struct {
		desired, current []provider.Record
		want             string
		notOwned         []grant.Key
	}{
		"creates what is missing": {
			desired: []provider.Record{rr("", "a.example.com", "A", "192.0.2.1", 300, owner)},
			want:    "+a.example.com/A=192.0.2.1",
		},
		"does nothing when the zone already matches": {
			desired: []provider.Record{rr("", "a.example.com", "A", "192.0.2.1", 300, owner)},
			current: []provider.Record{rr("1", "a.example.com", "A", "192.0.2.1", 300, owner)},
		},
		"updates a changed value in place instead of deleting and creating": {
			desired: []provider.Record{rr("", "a.example.com", "A", "192.0.2.2", 300, owner)},
			current: []provider.Record{rr("1", "a.example.com", "A", "192.0.2.1", 300, owner)},
			want:    "~1:192.0.2.1->192.0.2.2@300",
		},
		"updates only the TTL when only the TTL changed": {
			desired: []provider.Record{rr("", "a.example.com", "A", "192.0.2.1", 600, owner)},
			current: []provider.Record{rr("1", "a.example.com", "A", "192.0.2.1", 300, owner)},
			want:    "~1:192.0.2.1->192.0.2.1@600",
		},
		"deletes values no longer wanted": {
			desired: []provider.Record{rr("", "a.example.com", "A", "192.0.2.1", 300, owner)},
			current: []provider.Record{rr("1", "a.example.com", "A", "192.0.2.1", 300, owner), rr("2", "a.example.com", "A", "192.0.2.9", 300, owner)},
			want:    "-2",
		},
		"deletes the claim's records at names it no longer wants": {
			current: []provider.Record{rr("1", "old.example.com", "TXT", "x", 300, owner)},
			want:    "-1",
		},
		"compares host names without case or trailing dot": {
			desired: []provider.Record{rr("", "w.example.com", "CNAME", "LB.example.net.", 300, owner)},
			current: []provider.Record{rr("1", "w.example.com", "CNAME", "lb.example.net", 300, owner)},
		},
		"compares TXT with or without quotes": {
			desired: []provider.Record{rr("", "t.example.com", "TXT", "hello", 300, owner)},
			current: []provider.Record{rr("1", "t.example.com", "TXT", `"hello"`, 300, owner)},
		},
		"compares MX, SRV and CAA as the provider reads them back": {
			desired: []provider.Record{
				rr("", "m.example.com", "MX", "10 Mail.Example.net.", 300, owner),
				rr("", "_sip._tcp.m.example.com", "SRV", "10 5 5060 SIP.example.net.", 300, owner),
				rr("", "m.example.com", "CAA", "0 issue letsencrypt.org", 300, owner),
			},
			current: []provider.Record{
				rr("1", "m.example.com", "MX", "10 mail.example.net", 300, owner),
				rr("2", "_sip._tcp.m.example.com", "SRV", "10 5 5060 sip.example.net", 300, owner),
				rr("3", "m.example.com", "CAA", `0 issue "letsencrypt.org"`, 300, owner),
			},
		},
		"updates an MX record whose preference changed": {
			desired: []provider.Record{rr("", "m.example.com", "MX", "20 mail.example.net", 300, owner)},
			current: []provider.Record{rr("1", "m.example.com", "MX", "10 mail.example.net", 300, owner)},
			want:    "~1:10 mail.example.net->20 mail.example.net@300",
		},
		"updates an SRV record whose port changed and keeps the one that did not": {
			desired: []provider.Record{
				rr("", "_sip._tcp.m.example.com", "SRV", "10 5 5061 sip.example.net", 300, owner),
				rr("", "_sip._tcp.m.example.com", "SRV", "20 0 5060 sip2.example.net", 300, owner),
			},
			current: []provider.Record{
				rr("1", "_sip._tcp.m.example.com", "SRV", "10 5 5060 sip.example.net", 300, owner),
				rr("2", "_sip._tcp.m.example.com", "SRV", "20 0 5060 sip2.example.net", 300, owner),
			},
			want: "~1:10 5 5060 sip.example.net->10 5 5061 sip.example.net@300",
		},
		"updates a CAA record whose value differs only in case, as values are not host names": {
			desired: []provider.Record{rr("", "m.example.com", "CAA", `0 issue "LetsEncrypt.org"`, 300, owner)},
			current: []provider.Record{rr("1", "m.example.com", "CAA", `0 issue "letsencrypt.org"`, 300, owner)},
			want:    `~1:0 issue "letsencrypt.org"->0 issue "LetsEncrypt.org"@300`,
		},
		"leaves a key alone where a record it did not write sits": {
			desired:  []provider.Record{rr("", "a.example.com", "A", "192.0.2.1", 300, owner)},
			current:  []provider.Record{rr("9", "a.example.com", "A", "198.51.100.1", 300, "hand-made")},
			notOwned: []grant.Key{{Name: "a.example.com", Type: "A"}},
		},
		"leaves a key alone where another claim's record sits": {
			desired:  []provider.Record{rr("", "a.example.com", "A", "192.0.2.1", 300, owner)},
			current:  []provider.Record{rr("9", "a.example.com", "A", "192.0.2.1", 300, "scopedns:it:team-b/web")},
			notOwned: []grant.Key{{Name: "a.example.com", Type: "A"}},
		},
		"refuses any type beside a foreign CNAME": {
			desired:  []provider.Record{rr("", "a.example.com", "TXT", "x", 300, owner)},
			current:  []provider.Record{rr("9", "a.example.com", "CNAME", "elsewhere.example.net", 300, "")},
			notOwned: []grant.Key{{Name: "a.example.com", Type: "TXT"}},
		},
		"refuses a CNAME beside any foreign record": {
			desired:  []provider.Record{rr("", "a.example.com", "CNAME", "x.example.net", 300, owner)},
			current:  []provider.Record{rr("9", "a.example.com", "TXT", "v=spf1", 300, "")},
			notOwned: []grant.Key{{Name: "a.example.com", Type: "CNAME"}},
		},
		"writes a type beside a foreign record of another type": {
			desired: []provider.Record{rr("", "a.example.com", "TXT", "x", 300, owner)},
			current: []provider.Record{rr("9", "a.example.com", "A", "198.51.100.1", 300, "")},
			want:    "+a.example.com/TXT=x",
		},
		"never deletes a foreign record it does not want either": {
			current: []provider.Record{rr("9", "a.example.com", "A", "198.51.100.1", 300, "")},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			plan := planRecords(tc.desired, tc.current, owner)
			if got := summary(plan.Changes); got != tc.want {
				t.Fatalf("changes = %q, want %q", got, tc.want)
			}
			if len(plan.NotOwned) != len(tc.notOwned) {
				t.Fatalf("not owned = %v, want %v", plan.NotOwned, tc.notOwned)
			}
			for _, k := range tc.notOwned {
				if _, ok := plan.NotOwned[k]; !ok {
					t.Fatalf("not owned = %v, missing %v", plan.NotOwned, k)
				}
			}
			if err := plan.Changes.Validate(); err != nil && !plan.Changes.IsEmpty() {
				t.Fatalf("plan is not a valid change set: %v", err)
			}
			for _, r := range append(append([]provider.Record{}, plan.Changes.Delete...), plan.Changes.UpdateOld...) {
				if r.Comment != owner {
					t.Fatalf("plan touches record %s it does not own (comment %q)", r.ID, r.Comment)
				}
			}
		})
	}
}

// Every type a claim can hold values for is one the provider writes, so
// no accepted record is left unwritten for its type.
func TestEveryGrantableTypeIsWritable(t *testing.T) {
	for _, typ := range grant.SupportedTypes() {
		if !provider.IsSupportedType(typ) {
			t.Errorf("the grant engine grants %s, which the provider cannot write", typ)
		}
	}
}

func TestSpreadStaysInsideItsWindow(t *testing.T) {
	// A day's twentieth is 72 minutes, capped at an hour.
	const period, window = 24 * time.Hour, time.Hour
	seen := map[time.Duration]bool{}
	for i := 0; i < 1000; i++ {
		d := spread(fmt.Sprintf("team-%d/prod", i), period)
		if d < 0 || d >= window {
			t.Fatalf("spread %v outside [0, %v)", d, window)
		}
		seen[d.Truncate(time.Minute)] = true
	}
	if len(seen) < 50 {
		t.Fatalf("1000 namespaces fall into only %d minutes of a 60-minute window: rotations would burst", len(seen))
	}
}

// TestDescribeOwnerConcealsAnotherNamespace: with --conceal-conflict-holders
// a claim's status says a blocking record belongs to another namespace
// without naming it; the claimant's own namespace is still named.
func TestDescribeOwnerConcealsAnotherNamespace(t *testing.T) {
	victim := provider.Record{Comment: provider.OwnerComment("prod", "payroll", "db")}
	own := provider.Record{Comment: provider.OwnerComment("prod", "team-a", "old")}
	for name, tc := range map[string]struct {
		rec       provider.Record
		conceal   bool
		want      string
		wantHides bool
	}{
		"another namespace's claim is named when not concealing": {rec: victim, want: "owned by DNSRecordClaim payroll/db of cluster prod"},
		"another namespace's claim is not named when concealing": {rec: victim, conceal: true, want: "owned by a claim of another namespace", wantHides: true},
		"the claimant's own namespace is named when concealing":  {rec: own, conceal: true, want: "owned by DNSRecordClaim team-a/old of cluster prod"},
		"a record written outside scopedns says so":              {rec: provider.Record{Comment: "hand-made"}, conceal: true, want: "written outside scopedns"},
	} {
		t.Run(name, func(t *testing.T) {
			got, hidden := describeOwner(tc.rec, "team-a", tc.conceal)
			if got != tc.want || hidden != tc.wantHides {
				t.Fatalf("describeOwner = %q, %v; want %q, %v", got, hidden, tc.want, tc.wantHides)
			}
		})
	}
}
