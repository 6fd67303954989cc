package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
)

type updateCase struct {
	name    string
	seed    []provider.Record
	as      client
	msg     func(t *testing.T) *dns.Msg
	rcode   int
	tsigErr uint16
	// want is the zone afterwards; nil means the seed, unchanged.
	want []provider.Record
	// log, when set, is text the request's log line must hold (its reason).
	log string
}

func updateCases() []updateCase {
	addTXT := func(t *testing.T) *dns.Msg {
		m := update(testZone)
		m.Insert(rrs(t, acmeName+". 120 IN TXT token-1"))
		return m
	}
	return []updateCase{
		{
			name: "a TXT record inside the grant is added with the gateway's owner marker",
			as:   asTeamA, msg: addTXT, rcode: dns.RcodeSuccess,
			want: []provider.Record{owned(acmeName, "TXT", "token-1", 120)},
		},
		{
			name: "a record the namespace wrote is deleted again by value",
			seed: []provider.Record{owned(acmeName, "TXT", "token-1", 120), owned(acmeName, "TXT", "token-2", 120)},
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Remove(rrs(t, acmeName+". 0 IN TXT token-1"))
				return m
			},
			want: []provider.Record{owned(acmeName, "TXT", "token-2", 120)},
		},
		{
			name: "an RRset the namespace wrote is deleted as a whole",
			seed: []provider.Record{owned(acmeName, "TXT", "token-1", 120), owned(acmeName, "TXT", "token-2", 120)},
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.RemoveRRset([]dns.RR{anyRR(acmeName, dns.TypeTXT, dns.ClassANY)})
				return m
			},
			want: []provider.Record{},
		},
		{
			name: "deleting a record that is not there changes nothing and succeeds",
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Remove(rrs(t, acmeName+". 0 IN TXT gone"))
				return m
			},
		},
		{
			name: "A, AAAA and CNAME records inside the grant are added in one batch",
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, webName+". 300 IN A 203.0.113.10", webName+". 300 IN AAAA 2001:DB8::10", aliasName+". 60 IN CNAME Web.Team-A.apps.example.com."))
				return m
			},
			want: []provider.Record{
				owned(webName, "A", "203.0.113.10", 300), owned(webName, "AAAA", "2001:db8::10", 300),
				owned(aliasName, "CNAME", webName, 60),
			},
		},
		{
			name: "a TTL below the minimum is raised to it",
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, acmeName+". 5 IN TXT short"))
				return m
			},
			want: []provider.Record{owned(acmeName, "TXT", "short", 60)},
		},
		{
			name: "adding a record the namespace already wrote with another TTL updates the TTL",
			seed: []provider.Record{owned(acmeName, "TXT", "token-1", 120)},
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, acmeName+". 600 IN TXT token-1"))
				return m
			},
			want: []provider.Record{owned(acmeName, "TXT", "token-1", 600)},
		},
		{
			name: "TXT data with spaces, quotes and several strings round-trips",
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, acmeName+`. 120 IN TXT "a \"quoted\" word" "second"`, acmeName+`. 120 IN TXT "with space"`))
				return m
			},
			want: []provider.Record{owned(acmeName, "TXT", `"a \"quoted\" word" "second"`, 120), owned(acmeName, "TXT", "with space", 120)},
		},
		{
			name: "a multi-string TXT record is deleted by value",
			seed: []provider.Record{owned(acmeName, "TXT", `"a \"quoted\" word" "second"`, 120), owned(acmeName, "TXT", "keep", 120)},
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Remove(rrs(t, acmeName+`. 0 IN TXT "a \"quoted\" word" "second"`))
				return m
			},
			want: []provider.Record{owned(acmeName, "TXT", "keep", 120)},
		},
		{
			name: "a record whose name is outside the grant is refused and nothing is written",
			as:   asTeamA, rcode: dns.RcodeRefused,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, otherName+". 120 IN TXT token"))
				return m
			},
		},
		{
			name: "a granted name with a type that is not granted is refused",
			as:   asTeamA, rcode: dns.RcodeRefused,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, webName+". 120 IN TXT not-granted"))
				return m
			},
		},
		{
			name: "a batch with one granted and one ungranted record writes nothing",
			as:   asTeamA, rcode: dns.RcodeRefused,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, acmeName+". 120 IN TXT ok", "www.example.com. 120 IN A 192.0.2.1"))
				return m
			},
		},
		{
			name: "a granted type the gateway cannot write is refused",
			as:   asTeamA, rcode: dns.RcodeRefused, log: "the gateway cannot write HINFO records",
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, webName+`. 120 IN HINFO "cpu" "os"`))
				return m
			},
		},
		{
			name: "MX, SRV and CAA records inside the grant are added in canonical form",
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t,
					webName+". 300 IN MX 10 Mail.Example.NET.",
					webName+". 300 IN MX 0 .",
					srvName+". 300 IN SRV 10 0 5060 SIP.example.net.",
					webName+`. 300 IN CAA 0 issue "ca.example.net; account=\"1\""`,
					webName+`. 300 IN CAA 0 iodef "mailto:security@example.net"`,
				))
				return m
			},
			want: []provider.Record{
				owned(webName, "MX", "10 mail.example.net", 300), owned(webName, "MX", "0 .", 300),
				owned(srvName, "SRV", "10 0 5060 sip.example.net", 300),
				owned(webName, "CAA", `0 issue "ca.example.net; account=\"1\""`, 300),
				owned(webName, "CAA", `0 iodef "mailto:security@example.net"`, 300),
			},
		},
		{
			name: "an MX record the namespace wrote is deleted by value, whatever the case of its host",
			seed: []provider.Record{owned(webName, "MX", "10 mail.example.net", 300), owned(webName, "MX", "20 mx2.example.net", 300)},
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Remove(rrs(t, webName+". 0 IN MX 10 MAIL.example.net."))
				return m
			},
			want: []provider.Record{owned(webName, "MX", "20 mx2.example.net", 300)},
		},
		{
			name: "adding an SRV record the namespace already wrote with another TTL updates the TTL",
			seed: []provider.Record{owned(srvName, "SRV", "10 0 5060 sip.example.net", 300)},
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, srvName+". 120 IN SRV 10 0 5060 sip.example.net."))
				return m
			},
			want: []provider.Record{owned(srvName, "SRV", "10 0 5060 sip.example.net", 120)},
		},
		{
			name: "a CAA record that was not written by the namespace is not deleted",
			seed: []provider.Record{foreign(webName, "CAA", `0 issue "letsencrypt.org"`)},
			as:   asTeamA, rcode: dns.RcodeRefused, log: "was not written by namespace team-a",
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Remove(rrs(t, webName+`. 0 IN CAA 0 issue "letsencrypt.org"`))
				return m
			},
		},
		{
			name: "a TTL above the grant's maximum is refused",
			as:   asTeamA, rcode: dns.RcodeRefused,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, webName+". 301 IN A 203.0.113.10"))
				return m
			},
		},
		{
			name: "a wrong secret gets NOTAUTH with BADSIG",
			as:   client{key: keyA, secret: wrongSecret, alg: dns.HmacSHA256}, msg: addTXT,
			rcode: dns.RcodeNotAuth, tsigErr: dns.RcodeBadSig,
		},
		{
			name: "an unknown key gets NOTAUTH with BADKEY",
			as:   client{key: "nobody.prod.scopedns.", secret: secretA, alg: dns.HmacSHA256}, msg: addTXT,
			rcode: dns.RcodeNotAuth, tsigErr: dns.RcodeBadKey,
		},
		{
			name: "an algorithm other than the key's gets NOTAUTH with BADKEY",
			as:   client{key: keyA, secret: secretA, alg: dns.HmacSHA512}, msg: addTXT,
			rcode: dns.RcodeNotAuth, tsigErr: dns.RcodeBadKey,
		},
		{
			name: "a key registered with HMAC-MD5 is refused with BADKEY",
			as:   client{key: keyMD5, secret: secretA, md5: true}, msg: addTXT,
			rcode: dns.RcodeNotAuth, tsigErr: dns.RcodeBadKey,
		},
		{
			name: "an HMAC-MD5 signature with a SHA-256 key is refused with BADKEY",
			as:   client{key: keyA, secret: secretA, md5: true}, msg: addTXT,
			rcode: dns.RcodeNotAuth, tsigErr: dns.RcodeBadKey,
		},
		{
			name: "a signature outside the time window gets NOTAUTH with BADTIME",
			as:   client{key: keyA, secret: secretA, alg: dns.HmacSHA256, timeShift: -1000}, msg: addTXT,
			rcode: dns.RcodeNotAuth, tsigErr: dns.RcodeBadTime,
		},
		{
			name: "an unsigned update is refused",
			as:   unsigned, msg: addTXT, rcode: dns.RcodeRefused,
		},
		{
			name: "the previous secret still verifies during the rotation overlap",
			as:   asTeamAPrev, msg: addTXT, rcode: dns.RcodeSuccess,
			want: []provider.Record{owned(acmeName, "TXT", "token-1", 120)},
		},
		{
			name: "a zone that is not the key's gets NOTAUTH",
			as:   asTeamA, rcode: dns.RcodeNotAuth,
			msg: func(t *testing.T) *dns.Msg {
				m := update(otherZone)
				m.Insert(rrs(t, "_acme-challenge.example.org. 120 IN TXT token"))
				return m
			},
		},
		{
			name: "a zone section that is not SOA gets FORMERR",
			as:   asTeamA, rcode: dns.RcodeFormatError,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Question[0].Qtype = dns.TypeA
				return m
			},
		},
		{
			name: "a name outside the zone gets NOTZONE",
			as:   asTeamA, rcode: dns.RcodeNotZone,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, "_acme-challenge.example.net. 120 IN TXT token"))
				return m
			},
		},
		{
			name: "an add with a meta type gets FORMERR",
			as:   asTeamA, rcode: dns.RcodeFormatError,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Ns = append(m.Ns, anyRR(acmeName, dns.TypeAXFR, dns.ClassINET))
				return m
			},
		},
		{
			name: "prerequisite name-in-use on an unused name fails with NXDOMAIN",
			as:   asTeamA, rcode: dns.RcodeNameError,
			msg: func(t *testing.T) *dns.Msg {
				m := addTXT(t)
				m.NameUsed([]dns.RR{anyRR(acmeName, dns.TypeANY, dns.ClassANY)})
				return m
			},
		},
		{
			name: "prerequisite name-not-in-use on a used name fails with YXDOMAIN",
			seed: []provider.Record{foreign(acmeName, "TXT", "someone")},
			as:   asTeamA, rcode: dns.RcodeYXDomain,
			msg: func(t *testing.T) *dns.Msg {
				m := addTXT(t)
				m.NameNotUsed([]dns.RR{anyRR(acmeName, dns.TypeANY, dns.ClassNONE)})
				return m
			},
		},
		{
			name: "prerequisite RRset-exists on a missing RRset fails with NXRRSET",
			seed: []provider.Record{owned(webName, "A", "203.0.113.10", 300)},
			as:   asTeamA, rcode: dns.RcodeNXRrset,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.RRsetUsed([]dns.RR{anyRR(webName, dns.TypeAAAA, 0)})
				m.Insert(rrs(t, webName+". 300 IN A 203.0.113.11"))
				return m
			},
		},
		{
			name: "prerequisite RRset-does-not-exist on an existing RRset fails with YXRRSET",
			seed: []provider.Record{owned(webName, "A", "203.0.113.10", 300)},
			as:   asTeamA, rcode: dns.RcodeYXRrset,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.RRsetNotUsed([]dns.RR{anyRR(webName, dns.TypeA, 0)})
				m.Insert(rrs(t, webName+". 300 IN A 203.0.113.11"))
				return m
			},
		},
		{
			name: "a value-dependent prerequisite that matches lets the update through",
			seed: []provider.Record{owned(webName, "A", "203.0.113.10", 300)},
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Used(rrs(t, webName+". 0 IN A 203.0.113.10"))
				m.Remove(rrs(t, webName+". 0 IN A 203.0.113.10"))
				m.Insert(rrs(t, webName+". 300 IN A 203.0.113.11"))
				return m
			},
			want: []provider.Record{owned(webName, "A", "203.0.113.11", 300)},
		},
		{
			name: "a value-dependent prerequisite that differs fails with NXRRSET",
			seed: []provider.Record{owned(webName, "A", "203.0.113.10", 300), owned(webName, "A", "203.0.113.12", 300)},
			as:   asTeamA, rcode: dns.RcodeNXRrset,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Used(rrs(t, webName+". 0 IN A 203.0.113.10"))
				m.Insert(rrs(t, webName+". 300 IN A 203.0.113.11"))
				return m
			},
		},
		{
			name: "a prerequisite on a name without a grant is refused before it is evaluated",
			seed: []provider.Record{foreign("www.example.com", "A", "192.0.2.1")},
			as:   asTeamA, rcode: dns.RcodeRefused,
			msg: func(t *testing.T) *dns.Msg {
				m := addTXT(t)
				m.NameUsed([]dns.RR{anyRR("www.example.com", dns.TypeANY, dns.ClassANY)})
				return m
			},
		},
		{
			name: "a prerequisite with a TTL gets FORMERR",
			as:   asTeamA, rcode: dns.RcodeFormatError,
			msg: func(t *testing.T) *dns.Msg {
				m := addTXT(t)
				p := anyRR(acmeName, dns.TypeANY, dns.ClassANY)
				p.Header().Ttl = 5
				m.Answer = append(m.Answer, p)
				return m
			},
		},
		{
			name: "deleting a record the namespace did not write is refused",
			seed: []provider.Record{foreign(acmeName, "TXT", "someone")},
			as:   asTeamA, rcode: dns.RcodeRefused,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Remove(rrs(t, acmeName+". 0 IN TXT someone"))
				return m
			},
		},
		{
			name: "deleting an RRset that holds a record another namespace wrote is refused",
			seed: []provider.Record{owned(acmeName, "TXT", "mine", 120), {Name: acmeName, Type: "TXT", Content: "theirs", TTL: 120, Comment: OwnerComment(testCluster, "team-b")}},
			as:   asTeamA, rcode: dns.RcodeRefused,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.RemoveRRset([]dns.RR{anyRR(acmeName, dns.TypeTXT, 0)})
				return m
			},
		},
		{
			name: "adding a record identical to one the namespace did not write is refused",
			seed: []provider.Record{foreign(acmeName, "TXT", "token-1")},
			as:   asTeamA, msg: addTXT, rcode: dns.RcodeRefused,
		},
		{
			name: "adding beside a record the namespace did not write leaves that record alone",
			seed: []provider.Record{foreign(acmeName, "TXT", "someone")},
			as:   asTeamA, msg: addTXT, rcode: dns.RcodeSuccess,
			want: []provider.Record{foreign(acmeName, "TXT", "someone"), owned(acmeName, "TXT", "token-1", 120)},
		},
		{
			name: "deleting every RRset at a name that holds an ungranted type is refused",
			seed: []provider.Record{owned(webName, "A", "203.0.113.10", 300), foreign(webName, "TXT", "v=spf1 -all")},
			as:   asTeamA, rcode: dns.RcodeRefused,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.RemoveName([]dns.RR{anyRR(webName, dns.TypeANY, 0)})
				return m
			},
		},
		{
			name: "deleting every RRset at a name deletes the granted records the namespace wrote",
			seed: []provider.Record{owned(webName, "A", "203.0.113.10", 300), owned(webName, "AAAA", "2001:db8::10", 300)},
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.RemoveName([]dns.RR{anyRR(webName, dns.TypeANY, 0)})
				return m
			},
			want: []provider.Record{},
		},
		{
			name: "deleting every RRset at a name without a grant is refused",
			as:   asTeamA, rcode: dns.RcodeRefused,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.RemoveName([]dns.RR{anyRR("www.example.com", dns.TypeANY, 0)})
				return m
			},
		},
		{
			name: "a CNAME added beside other data is ignored as RFC 2136 says",
			seed: []provider.Record{foreign(aliasName, "TXT", "someone")},
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, aliasName+". 60 IN CNAME target.example.net."))
				return m
			},
		},
		{
			name: "a CNAME the namespace wrote is replaced by a new CNAME",
			seed: []provider.Record{owned(aliasName, "CNAME", "old.example.net", 60)},
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, aliasName+". 60 IN CNAME new.example.net."))
				return m
			},
			want: []provider.Record{owned(aliasName, "CNAME", "new.example.net", 60)},
		},
		{
			name: "a record added and deleted in the same update is never written",
			as:   asTeamA, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := addTXT(t)
				m.Remove(rrs(t, acmeName+". 0 IN TXT token-1"))
				return m
			},
		},
		{
			name: "a key whose scope has no provider gets SERVFAIL",
			as:   client{key: keyBroken, secret: secretA, alg: dns.HmacSHA256}, msg: addTXT, rcode: dns.RcodeServerFailure,
		},
		{
			name: "another namespace's key cannot write the first namespace's name",
			as:   asTeamB, msg: addTXT, rcode: dns.RcodeRefused,
		},
		{
			name: "an HMAC-SHA512 key writes its own grant",
			as:   asTeamB, rcode: dns.RcodeSuccess,
			msg: func(t *testing.T) *dns.Msg {
				m := update(testZone)
				m.Insert(rrs(t, otherName+". 120 IN TXT token-b"))
				return m
			},
			want: []provider.Record{{Name: otherName, Type: "TXT", Content: "token-b", TTL: 120, Comment: OwnerComment(testCluster, "team-b")}},
		},
	}
}

func TestUpdates(t *testing.T) {
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			for _, tc := range updateCases() {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					f := newFixture(t, nil)
					f.seed(tc.seed...)
					before := recordSet(f.records())
					r, err := f.exchange(network, tc.as, tc.msg(t))
					if r == nil {
						t.Fatalf("no answer: %v", err)
					}
					if r.Rcode != tc.rcode {
						t.Fatalf("rcode %s, want %s\n%s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], f.logs.String())
					}
					checkTSIG(t, tc.as, tc.tsigErr, r, err)
					want := before
					if tc.want != nil {
						want = recordSet(tc.want)
					}
					if got := recordSet(f.records()); !slices.Equal(got, want) {
						t.Errorf("records after:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
					}
					if got := f.observed(); !slices.Equal(got, []string{dns.RcodeToString[tc.rcode]}) {
						t.Errorf("observer saw %v, want [%s]", got, dns.RcodeToString[tc.rcode])
					}
					if tc.log != "" && !strings.Contains(f.logs.String(), tc.log) {
						t.Errorf("the log does not say %q:\n%s", tc.log, f.logs.String())
					}
				})
			}
		})
	}
}

// checkTSIG checks the TSIG of an answer: signed with the client's secret
// (the client verified it) unless the request was unsigned or failed
// BADKEY/BADSIG, and carrying the expected TSIG error.
func checkTSIG(t *testing.T, c client, wantErr uint16, r *dns.Msg, err error) {
	t.Helper()
	ts := r.IsTsig()
	switch {
	case c.key == "":
		if ts != nil || err != nil {
			t.Errorf("unsigned request got TSIG %v, err %v", ts, err)
		}
		return
	case ts == nil:
		t.Fatalf("signed request got an unsigned answer (err %v)", err)
	}
	if ts.Error != wantErr {
		t.Errorf("TSIG error %s, want %s", dns.RcodeToString[int(ts.Error)], dns.RcodeToString[int(wantErr)])
	}
	switch wantErr {
	case dns.RcodeBadKey, dns.RcodeBadSig:
		if ts.MACSize != 0 {
			t.Errorf("BADKEY/BADSIG answer has a MAC of %d bytes, want none", ts.MACSize)
		}
		return
	case dns.RcodeBadTime:
		if ts.OtherLen != 6 || ts.TimeSigned == 0 {
			t.Errorf("BADTIME answer: other len %d, time %d; want the request's time and the server's", ts.OtherLen, ts.TimeSigned)
		}
	}
	if err != nil {
		t.Errorf("answer's TSIG did not verify: %v", err)
	}
}

func recordSet(rs []provider.Record) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		ttl := r.TTL
		if ttl == 0 {
			ttl = 1
		}
		out = append(out, fmt.Sprintf("%s %s %q ttl=%d owner=%q", r.Name, r.Type, r.Content, ttl, r.Comment))
	}
	slices.Sort(out)
	return out
}

func TestQueries(t *testing.T) {
	f := newFixture(t, nil)
	soaQuery := func(name string, qtype uint16) *dns.Msg {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qtype)
		return m
	}
	for _, tc := range []struct {
		name       string
		as         client
		msg        *dns.Msg
		rcode      int
		answer, ns int
	}{
		{name: "a signed SOA query for the key's zone apex is answered", as: asTeamA, msg: soaQuery(testZone, dns.TypeSOA), rcode: dns.RcodeSuccess, answer: 1},
		{name: "a signed SOA query below the apex gets the SOA in the authority section", as: asTeamA, msg: soaQuery(acmeName, dns.TypeSOA), rcode: dns.RcodeSuccess, ns: 1},
		{name: "an unsigned SOA query is refused", as: unsigned, msg: soaQuery(testZone, dns.TypeSOA), rcode: dns.RcodeRefused},
		{name: "an SOA query outside the key's zones is refused", as: asTeamA, msg: soaQuery(otherZone, dns.TypeSOA), rcode: dns.RcodeRefused},
		{name: "a query for any other type is refused", as: asTeamA, msg: soaQuery(acmeName, dns.TypeTXT), rcode: dns.RcodeRefused},
		{name: "a query signed with a wrong secret gets NOTAUTH", as: client{key: keyA, secret: wrongSecret, alg: dns.HmacSHA256}, msg: soaQuery(testZone, dns.TypeSOA), rcode: dns.RcodeNotAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := f.exchange("udp", tc.as, tc.msg)
			if r == nil {
				t.Fatalf("no answer: %v", err)
			}
			if r.Rcode != tc.rcode || len(r.Answer) != tc.answer || len(r.Ns) != tc.ns {
				t.Fatalf("rcode %s answer %d authority %d, want %s %d %d", dns.RcodeToString[r.Rcode], len(r.Answer), len(r.Ns), dns.RcodeToString[tc.rcode], tc.answer, tc.ns)
			}
			if tc.rcode == dns.RcodeSuccess {
				if err != nil {
					t.Errorf("answer's TSIG did not verify: %v", err)
				}
				soa := append(r.Answer, r.Ns...)[0].(*dns.SOA)
				if soa.Hdr.Name != testZone+"." || !r.Authoritative {
					t.Errorf("SOA %v (aa=%v), want the zone apex, authoritative", soa, r.Authoritative)
				}
			}
		})
	}
}

func TestOpcodesOtherThanQueryAndUpdateGetNOTIMP(t *testing.T) {
	f := newFixture(t, nil)
	for _, op := range []int{dns.OpcodeNotify, dns.OpcodeStatus, dns.OpcodeIQuery} {
		m := new(dns.Msg)
		m.SetQuestion(testZone+".", dns.TypeSOA)
		m.Opcode = op
		r, err := f.exchange("udp", unsigned, m)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeNotImplemented || len(r.Answer)+len(r.Ns)+len(r.Extra) != 0 {
			t.Errorf("opcode %s: rcode %s with %d records, want NOTIMP and nothing", dns.OpcodeToString[op], dns.RcodeToString[r.Rcode], len(r.Answer)+len(r.Ns)+len(r.Extra))
		}
	}
}

func TestRateLimitPerKey(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.RatePerKey, o.BurstPerKey = 0.001, 2 })
	send := func(c client, content string) int {
		m := update(testZone)
		name := acmeName
		if c.key == keyB {
			name = otherName
		}
		m.Insert(rrs(t, name+". 120 IN TXT "+content))
		r, err := f.exchange("udp", c, m)
		if r == nil {
			t.Fatal(err)
		}
		return r.Rcode
	}
	for i, want := range []int{dns.RcodeSuccess, dns.RcodeSuccess, dns.RcodeRefused, dns.RcodeRefused} {
		if got := send(asTeamA, fmt.Sprintf("t%d", i)); got != want {
			t.Fatalf("update %d: %s, want %s", i+1, dns.RcodeToString[got], dns.RcodeToString[want])
		}
	}
	if got := send(asTeamB, "b"); got != dns.RcodeSuccess {
		t.Errorf("another key's update: %s, want NOERROR: the limit is per key", dns.RcodeToString[got])
	}
	if n := len(f.records()); n != 3 {
		t.Errorf("%d records written, want 3", n)
	}
	if !strings.Contains(f.logs.String(), "rate limit exceeded") {
		t.Errorf("audit log does not say why:\n%s", f.logs.String())
	}
}

func TestAuditLogNamesTheKeyAndNeverTheSecret(t *testing.T) {
	f := newFixture(t, nil)
	m := update(testZone)
	m.Insert(rrs(t, acmeName+". 120 IN TXT token-1"))
	if r, err := f.exchange("udp", asTeamA, m); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("update: %v %v", r, err)
	}
	m = update(testZone)
	m.Insert(rrs(t, otherName+". 120 IN TXT nope"))
	if r, _ := f.exchange("tcp", asTeamA, m); r == nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("update: %v", r)
	}
	logs := f.logs.String()
	for _, want := range []string{`"key":"team-a.prod.scopedns."`, `"namespace":"team-a"`, `"scope":"prod"`, `"result":"NOERROR"`, `"result":"REFUSED"`, acmeName, otherName, `"types":["TXT"]`, `"created":1`} {
		if !strings.Contains(logs, want) {
			t.Errorf("audit log lacks %s:\n%s", want, logs)
		}
	}
	for _, secret := range []string{secretA, secretAPrev} {
		if strings.Contains(logs, secret) {
			t.Fatalf("audit log contains a secret:\n%s", logs)
		}
	}
	if n := strings.Count(logs, `"msg":"rfc2136 update"`); n != 2 {
		t.Errorf("%d audit lines, want one per update", n)
	}
}

func TestKeysTakeEffectAtOnce(t *testing.T) {
	f := newFixture(t, nil)
	send := func() int {
		m := update(testZone)
		m.Insert(rrs(t, acmeName+". 120 IN TXT x"))
		r, _ := f.exchange("udp", asTeamA, m)
		if r == nil {
			t.Fatal("no answer")
		}
		return r.Rcode
	}
	f.keys.Delete(keyA)
	if got := send(); got != dns.RcodeNotAuth {
		t.Fatalf("revoked key: %s, want NOTAUTH", dns.RcodeToString[got])
	}
	k := teamAKey(f.zoneID)
	k.Secrets = []string{wrongSecret, secretA} // rotated: the old one is now the previous
	f.keys.Put(k)
	if got := send(); got != dns.RcodeSuccess {
		t.Fatalf("re-added key: %s, want NOERROR", dns.RcodeToString[got])
	}
	if n := f.srv.verified.len(); n != 0 {
		t.Errorf("%d verification records left behind", n)
	}
}

func TestProviderFailureIsSERVFAILAndWritesNothing(t *testing.T) {
	f := newFixture(t, nil)
	f.store.FailNext(provider.OpRecordsBatch, &provider.Error{Op: provider.OpRecordsBatch, Kind: provider.KindUnavailable, Status: 503, Message: "down"})
	m := update(testZone)
	m.Insert(rrs(t, acmeName+". 120 IN TXT x"))
	r, err := f.exchange("udp", asTeamA, m)
	if r == nil || r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("answer %v (%v), want SERVFAIL", r, err)
	}
	if len(f.records()) != 0 {
		t.Errorf("records written: %v", f.records())
	}
}

func TestOversizedTCPMessageClosesTheConnection(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxMessageSize = 600 })
	m := update(testZone)
	for i := range 20 {
		m.Insert(rrs(t, fmt.Sprintf("%s. 120 IN TXT padding-padding-padding-%d", acmeName, i)))
	}
	r, err := f.exchange("tcp", asTeamA, m)
	if err == nil {
		t.Fatalf("oversized message answered: %v", r)
	}
	if len(f.records()) != 0 {
		t.Errorf("records written: %v", f.records())
	}
}

func TestTooManyRecordsAreRefused(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.MaxUpdateRecords = 2 })
	m := update(testZone)
	m.Insert(rrs(t, acmeName+". 120 IN TXT a", acmeName+". 120 IN TXT b", acmeName+". 120 IN TXT c"))
	r, err := f.exchange("tcp", asTeamA, m)
	if r == nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("answer %v (%v), want REFUSED", r, err)
	}
}

func TestNewChecksOptions(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("New accepted empty options")
	}
	s, err := New(Options{Keys: NewKeyStore(), Writers: WritersFunc(func(context.Context, string) (Writer, error) { return nil, errors.New("x") }), ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if s.NeedLeaderElection() {
		t.Error("every replica must serve")
	}
}

func TestStartFailsWhenThePortIsTaken(t *testing.T) {
	f := newFixture(t, nil)
	s, err := New(Options{Addr: f.addr, Keys: f.keys, Writers: memoryWriters(f.store), ClusterName: testCluster})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Start(ctx); err == nil {
		t.Fatal("Start succeeded on a taken port")
	}
}

func TestCanonicalAlgorithm(t *testing.T) {
	for in, want := range map[string]string{
		"hmac-sha256.": dns.HmacSHA256, "HMACSHA256": dns.HmacSHA256, "hmac-sha256": dns.HmacSHA256, "sha512": dns.HmacSHA512,
		"HMACSHA512": dns.HmacSHA512, dns.HmacMD5: "", "HMACMD5": "", "hmac-sha1.": "", "hmac-sha384.": "", "": "",
	} {
		got, ok := CanonicalAlgorithm(in)
		if got != want || ok != (want != "") {
			t.Errorf("CanonicalAlgorithm(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func TestOwnerCommentCannotBeAClaim(t *testing.T) {
	c := OwnerComment(testCluster, "team-a")
	o, ok := provider.ParseOwner(c)
	if !ok || !o.IsCluster(testCluster) || o.Namespace != "team-a" {
		t.Fatalf("OwnerComment %q parses as %+v, %v", c, o, ok)
	}
	if o.Is(testCluster, "team-a", "rfc2136") || c == provider.OwnerComment(testCluster, "team-a", "rfc2136") {
		t.Errorf("OwnerComment %q collides with a claim named rfc2136", c)
	}
}
