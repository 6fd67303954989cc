package gateway

import (
	"testing"

	"github.com/miekg/dns"
)

// The response codes of requests outside the key's grants are what they
// were before the zone writer: REFUSED, decided before the data of an RR is
// read. A malformed RR at a name the key has no grant at, or after a
// prerequisite there, is refused for the grant, not answered FORMERR for
// its data.
func TestRequestsOutsideTheGrantAreRefusedWhateverTheirData(t *testing.T) {
	// A CAA tag of letters and digits only: "bad-tag" packs on the wire
	// and is refused by the gateway's data check.
	badCAA := func(name string) dns.RR {
		return &dns.CAA{Hdr: dns.RR_Header{Name: name + ".", Rrtype: dns.TypeCAA, Class: dns.ClassINET, Ttl: 60}, Tag: "bad-tag", Value: "ca.example.net"}
	}
	for _, tc := range []struct {
		name string
		msg  func(t *testing.T) *dns.Msg
	}{
		{"a CAA with a malformed tag at a name without a grant", func(t *testing.T) *dns.Msg {
			m := update(testZone)
			m.Ns = append(m.Ns, badCAA("mail.example.com"))
			return m
		}},
		{"a prerequisite at a name without a grant before a malformed add inside it", func(t *testing.T) *dns.Msg {
			m := update(testZone)
			m.Answer = append(m.Answer, &dns.ANY{Hdr: dns.RR_Header{Name: "elsewhere.example.com.", Rrtype: dns.TypeANY, Class: dns.ClassANY}})
			m.Ns = append(m.Ns, badCAA(webName))
			return m
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			r, err := f.exchange("udp", asTeamA, tc.msg(t))
			if r == nil {
				t.Fatalf("no answer: %v", err)
			}
			if r.Rcode != dns.RcodeRefused {
				t.Fatalf("rcode %s, want REFUSED\n%s", dns.RcodeToString[r.Rcode], f.logs.String())
			}
		})
	}
}
