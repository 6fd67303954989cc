package provider_test

import (
	"strings"
	"testing"

	"github.com/scopedns/scopedns/internal/provider"
)

func TestCanonicalContent(t *testing.T) {
	for name, tc := range map[string]struct {
		typ, content, want string
	}{
		"an MX host loses its case and trailing dot":            {"MX", "10 Mail.Example.COM.", "10 mail.example.com"},
		"an MX preference loses leading zeros":                  {"mx", "010\tmail.example.com", "10 mail.example.com"},
		"the null MX keeps its root target":                     {"MX", "0 .", "0 ."},
		"an SRV record is four fields with a normalised target": {"SRV", "10  5 443 SVC.example.com.", "10 5 443 svc.example.com"},
		"an SRV record with zeros keeps them":                   {"SRV", "0 0 0 .", "0 0 0 ."},
		"a CAA value is always quoted":                          {"CAA", "0 issue letsencrypt.org", `0 issue "letsencrypt.org"`},
		"a quoted CAA value stays quoted":                       {"CAA", `0 issue "letsencrypt.org"`, `0 issue "letsencrypt.org"`},
		"CAA fields may be separated by tabs":                   {"CAA", "128\tissuewild\t\";\"", `128 issuewild ";"`},
		"a CAA tag compares without case":                       {"CAA", `0 ISSUE "ca.example.net"`, `0 issue "ca.example.net"`},
		"a CAA value keeps its spaces and escapes its quotes":   {"CAA", `0 issue "ca.example.net; account=\"x\" y"`, `0 issue "ca.example.net; account=\"x\" y"`},
		"a decimal escape in a CAA value is its byte":           {"CAA", `0 iodef "mailto:a\064example.net"`, `0 iodef "mailto:a@example.net"`},
		"an empty quoted CAA value is kept":                     {"CAA", `0 issue ""`, `0 issue ""`},
		"an AAAA address is written in its standard form":       {"AAAA", "2001:DB8:0::10", "2001:db8::10"},
		"a CNAME target loses its case and trailing dot":        {"CNAME", "LB.example.net.", "lb.example.net"},
		"TXT is left as it is":                                  {"TXT", `"Hello"`, `"Hello"`},
		"MX content that does not parse is left as it is":       {"MX", "mail.example.com", "mail.example.com"},
		"an internationalised MX host is written as ASCII":      {"MX", "10 Mäil.example.com", "10 xn--mil-qla.example.com"},
		"an internationalised CNAME target is written as ASCII": {"CNAME", "bücher.example.", "xn--bcher-kva.example"},
		"an internationalised SRV target is written as ASCII":   {"SRV", "1 2 3 ñ.example.com", "1 2 3 xn--ida.example.com"},
	} {
		t.Run(name, func(t *testing.T) {
			if got := provider.CanonicalContent(tc.typ, tc.content); got != tc.want {
				t.Fatalf("CanonicalContent(%s, %q) = %q, want %q", tc.typ, tc.content, got, tc.want)
			}
		})
	}
}

func TestStructuredContentRoundTrips(t *testing.T) {
	mx := provider.MX{Preference: 65535, Host: "mail.example.com"}
	if got, err := provider.ParseMX(mx.Content()); err != nil || got != mx {
		t.Errorf("ParseMX(%q) = %+v, %v; want %+v", mx.Content(), got, err, mx)
	}
	srv := provider.SRV{Priority: 1, Weight: 0, Port: 65535, Target: "."}
	if got, err := provider.ParseSRV(srv.Content()); err != nil || got != srv {
		t.Errorf("ParseSRV(%q) = %+v, %v; want %+v", srv.Content(), got, err, srv)
	}
	for _, v := range []string{"letsencrypt.org", "", ";", `a "quoted" \ value; k=v`, "mailto:x@example.net"} {
		caa := provider.CAA{Flags: 128, Tag: "issue", Value: v}
		if got, err := provider.ParseCAA(caa.Content()); err != nil || got != caa {
			t.Errorf("ParseCAA(%q) = %+v, %v; want %+v", caa.Content(), got, err, caa)
		}
	}
}

func TestStructuredContentErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		typ, content, want string
	}{
		"an MX without a preference":         {"MX", "mail.example.com", "<preference> <host>"},
		"an MX preference above 65535":       {"MX", "65536 mail.example.com", "MX preference"},
		"an MX host with an empty label":     {"MX", "10 mail..example.com", "MX host"},
		"an SRV with three fields":           {"SRV", "5 443 svc.example.com", "<priority> <weight> <port> <target>"},
		"an SRV port that is not a number":   {"SRV", "10 5 https svc.example.com", "SRV port"},
		"CAA flags above 255":                {"CAA", `256 issue "ca.example.net"`, "flags from 0 to 255"},
		"a CAA tag with a dash":              {"CAA", `0 issue-wild "ca.example.net"`, "CAA tag"},
		"a CAA value without its last quote": {"CAA", `0 issue "ca.example.net`, "closing quote"},
		"text after a quoted CAA value":      {"CAA", `0 issue "a" b`, "after its closing quote"},
		"an unquoted CAA value with a space": {"CAA", `0 issue ca.example.net; k=v`, "must be \"quoted\""},
		"a CAA record without a value":       {"CAA", `0 issue`, "missing"},
	} {
		t.Run(name, func(t *testing.T) {
			err := provider.Changes{Create: []provider.Record{{Name: "x.example.com", Type: tc.typ, Content: tc.content}}}.Validate()
			if !provider.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an invalid error mentioning %q", err, tc.want)
			}
		})
	}
}
