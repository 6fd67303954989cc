package rfc2136

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
)

// maxTXTString is the longest character-string of a TXT record (RFC 1035).
const maxTXTString = 255

// contentOf is the provider content of an RR of a supported type: an address
// in its canonical form, a target name without the trailing dot, TXT text as
// one plain string when it is one (or was split by toRR) and in zone-file
// quoting otherwise, MX, SRV and CAA as their zone-file data.
func contentOf(rr dns.RR) (string, bool) {
	switch v := rr.(type) {
	case *dns.A:
		a, ok := netip.AddrFromSlice(v.A.To4())
		return a.String(), ok
	case *dns.AAAA:
		if len(v.AAAA) != net.IPv6len {
			return "", false
		}
		return netip.AddrFrom16([16]byte(v.AAAA)).String(), true
	case *dns.CNAME:
		return nameContent(v.Target)
	case *dns.NS:
		return nameContent(v.Ns)
	case *dns.PTR:
		return nameContent(v.Ptr)
	case *dns.TXT:
		if len(v.Txt) == 0 {
			return "", false
		}
		return txtContent(v.Txt), true
	case *dns.MX:
		return provider.MX{Preference: v.Preference, Host: v.Mx}.Content(), true
	case *dns.SRV:
		return provider.SRV{Priority: v.Priority, Weight: v.Weight, Port: v.Port, Target: v.Target}.Content(), true
	case *dns.CAA:
		return provider.CAA{Flags: v.Flag, Tag: v.Tag, Value: v.Value}.Content(), true
	}
	return "", false
}

func nameContent(n string) (string, bool) {
	n = provider.NormalizeName(n)
	return n, n != ""
}

// txtContent writes TXT strings (in miekg/dns's escaped form) as provider
// content. Strings without escapes that toRR could have split from one text
// (every one but the last exactly 255 bytes) are joined into that text, so
// that long plain text reads back as it was written.
func txtContent(ss []string) string {
	plain := true
	for i, s := range ss {
		if strings.ContainsAny(s, `"\`) || s == "" || (i < len(ss)-1 && len(s) != maxTXTString) {
			plain = false
			break
		}
	}
	if plain {
		return strings.Join(ss, "")
	}
	var b strings.Builder
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
	}
	return b.String()
}

// toRR builds the RR of a record, with the given TTL.
func toRR(r provider.Record, ttl uint32) (dns.RR, error) {
	hdr := dns.RR_Header{Name: dns.Fqdn(provider.NormalizeName(r.Name)), Class: dns.ClassINET, Ttl: ttl}
	content := strings.TrimSpace(r.Content)
	switch strings.ToUpper(r.Type) {
	case "A", "AAAA":
		a, err := netip.ParseAddr(content)
		if err != nil {
			return nil, fmt.Errorf("%s content %q is not an address", r.Type, r.Content)
		}
		if strings.EqualFold(r.Type, "A") {
			if !a.Is4() {
				return nil, fmt.Errorf("A content %q is not an IPv4 address", r.Content)
			}
			hdr.Rrtype = dns.TypeA
			return &dns.A{Hdr: hdr, A: a.AsSlice()}, nil
		}
		if !a.Is6() || a.Is4In6() {
			return nil, fmt.Errorf("AAAA content %q is not an IPv6 address", r.Content)
		}
		hdr.Rrtype = dns.TypeAAAA
		return &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()}, nil
	case "CNAME":
		hdr.Rrtype = dns.TypeCNAME
		t, err := target(content)
		return &dns.CNAME{Hdr: hdr, Target: t}, err
	case "NS":
		hdr.Rrtype = dns.TypeNS
		t, err := target(content)
		return &dns.NS{Hdr: hdr, Ns: t}, err
	case "PTR":
		hdr.Rrtype = dns.TypePTR
		t, err := target(content)
		return &dns.PTR{Hdr: hdr, Ptr: t}, err
	case "TXT":
		hdr.Rrtype = dns.TypeTXT
		return &dns.TXT{Hdr: hdr, Txt: txtStrings(r.Content)}, nil
	case "MX":
		m, err := provider.ParseMX(content)
		if err != nil {
			return nil, err
		}
		hdr.Rrtype = dns.TypeMX
		return &dns.MX{Hdr: hdr, Preference: m.Preference, Mx: dns.Fqdn(m.Host)}, nil
	case "SRV":
		s, err := provider.ParseSRV(content)
		if err != nil {
			return nil, err
		}
		hdr.Rrtype = dns.TypeSRV
		return &dns.SRV{Hdr: hdr, Priority: s.Priority, Weight: s.Weight, Port: s.Port, Target: dns.Fqdn(s.Target)}, nil
	case "CAA":
		c, err := provider.ParseCAA(content)
		if err != nil {
			return nil, err
		}
		hdr.Rrtype = dns.TypeCAA
		return &dns.CAA{Hdr: hdr, Flag: c.Flags, Tag: c.Tag, Value: c.Value}, nil
	}
	return nil, fmt.Errorf("type %q is not supported", r.Type)
}

func target(content string) (string, error) {
	n := provider.NormalizeName(content)
	if _, ok := dns.IsDomainName(n); !ok || n == "" {
		return "", fmt.Errorf("target %q is not a domain name", content)
	}
	return dns.Fqdn(n), nil
}

// txtStrings turns TXT content into miekg/dns strings: the raw strings of
// provider.TXTStrings, a single text longer than 255 bytes split into
// 255-byte pieces, each escaped for miekg/dns (which reads \ and " as
// escapes when it packs).
func txtStrings(content string) []string {
	raw := provider.TXTStrings(content)
	if len(raw) == 1 && len(raw[0]) > maxTXTString {
		s := raw[0]
		raw = nil
		for len(s) > maxTXTString {
			raw = append(raw, s[:maxTXTString])
			s = s[maxTXTString:]
		}
		raw = append(raw, s)
	}
	out := make([]string, len(raw))
	for i, s := range raw {
		out[i] = escapeTXT(s)
	}
	return out
}

// escapeTXT writes raw bytes the way miekg/dns keeps TXT strings in memory.
func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescapeTXT is the raw bytes of a miekg/dns TXT string.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	parts := provider.TXTStrings(`"` + s + `"`)
	if len(parts) != 1 {
		return s
	}
	return parts[0]
}
