package gateway

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
)

func TestTXTContentRoundTripsThroughTheWire(t *testing.T) {
	for _, s := range []string{`token`, `"with space"`, `"a \"quoted\" word" "second"`, `"back\\slash"`, `"\001\255"`, `""`} {
		t.Run(s, func(t *testing.T) {
			r := rr(t, "x.example.com. 60 IN TXT "+s)
			buf := make([]byte, 512)
			off, err := dns.PackRR(r, buf, 0, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			back, _, err := dns.UnpackRR(buf[:off], 0)
			if err != nil {
				t.Fatal(err)
			}
			c, ok := contentOf(back)
			if !ok {
				t.Fatal("no content")
			}
			if !provider.SameContent("TXT", c, txtContent(r.(*dns.TXT).Txt)) {
				t.Errorf("content %q does not compare equal to the record it came from", c)
			}
			if rdataEmpty(back) {
				t.Error("TXT with data reported empty")
			}
		})
	}
}

func TestStructuredContentRoundTripsThroughTheWire(t *testing.T) {
	for _, tc := range []struct{ rr, want string }{
		{"x.example.com. 60 IN MX 10 Mail.Example.NET.", "10 mail.example.net"},
		{"x.example.com. 60 IN MX 0 .", "0 ."},
		{"_sip._tcp.x.example.com. 60 IN SRV 10 0 5060 sip.example.net.", "10 0 5060 sip.example.net"},
		{`x.example.com. 60 IN CAA 0 issue "ca.example.net; account=\"1\" \\x"`, `0 issue "ca.example.net; account=\"1\" \\x"`},
		{`x.example.com. 60 IN CAA 128 iodef "mailto:security@example.net"`, `128 iodef "mailto:security@example.net"`},
	} {
		t.Run(tc.rr, func(t *testing.T) {
			buf := make([]byte, 512)
			off, err := dns.PackRR(rr(t, tc.rr), buf, 0, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			back, _, err := dns.UnpackRR(buf[:off], 0)
			if err != nil {
				t.Fatal(err)
			}
			if c, ok := contentOf(back); !ok || c != tc.want {
				t.Errorf("content %q, %v; want %q", c, ok, tc.want)
			}
		})
	}
}

func TestRdataEmpty(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rr    dns.RR
		empty bool
	}{
		{"an ANY record is empty", anyRR("x.example.com", dns.TypeTXT, dns.ClassANY), true},
		{"an A record without an address is empty", &dns.A{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeA}}, true},
		{"an MX record without data is empty", &dns.MX{Hdr: dns.RR_Header{Name: "x.", Rrtype: dns.TypeMX}}, true},
		{"an A record with an address is not", rr(t, "x.example.com. 0 IN A 192.0.2.1"), false},
		{"an unknown type without data is empty", &dns.RFC3597{Hdr: dns.RR_Header{Name: "x.", Rrtype: 65280}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rdataEmpty(tc.rr); got != tc.empty {
				t.Errorf("rdataEmpty = %v, want %v", got, tc.empty)
			}
		})
	}
}
