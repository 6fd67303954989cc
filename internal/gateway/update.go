package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// writableTypes are the types the gateway reads from and writes to the
// provider (provider.SupportedTypes).
var writableTypes = map[uint16]string{
	dns.TypeA: "A", dns.TypeAAAA: "AAAA", dns.TypeCNAME: "CNAME", dns.TypeTXT: "TXT",
	dns.TypeMX: "MX", dns.TypeSRV: "SRV", dns.TypeCAA: "CAA", dns.TypeNS: "NS", dns.TypePTR: "PTR",
}

// metaType reports the types that can never appear in a prerequisite or
// update RR (RFC 2136 §3.2.1, §3.4.1.3), ANY aside.
func metaType(t uint16) bool {
	switch t {
	case dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB, dns.TypeOPT,
		dns.TypeTSIG, dns.TypeTKEY, dns.TypeNone, dns.TypeSIG:
		return true
	}
	return false
}

func typeName(t uint16) string {
	if n, ok := dns.TypeToString[t]; ok {
		return n
	}
	return fmt.Sprintf("TYPE%d", t)
}

// prereq is one parsed prerequisite RR.
type prereq struct {
	name    string
	typ     string // "" for ANY
	class   uint16
	content string // value-dependent only
}

// change is one parsed update RR.
type change struct {
	name    string
	typ     string // "" for ANY (class ANY only)
	class   uint16
	content string
	ttl     int
}

type rcodeError struct {
	rcode  int
	reason string
}

func refuse(rcode int, format string, args ...any) *rcodeError {
	return &rcodeError{rcode: rcode, reason: fmt.Sprintf(format, args...)}
}

func (s *Server) serveUpdate(q *request) int {
	if rc := s.authenticate(q); rc != dns.RcodeSuccess {
		return rc
	}
	if len(q.r.Question) != 1 {
		q.reason = "not exactly one zone"
		return dns.RcodeFormatError
	}
	zq := q.r.Question[0]
	q.zone = provider.NormalizeName(zq.Name)
	if zq.Qtype != dns.TypeSOA {
		q.reason = "zone type is not SOA"
		return dns.RcodeFormatError
	}
	zoneID, ok := q.key.Zones[q.zone]
	if !ok || zq.Qclass != dns.ClassINET || zoneID == "" {
		q.reason = "zone is not one of the key's zones"
		return dns.RcodeNotAuth
	}
	if len(q.r.Answer) > s.o.MaxUpdateRecords || len(q.r.Ns) > s.o.MaxUpdateRecords {
		q.reason = fmt.Sprintf("more than %d records in a section", s.o.MaxUpdateRecords)
		return dns.RcodeRefused
	}
	prereqs, e := s.scanPrereqs(q)
	if e != nil {
		q.reason = e.reason
		return e.rcode
	}
	changes, e := s.scanUpdates(q)
	if e != nil {
		q.reason = e.reason
		return e.rcode
	}

	ctx, cancel := context.WithTimeout(s.ctx(), s.o.RequestTimeout)
	defer cancel()
	res, err := s.o.ZoneWriter.Write(ctx, zonewriter.Request{
		Tenant:   s.tenant(q.key),
		Zone:     q.zone,
		ZoneID:   zoneID,
		Prereqs:  toPrereqs(prereqs),
		Ops:      toOps(changes),
		Protocol: "rfc2136",
	})
	if err != nil {
		return q.writeFailed(err)
	}
	if !res.Changed() {
		q.reason = "nothing to change"
	}
	q.created, q.updated, q.deleted = res.Created, res.Updated, res.Deleted
	return dns.RcodeSuccess
}

// tenant is who the zone writer writes and reads for: the key's namespace
// under its scope, with the key's grants.
func (s *Server) tenant(k Key) zonewriter.Tenant {
	return zonewriter.Tenant{Namespace: k.Namespace, Scope: k.Scope, Owner: OwnerComment(s.o.ClusterName, k.Namespace), Grants: k.Grants}
}

// writeFailed answers a request the zone writer did not apply with the
// response code RFC 2136 gives its reason: REFUSED for a grant, an owner or
// a namespace over its share (the client is to back off, the server is
// fine), the prerequisite's own code, SERVFAIL when the provider failed.
func (q *request) writeFailed(err error) int {
	q.reason = err.Error()
	var e *zonewriter.Error
	if !errors.As(err, &e) {
		return dns.RcodeServerFailure
	}
	switch e.Code {
	case zonewriter.Refused:
		return dns.RcodeRefused
	case zonewriter.Invalid:
		return dns.RcodeFormatError
	case zonewriter.PrereqNameNotInUse:
		return dns.RcodeNameError
	case zonewriter.PrereqNameInUse:
		return dns.RcodeYXDomain
	case zonewriter.PrereqRRsetAbsent, zonewriter.PrereqRRsetDiffers:
		return dns.RcodeNXRrset
	case zonewriter.PrereqRRsetExists:
		return dns.RcodeYXRrset
	case zonewriter.OverBudget:
		q.reason = "provider budget: " + q.reason
		q.overLimit = true
		return dns.RcodeRefused
	}
	return dns.RcodeServerFailure
}

// toPrereqs turns RFC 2136 prerequisites into the writer's: the
// value-dependent ones of one RRset become one RRsetEquals.
func toPrereqs(ps []prereq) []zonewriter.Prereq {
	out := make([]zonewriter.Prereq, 0, len(ps))
	sets := map[[2]string]int{} // (name, type) -> index of its RRsetEquals
	for _, p := range ps {
		switch {
		case p.class == dns.ClassANY && p.typ == "":
			out = append(out, zonewriter.Prereq{Kind: zonewriter.NameInUse, Name: p.name})
		case p.class == dns.ClassANY:
			out = append(out, zonewriter.Prereq{Kind: zonewriter.RRsetExists, Name: p.name, Type: p.typ})
		case p.class == dns.ClassNONE && p.typ == "":
			out = append(out, zonewriter.Prereq{Kind: zonewriter.NameNotInUse, Name: p.name})
		case p.class == dns.ClassNONE:
			out = append(out, zonewriter.Prereq{Kind: zonewriter.RRsetAbsent, Name: p.name, Type: p.typ})
		default:
			k := [2]string{p.name, p.typ}
			i, seen := sets[k]
			if !seen {
				i = len(out)
				sets[k] = i
				out = append(out, zonewriter.Prereq{Kind: zonewriter.RRsetEquals, Name: p.name, Type: p.typ})
			}
			out[i].Values = append(out[i].Values, p.content)
		}
	}
	return out
}

// toOps turns RFC 2136 update RRs into the writer's changes.
func toOps(cs []change) []zonewriter.Op {
	out := make([]zonewriter.Op, 0, len(cs))
	for _, c := range cs {
		op := zonewriter.Op{Name: c.name, Type: c.typ, Content: c.content, TTL: c.ttl}
		switch {
		case c.class == dns.ClassINET:
			op.Kind = zonewriter.Add
		case c.class == dns.ClassANY && c.typ == "":
			op.Kind = zonewriter.DeleteName
		case c.class == dns.ClassANY:
			op.Kind = zonewriter.DeleteRRset
		default:
			op.Kind = zonewriter.DeleteValue
		}
		out = append(out, op)
	}
	return out
}

// grantRefusal is the zone writer's grant decision on some RRs of the
// request, answered REFUSED.
func grantRefusal(q *request, ps []zonewriter.Prereq, ops []zonewriter.Op) *rcodeError {
	if e := zonewriter.CheckGrants(zonewriter.Tenant{Grants: q.key.Grants}, ps, ops); e != nil {
		return refuse(dns.RcodeRefused, "%s", e.Reason)
	}
	return nil
}

// inZone checks that name (normalised) lies in the request's zone and not in
// a more specific zone of the key.
func inZone(k Key, zone, name string) bool {
	return zoneOf(k, name) == zone
}

func (s *Server) scanPrereqs(q *request) ([]prereq, *rcodeError) {
	out := make([]prereq, 0, len(q.r.Answer))
	for _, rr := range q.r.Answer {
		h := rr.Header()
		name := provider.NormalizeName(h.Name)
		if h.Ttl != 0 {
			return nil, refuse(dns.RcodeFormatError, "prerequisite %s has a TTL", name)
		}
		if !inZone(q.key, q.zone, name) {
			return nil, refuse(dns.RcodeNotZone, "prerequisite %s is outside zone %s", name, q.zone)
		}
		if metaType(h.Rrtype) {
			return nil, refuse(dns.RcodeFormatError, "prerequisite %s has type %s", name, typeName(h.Rrtype))
		}
		p := prereq{name: name, class: h.Class}
		if h.Rrtype != dns.TypeANY {
			p.typ = typeName(h.Rrtype)
		}
		switch h.Class {
		case dns.ClassANY, dns.ClassNONE:
			if !rdataEmpty(rr) {
				return nil, refuse(dns.RcodeFormatError, "prerequisite %s has data", name)
			}
		case dns.ClassINET:
			if h.Rrtype == dns.TypeANY || rdataEmpty(rr) {
				return nil, refuse(dns.RcodeFormatError, "prerequisite %s has no data", name)
			}
			c, ok := contentOf(rr)
			if !ok {
				// A type the gateway cannot represent never matches.
				c = "\x00unrepresentable"
			}
			p.content = c
		default:
			return nil, refuse(dns.RcodeFormatError, "prerequisite %s has class %s", name, dns.ClassToString[h.Class])
		}
		if e := grantRefusal(q, toPrereqs([]prereq{p}), nil); e != nil {
			return nil, e
		}
		out = append(out, p)
	}
	return out, nil
}

func (s *Server) scanUpdates(q *request) ([]change, *rcodeError) {
	out := make([]change, 0, len(q.r.Ns))
	// RFC 2136 §3.4.1: the whole section is checked before anything changes.
	for _, rr := range q.r.Ns {
		h := rr.Header()
		name := provider.NormalizeName(h.Name)
		typ := typeName(h.Rrtype)
		q.addName(name, typ)
		if !inZone(q.key, q.zone, name) {
			return nil, refuse(dns.RcodeNotZone, "%s is outside zone %s", name, q.zone)
		}
		if metaType(h.Rrtype) {
			return nil, refuse(dns.RcodeFormatError, "%s has type %s", name, typ)
		}
		c := change{name: name, typ: typ, class: h.Class}
		switch h.Class {
		case dns.ClassINET:
			if h.Rrtype == dns.TypeANY || rdataEmpty(rr) {
				return nil, refuse(dns.RcodeFormatError, "add of %s %s without data", name, typ)
			}
		case dns.ClassANY:
			if h.Ttl != 0 || !rdataEmpty(rr) {
				return nil, refuse(dns.RcodeFormatError, "delete of %s %s with a TTL or data", name, typ)
			}
			if h.Rrtype == dns.TypeANY {
				c.typ = ""
			}
		case dns.ClassNONE:
			if h.Ttl != 0 || h.Rrtype == dns.TypeANY || rdataEmpty(rr) {
				return nil, refuse(dns.RcodeFormatError, "delete of one %s %s record without data or with a TTL", name, typ)
			}
		default:
			return nil, refuse(dns.RcodeFormatError, "%s has class %s", name, dns.ClassToString[h.Class])
		}
		out = append(out, c)
	}
	// Grants and TTLs are the zone writer's to check (zonewriter.Writer);
	// what is left here is what only DNS has: the types the gateway can
	// turn into provider records, and their data. The grant is asked first,
	// RR by RR, so that an RR outside it is REFUSED whatever its data, as
	// before the zone writer.
	for i, rr := range q.r.Ns {
		c := &out[i]
		h := rr.Header()
		if e := grantRefusal(q, nil, toOps([]change{*c})); e != nil {
			return nil, e
		}
		if c.typ == "" || c.class == dns.ClassANY {
			continue
		}
		if _, ok := writableTypes[h.Rrtype]; !ok {
			return nil, refuse(dns.RcodeRefused, "the gateway cannot write %s records", c.typ)
		}
		content, ok := contentOf(rr)
		if !ok {
			return nil, refuse(dns.RcodeFormatError, "%s %s has malformed data", c.name, c.typ)
		}
		c.content = content
		if c.class == dns.ClassINET {
			c.ttl = int(h.Ttl)
		}
	}
	return out, nil
}
