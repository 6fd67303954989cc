package gateway

import (
	"context"
	"fmt"
	"slices"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/budget"
	"github.com/scopedns/scopedns/internal/provider"
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
	// Every provider request sent for this UPDATE is charged to the key's
	// namespace (see internal/budget); a namespace over its share gets
	// REFUSED, and nothing is written.
	q.tab = &budget.Tab{Tenant: q.key.Namespace}
	ctx = budget.WithTenant(ctx, q.tab)
	w, err := s.o.Writers.Writer(ctx, q.key.Scope)
	if err != nil || w == nil {
		q.reason = fmt.Sprintf("no provider for scope %s: %v", q.key.Scope, err)
		return dns.RcodeServerFailure
	}

	lock := s.zoneLock(zoneID)
	lock.Lock()
	defer lock.Unlock()

	var names []string
	for _, p := range prereqs {
		names = append(names, p.name)
	}
	for _, c := range changes {
		names = append(names, c.name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	z := &zoneState{
		apex:   q.zone,
		owner:  OwnerComment(s.o.ClusterName, q.key.Namespace),
		grants: q.key.Grants,
		byName: map[string][]*entry{},
	}
	for _, n := range names {
		recs, err := w.Records(ctx, zoneID, provider.RecordFilter{Name: n})
		if err != nil {
			return q.providerFailed(fmt.Sprintf("reading records of %s", n), err)
		}
		for _, r := range recs {
			if provider.NormalizeName(r.Name) != n { // a provider that filters loosely
				continue
			}
			z.byName[n] = append(z.byName[n], &entry{rec: r, orig: r, existing: true})
		}
	}
	if rc, reason := z.checkPrereqs(prereqs); rc != dns.RcodeSuccess {
		q.reason = reason
		return rc
	}
	for _, c := range changes {
		if e := z.apply(c); e != nil {
			q.reason = e.reason
			return e.rcode
		}
	}
	plan := z.changes()
	if plan.IsEmpty() {
		q.reason = "nothing to change"
		return dns.RcodeSuccess
	}
	if _, err := w.ApplyChanges(ctx, zoneID, plan); err != nil {
		return q.providerFailed("writing records", err)
	}
	q.created, q.updated, q.deleted = len(plan.Create), len(plan.UpdateNew), len(plan.Delete)
	return dns.RcodeSuccess
}

// providerFailed answers a failed provider call: REFUSED when the call was
// not sent because the namespace used its share of the provider budget (the
// client is to back off, the server is fine), SERVFAIL otherwise.
func (q *request) providerFailed(doing string, err error) int {
	q.reason = fmt.Sprintf("%s: %v", doing, err)
	if q.tab.Refused() {
		q.reason = "provider budget: " + q.reason
		q.overLimit = true
		return dns.RcodeRefused
	}
	return dns.RcodeServerFailure
}

// inZone checks that name (normalised) lies in the request's zone and not in
// a more specific zone of the key.
func inZone(k Key, zone, name string) bool {
	return zoneOf(k, name) == zone
}

// nameGranted reports whether the key has a grant of any type at name.
func nameGranted(k Key, name string) bool {
	for g := range k.Grants {
		if g.Name == name {
			return true
		}
	}
	return false
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
		if !nameGranted(q.key, name) {
			return nil, refuse(dns.RcodeRefused, "prerequisite on %s, where the key has no grant", name)
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
	for i, rr := range q.r.Ns {
		c := &out[i]
		h := rr.Header()
		if c.typ == "" { // delete every RRset at the name; checked per type later
			if !nameGranted(q.key, c.name) {
				return nil, refuse(dns.RcodeRefused, "%s is not granted", c.name)
			}
			continue
		}
		maxTTL, granted := q.key.Grants[Grant{Name: c.name, Type: c.typ}]
		if !granted {
			return nil, refuse(dns.RcodeRefused, "%s %s is not granted", c.name, c.typ)
		}
		if _, ok := writableTypes[h.Rrtype]; !ok {
			return nil, refuse(dns.RcodeRefused, "the gateway cannot write %s records", c.typ)
		}
		if c.class == dns.ClassANY {
			continue
		}
		content, ok := contentOf(rr)
		if !ok {
			return nil, refuse(dns.RcodeFormatError, "%s %s has malformed data", c.name, c.typ)
		}
		c.content = content
		if c.class == dns.ClassINET {
			if maxTTL > 0 && int64(h.Ttl) > int64(maxTTL) {
				return nil, refuse(dns.RcodeRefused, "TTL %d of %s %s is above the granted %d", h.Ttl, c.name, c.typ, maxTTL)
			}
			c.ttl = int(h.Ttl)
			if s.o.MinTTL > 0 && c.ttl < s.o.MinTTL {
				c.ttl = s.o.MinTTL
			}
		}
	}
	return out, nil
}

// entry is one record of the zone as the update sees it.
type entry struct {
	rec      provider.Record // current state
	orig     provider.Record // as read from the provider
	existing bool            // read from the provider (false: added by this update)
	deleted  bool
	modified bool
}

// zoneState holds the records of the names an update touches and applies the
// update to them in memory.
type zoneState struct {
	apex   string
	owner  string
	grants map[Grant]int32
	byName map[string][]*entry
}

func (z *zoneState) live(name string) []*entry {
	var out []*entry
	for _, e := range z.byName[name] {
		if !e.deleted {
			out = append(out, e)
		}
	}
	return out
}

func (z *zoneState) owned(e *entry) bool { return !e.existing || e.orig.Comment == z.owner }

// checkPrereqs evaluates RFC 2136 §3.2.5.
func (z *zoneState) checkPrereqs(ps []prereq) (int, string) {
	type rrset struct{ name, typ string }
	valueSets := map[rrset][]string{}
	var order []rrset
	for _, p := range ps {
		live := z.live(p.name)
		switch {
		case p.class == dns.ClassANY && p.typ == "":
			if len(live) == 0 {
				return dns.RcodeNameError, fmt.Sprintf("prerequisite failed: %s is not in use", p.name)
			}
		case p.class == dns.ClassANY:
			if !slices.ContainsFunc(live, func(e *entry) bool { return e.rec.Type == p.typ }) {
				return dns.RcodeNXRrset, fmt.Sprintf("prerequisite failed: no %s %s records", p.name, p.typ)
			}
		case p.class == dns.ClassNONE && p.typ == "":
			if len(live) > 0 {
				return dns.RcodeYXDomain, fmt.Sprintf("prerequisite failed: %s is in use", p.name)
			}
		case p.class == dns.ClassNONE:
			if slices.ContainsFunc(live, func(e *entry) bool { return e.rec.Type == p.typ }) {
				return dns.RcodeYXRrset, fmt.Sprintf("prerequisite failed: %s %s records exist", p.name, p.typ)
			}
		default: // value-dependent, compared per RRset after the loop
			k := rrset{p.name, p.typ}
			if _, seen := valueSets[k]; !seen {
				order = append(order, k)
			}
			valueSets[k] = append(valueSets[k], canonical(p.typ, p.content))
		}
	}
	for _, k := range order {
		want := valueSets[k]
		var have []string
		for _, e := range z.live(k.name) {
			if e.rec.Type == k.typ {
				have = append(have, canonical(e.rec.Type, e.rec.Content))
			}
		}
		slices.Sort(want)
		want = slices.Compact(want)
		slices.Sort(have)
		have = slices.Compact(have)
		if !slices.Equal(want, have) {
			return dns.RcodeNXRrset, fmt.Sprintf("prerequisite failed: %s %s records differ", k.name, k.typ)
		}
	}
	return dns.RcodeSuccess, ""
}

// apply applies one update RR (RFC 2136 §3.4.2).
func (z *zoneState) apply(c change) *rcodeError {
	apexNS := func(typ string) bool { return c.name == z.apex && (typ == "NS" || typ == "SOA") }
	switch c.class {
	case dns.ClassINET:
		live := z.live(c.name)
		hasCNAME := slices.ContainsFunc(live, func(e *entry) bool { return e.rec.Type == "CNAME" })
		hasOther := slices.ContainsFunc(live, func(e *entry) bool { return e.rec.Type != "CNAME" })
		if (c.typ == "CNAME" && hasOther) || (c.typ != "CNAME" && hasCNAME) {
			return nil // ignored, as RFC 2136 §3.4.2.2 says
		}
		key := canonical(c.typ, c.content)
		for _, e := range live {
			if e.rec.Type != c.typ {
				continue
			}
			if canonical(e.rec.Type, e.rec.Content) == key {
				if !z.owned(e) {
					return refuse(dns.RcodeRefused, "%s %s %q exists and was not written by this key's namespace", c.name, c.typ, e.rec.Content)
				}
				if e.rec.TTL != c.ttl {
					e.rec.TTL = c.ttl
					e.modified = e.existing
				}
				return nil
			}
			if c.typ == "CNAME" { // a CNAME replaces the CNAME
				if !z.owned(e) {
					return refuse(dns.RcodeRefused, "%s CNAME %q was not written by this key's namespace", c.name, e.rec.Content)
				}
				e.deleted = true
			}
		}
		z.byName[c.name] = append(z.byName[c.name], &entry{rec: provider.Record{
			Name: c.name, Type: c.typ, Content: c.content, TTL: c.ttl, Comment: z.owner,
		}})
	case dns.ClassANY:
		for _, e := range z.live(c.name) {
			if (c.typ != "" && e.rec.Type != c.typ) || apexNS(e.rec.Type) {
				continue
			}
			if _, ok := z.grants[Grant{Name: c.name, Type: e.rec.Type}]; !ok {
				return refuse(dns.RcodeRefused, "deleting every record at %s would delete %s, which is not granted", c.name, e.rec.Type)
			}
			if !z.owned(e) {
				return refuse(dns.RcodeRefused, "%s %s %q was not written by this key's namespace", c.name, e.rec.Type, e.rec.Content)
			}
			e.deleted = true
		}
	case dns.ClassNONE:
		if apexNS(c.typ) {
			return nil
		}
		key := canonical(c.typ, c.content)
		for _, e := range z.live(c.name) {
			if e.rec.Type != c.typ || canonical(e.rec.Type, e.rec.Content) != key {
				continue
			}
			if !z.owned(e) {
				return refuse(dns.RcodeRefused, "%s %s %q was not written by this key's namespace", c.name, e.rec.Type, e.rec.Content)
			}
			e.deleted = true
		}
	}
	return nil
}

// changes is the provider change set that takes the zone from what was read
// to the state after the update.
func (z *zoneState) changes() provider.Changes {
	var c provider.Changes
	names := make([]string, 0, len(z.byName))
	for n := range z.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, e := range z.byName[n] {
			switch {
			case e.existing && e.deleted:
				c.Delete = append(c.Delete, e.orig)
			case e.existing && e.modified:
				c.UpdateOld = append(c.UpdateOld, e.orig)
				c.UpdateNew = append(c.UpdateNew, e.rec)
			case !e.existing && !e.deleted:
				c.Create = append(c.Create, e.rec)
			}
		}
	}
	return c
}
