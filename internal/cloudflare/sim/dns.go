package sim

import (
	"net"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

const (
	autoTTL     = 300 // what TTL 1 ("automatic") answers with
	negativeTTL = 300
	maxChase    = 8
)

// ServeDNS answers queries for the served zones authoritatively: SOA and
// NS at the apex, the stored A, AAAA, CNAME, TXT, MX, SRV, CAA and NS
// records, in-zone CNAME chasing and wildcards; REFUSED for names outside
// the zones. It never recurses.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	s.count("dns.query")
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = false
	m.Compress = true
	defer func() {
		if opt := req.IsEdns0(); opt != nil {
			m.SetEdns0(max(opt.UDPSize(), dns.MinMsgSize), false)
		}
		if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
			size := dns.MinMsgSize
			if opt := req.IsEdns0(); opt != nil {
				size = max(int(opt.UDPSize()), dns.MinMsgSize)
			}
			m.Truncate(size)
		}
		_ = w.WriteMsg(m)
	}()
	if req.Opcode != dns.OpcodeQuery {
		m.Rcode = dns.RcodeNotImplemented
		return
	}
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return
	}
	q := req.Question[0]
	if q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeRefused
		return
	}
	name := strings.ToLower(strings.TrimSuffix(q.Name, "."))
	s.mu.RLock()
	defer s.mu.RUnlock()
	z := s.zoneOfLocked(name)
	if z == nil {
		m.Rcode = dns.RcodeRefused
		return
	}
	m.Authoritative = true
	s.answerLocked(m, z, name, q.Qtype)
}

// zoneOfLocked is the longest served zone containing name.
func (s *Server) zoneOfLocked(name string) *zone {
	for n := name; ; {
		if z := s.zoneByName[n]; z != nil {
			return z
		}
		i := strings.IndexByte(n, '.')
		if i < 0 {
			return nil
		}
		n = n[i+1:]
	}
}

func (s *Server) answerLocked(m *dns.Msg, z *zone, name string, qtype uint16) {
	for hop := 0; hop < maxChase; hop++ {
		owner := name
		recs := z.recs.at(name)
		if len(recs) == 0 && name != z.name && !s.nodeExistsLocked(z, name) {
			// RFC 4592: synthesize from the wildcard at the closest encloser.
			wild := "*." + closestEncloser(z, name, s)
			recs = z.recs.at(wild)
			if len(recs) == 0 {
				m.Rcode = dns.RcodeNameError
				m.Ns = []dns.RR{s.soa(z)}
				return
			}
		}
		var answers []dns.RR
		if name == z.name {
			switch qtype {
			case dns.TypeSOA:
				answers = append(answers, s.soa(z))
			case dns.TypeNS:
				answers = append(answers, s.apexNS(z)...)
			case dns.TypeANY:
				answers = append(answers, s.soa(z))
				answers = append(answers, s.apexNS(z)...)
			}
		}
		var cname *Record
		for _, r := range recs {
			if r.Type == "CNAME" {
				cname = r
			}
			if qtype == dns.TypeANY || dns.StringToType[r.Type] == qtype {
				if rr := toRR(owner, r); rr != nil {
					answers = append(answers, rr)
				}
			}
		}
		m.Answer = append(m.Answer, answers...)
		if cname != nil && qtype != dns.TypeCNAME && qtype != dns.TypeANY {
			m.Answer = append(m.Answer, toRR(owner, cname))
			target := cname.Content
			next := s.zoneOfLocked(target)
			if next == nil {
				return // out of our zones: the resolver follows it
			}
			z, name = next, target
			continue
		}
		if len(answers) == 0 {
			m.Ns = []dns.RR{s.soa(z)}
		}
		return
	}
}

// nodeExistsLocked: the name owns records or is an empty non-terminal.
func (s *Server) nodeExistsLocked(z *zone, name string) bool {
	if len(z.recs.byName[name]) > 0 {
		return true
	}
	suffix := "." + name
	for n := range z.recs.byName {
		if strings.HasSuffix(n, suffix) {
			return true
		}
	}
	return false
}

func closestEncloser(z *zone, name string, s *Server) string {
	n := name
	for n != z.name {
		i := strings.IndexByte(n, '.')
		if i < 0 {
			break
		}
		n = n[i+1:]
		if n == z.name || s.nodeExistsLocked(z, n) {
			return n
		}
	}
	return z.name
}

func (s *Server) soa(z *zone) dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: dns.Fqdn(z.name), Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 1800},
		Ns:      dns.Fqdn(s.nameServers[0]),
		Mbox:    dns.Fqdn("hostmaster." + z.name),
		Serial:  z.serial,
		Refresh: 10000,
		Retry:   2400,
		Expire:  604800,
		Minttl:  negativeTTL,
	}
}

func (s *Server) apexNS(z *zone) []dns.RR {
	out := make([]dns.RR, 0, len(s.nameServers))
	for _, ns := range s.nameServers {
		out = append(out, &dns.NS{Hdr: dns.RR_Header{Name: dns.Fqdn(z.name), Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 86400}, Ns: dns.Fqdn(ns)})
	}
	return out
}

func toRR(owner string, r *Record) dns.RR {
	ttl := uint32(r.TTL)
	if r.TTL == 1 {
		ttl = autoTTL
	}
	hdr := dns.RR_Header{Name: dns.Fqdn(owner), Rrtype: dns.StringToType[r.Type], Class: dns.ClassINET, Ttl: ttl}
	switch r.Type {
	case "A":
		return &dns.A{Hdr: hdr, A: net.ParseIP(r.Content).To4()}
	case "AAAA":
		return &dns.AAAA{Hdr: hdr, AAAA: net.ParseIP(r.Content)}
	case "CNAME":
		return &dns.CNAME{Hdr: hdr, Target: dns.Fqdn(r.Content)}
	case "NS":
		return &dns.NS{Hdr: hdr, Ns: dns.Fqdn(r.Content)}
	case "MX":
		return &dns.MX{Hdr: hdr, Preference: uint16(r.Priority), Mx: dns.Fqdn(r.Content)}
	case "TXT":
		return &dns.TXT{Hdr: hdr, Txt: txtStrings(r.Content)}
	case "SRV":
		if r.Data == nil {
			return nil
		}
		return &dns.SRV{Hdr: hdr, Priority: uint16(r.Data.Priority), Weight: uint16(r.Data.Weight), Port: uint16(r.Data.Port), Target: dns.Fqdn(r.Data.Target)}
	case "CAA":
		if r.Data == nil {
			return nil
		}
		return &dns.CAA{Hdr: hdr, Flag: uint8(r.Data.Flags), Tag: r.Data.Tag, Value: r.Data.Value}
	}
	return nil
}

// txtStrings turns TXT content into character strings: quoted strings
// ("a" "b") as written, anything else as one string split every 255 bytes.
func txtStrings(c string) []string {
	if strings.HasPrefix(c, `"`) {
		if parts, ok := parseQuoted(c); ok {
			return splitLong(parts)
		}
	}
	return splitLong([]string{c})
}

func parseQuoted(c string) ([]string, bool) {
	var out []string
	rest := strings.TrimSpace(c)
	for rest != "" {
		if rest[0] != '"' {
			return nil, false
		}
		end := 1
		for end < len(rest) && rest[end] != '"' {
			if rest[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(rest) {
			return nil, false
		}
		s, err := strconv.Unquote(rest[:end+1])
		if err != nil {
			s = strings.ReplaceAll(rest[1:end], `\"`, `"`)
		}
		out = append(out, s)
		rest = strings.TrimSpace(rest[end+1:])
	}
	return out, len(out) > 0
}

// splitLong cuts strings at 255 bytes and escapes backslashes, which
// miekg/dns would otherwise read as escape sequences when packing.
func splitLong(parts []string) []string {
	var out []string
	for _, p := range parts {
		for len(p) > 255 {
			out = append(out, txtEscaper.Replace(p[:255]))
			p = p[255:]
		}
		out = append(out, txtEscaper.Replace(p))
	}
	return out
}

var txtEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`)
