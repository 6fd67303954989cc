package gateway

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
)

// rdataEmpty reports whether an RR carries no RDATA (the "empty" RRs of RFC
// 2136 prerequisites and deletes), whether it was unpacked from the wire or
// built in memory.
func rdataEmpty(rr dns.RR) bool {
	switch v := rr.(type) {
	case *dns.ANY:
		return true
	case *dns.RFC3597:
		return v.Rdata == ""
	}
	h := rr.Header()
	newRR, ok := dns.TypeToRR[h.Rrtype]
	if !ok {
		return h.Rdlength == 0
	}
	zero := newRR()
	*zero.Header() = *h
	return dns.IsDuplicate(rr, zero)
}

// contentOf is the provider content for an RR of a writable type: an address
// in its canonical form, a target name without the trailing dot, TXT strings
// as one string when that is unambiguous and in zone-file quoting otherwise,
// MX, SRV and CAA as the zone-file data provider.Record carries for them.
func contentOf(rr dns.RR) (string, bool) {
	switch v := rr.(type) {
	case *dns.A:
		a, ok := netip.AddrFromSlice(v.A.To4())
		if !ok {
			return "", false
		}
		return a.String(), true
	case *dns.AAAA:
		if len(v.AAAA) != 16 {
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
		return parsed(provider.MX{Preference: v.Preference, Host: v.Mx}.Content(), provider.ParseMX)
	case *dns.SRV:
		return parsed(provider.SRV{Priority: v.Priority, Weight: v.Weight, Port: v.Port, Target: v.Target}.Content(), provider.ParseSRV)
	case *dns.CAA:
		// From the wire, Value holds the raw bytes, which CAA.Content quotes.
		return parsed(provider.CAA{Flags: v.Flag, Tag: v.Tag, Value: v.Value}.Content(), provider.ParseCAA)
	}
	return "", false
}

// parsed returns content if parse accepts it (a CAA tag of letters and
// digits, a target that is a name).
func parsed[T any](content string, parse func(string) (T, error)) (string, bool) {
	if _, err := parse(content); err != nil {
		return "", false
	}
	return content, true
}

func nameContent(n string) (string, bool) {
	n = provider.NormalizeName(n)
	return n, n != ""
}

// txtContent writes TXT strings (in miekg/dns's escaped form) as provider
// content: a single plain string as is, anything else as quoted strings.
func txtContent(ss []string) string {
	if len(ss) == 1 && ss[0] != "" && !strings.ContainsAny(ss[0], `"\`) {
		return ss[0]
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

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
