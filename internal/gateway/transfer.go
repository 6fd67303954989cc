package gateway

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// transferMessageSize is the most record bytes (uncompressed) put in one
// message of a zone transfer: below BIND's transfer-message-size (20,480 by
// default) and far below TCP's 64 KiB, so that one long TXT record never
// pushes a message over.
const transferMessageSize = 16 << 10

// transferTTL is the TTL of a record whose provider TTL is automatic (0 or
// 1): Cloudflare's automatic TTL is 300 s.
const transferTTL = 300

// serveTransfer answers an AXFR (RFC 5936) of one of the key's zones with
// the records at the (name, type) pairs the key may write, read from the zone
// writer's snapshot, between two copies of the zone's SOA. The request is
// already authenticated; what is checked here is the zone, the transport and
// the tenant's budget, which the zone writer charges for the read.
func (s *Server) serveTransfer(q *request) int {
	qq := q.r.Question[0]
	q.zone = provider.NormalizeName(qq.Name)
	zoneID := q.key.Zones[q.zone]
	if qq.Qclass != dns.ClassINET || zoneID == "" || !grantedIn(q.key, q.zone) {
		// BIND answers NOTAUTH for a zone it does not serve; a zone where
		// the key holds nothing is no zone of the key's.
		q.reason = "zone is not one of the key's zones"
		return dns.RcodeNotAuth
	}
	if !overTCP(q.w) {
		// As BIND: a transfer is many messages, UDP carries one.
		q.reason = "zone transfer over UDP"
		return dns.RcodeFormatError
	}
	ctx, cancel := context.WithTimeout(s.ctx(), s.o.RequestTimeout)
	defer cancel()
	recs, err := s.o.ZoneWriter.Read(ctx, zonewriter.ReadRequest{Tenant: s.tenant(q.key), Zone: q.zone, ZoneID: zoneID})
	if err != nil {
		return q.writeFailed(err)
	}
	q.transfer = make([]dns.RR, 0, len(recs))
	for _, r := range recs {
		// A record of a more specific zone of the key is that zone's.
		if !inZone(q.key, q.zone, r.Name) {
			continue
		}
		if rr := recordRR(r); rr != nil {
			q.transfer = append(q.transfer, rr)
			q.addName(r.Name, r.Type)
		}
	}
	return dns.RcodeSuccess
}

// grantedIn reports whether the key may write anything in zone (and not in
// a more specific zone of the key).
func grantedIn(k Key, zone string) bool {
	for g := range k.Grants {
		if inZone(k, zone, g.Name) {
			return true
		}
	}
	return false
}

func overTCP(w dns.ResponseWriter) (tcp bool) {
	defer func() {
		if recover() != nil { // miekg panics on a writer without a connection
			tcp = false
		}
	}()
	_, tcp = w.RemoteAddr().(*net.TCPAddr)
	return tcp
}

// sendTransfer writes the transfer: the SOA, the records, the SOA again, in
// messages of at most transferMessageSize record bytes, each signed and
// chained to the one before (RFC 8945 §5.3.1: the first message's MAC covers
// the request's MAC, each later one's the previous message's MAC, with the
// timers only). The question is copied into the first message alone (RFC
// 5936 §2.2.1).
func (s *Server) sendTransfer(q *request) {
	soa := s.soa(q.zone)
	prevMAC := q.tsig.MAC
	for i, rrs := range transferMessages(soa, q.transfer) {
		m := new(dns.Msg)
		m.SetReply(q.r)
		m.Authoritative = true
		m.Compress = true
		m.Answer = rrs
		if i > 0 {
			m.Question = nil
		}
		m.SetTsig(q.tsig.Hdr.Name, q.tsig.Algorithm, maxFudge, s.o.Now().Unix())
		buf, mac, err := dns.TsigGenerate(m, q.v.secret, prevMAC, i > 0)
		if err == nil {
			_, err = q.w.Write(buf)
		}
		if err != nil {
			q.reason = "transfer not sent: " + err.Error()
			return
		}
		prevMAC = mac
	}
}

// transferMessages cuts soa, rrs, soa into messages.
func transferMessages(soa dns.RR, rrs []dns.RR) [][]dns.RR {
	all := make([]dns.RR, 0, len(rrs)+2)
	all = append(all, soa)
	all = append(all, rrs...)
	all = append(all, soa)
	var out [][]dns.RR
	size, start := 0, 0
	for i, rr := range all {
		n := dns.Len(rr)
		if size+n > transferMessageSize && i > start {
			out = append(out, all[start:i])
			start, size = i, 0
		}
		size += n
	}
	return append(out, all[start:])
}

// soa is the gateway's SOA for a zone, for SOA queries and transfers. The
// gateway is no secondary's primary: the serial is the clock's seconds, so it
// only grows, and a client that compares serials always sees a new zone.
func (s *Server) soa(zone string) *dns.SOA {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: dns.Fqdn(zone), Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: defaultMinTTL},
		Ns:      s.o.Nameserver,
		Mbox:    "hostmaster." + dns.Fqdn(zone),
		Serial:  uint32(s.o.Now().Unix()),
		Refresh: 3600,
		Retry:   600,
		Expire:  604800,
		Minttl:  defaultMinTTL,
	}
}

// recordRR is a provider record as an RR, the inverse of contentOf; nil for
// content that is not the type's (which the provider never returns).
func recordRR(r provider.Record) dns.RR {
	t, ok := dns.StringToType[r.Type]
	if !ok {
		return nil
	}
	if _, ok := writableTypes[t]; !ok {
		return nil
	}
	ttl := uint32(r.TTL)
	if r.TTL <= 1 {
		ttl = transferTTL
	}
	hdr := dns.RR_Header{Name: dns.Fqdn(r.Name), Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	switch t {
	case dns.TypeA:
		a, err := netip.ParseAddr(r.Content)
		if err != nil || !a.Is4() {
			return nil
		}
		return &dns.A{Hdr: hdr, A: a.AsSlice()}
	case dns.TypeAAAA:
		a, err := netip.ParseAddr(r.Content)
		if err != nil || !a.Is6() || a.Is4In6() {
			return nil
		}
		return &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()}
	case dns.TypeCNAME:
		return &dns.CNAME{Hdr: hdr, Target: dns.Fqdn(r.Content)}
	case dns.TypeNS:
		return &dns.NS{Hdr: hdr, Ns: dns.Fqdn(r.Content)}
	case dns.TypePTR:
		return &dns.PTR{Hdr: hdr, Ptr: dns.Fqdn(r.Content)}
	case dns.TypeTXT:
		return &dns.TXT{Hdr: hdr, Txt: txtWire(provider.TXTStrings(r.Content))}
	case dns.TypeMX:
		mx, err := provider.ParseMX(r.Content)
		if err != nil {
			return nil
		}
		return &dns.MX{Hdr: hdr, Preference: mx.Preference, Mx: dns.Fqdn(mx.Host)}
	case dns.TypeSRV:
		srv, err := provider.ParseSRV(r.Content)
		if err != nil {
			return nil
		}
		return &dns.SRV{Hdr: hdr, Priority: srv.Priority, Weight: srv.Weight, Port: srv.Port, Target: dns.Fqdn(srv.Target)}
	case dns.TypeCAA:
		caa, err := provider.ParseCAA(r.Content)
		if err != nil {
			return nil
		}
		return &dns.CAA{Hdr: hdr, Flag: caa.Flags, Tag: caa.Tag, Value: escapeWire(caa.Value)}
	}
	return nil
}

// txtWire turns raw TXT strings into miekg/dns's TXT field: backslashes
// escaped (miekg/dns reads \X and \DDD when packing), each string cut at 255
// bytes, the most one character-string holds.
func txtWire(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		for len(s) > 255 {
			out = append(out, escapeWire(s[:255]))
			s = s[255:]
		}
		out = append(out, escapeWire(s))
	}
	return out
}

func escapeWire(s string) string { return strings.ReplaceAll(s, `\`, `\\`) }
