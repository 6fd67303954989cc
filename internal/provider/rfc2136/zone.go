package rfc2136

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
)

// rrsetKey names an RRset: a normalised name and a type.
type rrsetKey struct {
	name string
	typ  uint16
}

// zoneState is what the provider last read of a zone, kept current by its own
// writes: the prerequisites of every UPDATE are taken from it.
type zoneState struct {
	name string
	// serial is the SOA serial the snapshot was read at; 0 after this
	// provider wrote, since the server's new serial is not known.
	serial uint32
	rrsets map[rrsetKey][]dns.RR
	// byName lists the types that hold RRsets at each name.
	byName map[string][]uint16
}

func newZoneState(name string) *zoneState {
	return &zoneState{name: name, rrsets: map[rrsetKey][]dns.RR{}, byName: map[string][]uint16{}}
}

func (z *zoneState) add(rr dns.RR) {
	k := keyOf(rr)
	for _, have := range z.rrsets[k] {
		if dns.IsDuplicate(have, rr) {
			return
		}
	}
	if len(z.rrsets[k]) == 0 {
		z.byName[k.name] = append(z.byName[k.name], k.typ)
	}
	z.rrsets[k] = append(z.rrsets[k], rr)
}

// set replaces an RRset.
func (z *zoneState) set(k rrsetKey, rrs []dns.RR) {
	had := len(z.rrsets[k]) > 0
	switch {
	case len(rrs) == 0:
		delete(z.rrsets, k)
		if had {
			z.byName[k.name] = without(z.byName[k.name], k.typ)
			if len(z.byName[k.name]) == 0 {
				delete(z.byName, k.name)
			}
		}
	default:
		z.rrsets[k] = rrs
		if !had {
			z.byName[k.name] = append(z.byName[k.name], k.typ)
		}
	}
}

// types lists the types that hold RRsets at name.
func (z *zoneState) types(name string) []uint16 { return z.byName[name] }

func keyOf(rr dns.RR) rrsetKey {
	h := rr.Header()
	return rrsetKey{name: provider.NormalizeName(h.Name), typ: h.Rrtype}
}

// state returns the zone's snapshot, reading the zone again when its serial
// moved or when fresh is set. The caller holds no lock; the result is the
// provider's (do not change it without holding p.mu).
func (p *Provider) state(ctx context.Context, zone string, fresh bool) (*zoneState, error) {
	p.mu.Lock()
	z := p.zones[zone]
	var known uint32 // read under the lock: a commit zeroes it (txn.commit)
	if z != nil {
		known = z.serial
	}
	p.mu.Unlock()
	if z != nil && !fresh && known != 0 {
		serial, err := p.serial(ctx, zone)
		if err != nil {
			return nil, err
		}
		if serial == known {
			return z, nil
		}
	}
	z, err := p.transfer(ctx, zone)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.zones[zone] = z
	p.mu.Unlock()
	return z, nil
}

// serial reads the zone's SOA serial; a zone the server does not serve is
// not found.
func (p *Provider) serial(ctx context.Context, zone string) (uint32, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	r, err := p.exchange(ctx, provider.OpZonesList, m)
	if err != nil {
		if r != nil && !tsigFailed(r) && (r.Rcode == dns.RcodeRefused || r.Rcode == dns.RcodeNameError) {
			return 0, zoneNotFound(provider.OpZonesList, zone)
		}
		return 0, err
	}
	soa := soaSerial(r, zone)
	if soa == nil {
		return 0, zoneNotFound(provider.OpZonesList, zone)
	}
	return soa.Serial, nil
}

func zoneNotFound(op, zone string) error {
	return &provider.Error{Op: op, Kind: provider.KindNotFound, Message: "the server is not authoritative for zone " + zone}
}

// transfer reads the whole zone by AXFR. The answer comes in many messages
// for a large zone, each signed; they are read one at a time as they arrive.
func (p *Provider) transfer(ctx context.Context, zone string) (z *zoneState, err error) {
	const op = provider.OpRecordsList
	start := time.Now()
	defer func() { p.observe(op, start, err) }()
	ctx, cancel := context.WithTimeout(ctx, 10*p.opts.Timeout)
	defer cancel()
	conn, err := (&net.Dialer{Timeout: p.opts.Timeout}).DialContext(ctx, "tcp", p.opts.Transfer)
	if err != nil {
		return nil, transportError(op, p.opts.Transfer, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	tr := &dns.Transfer{Conn: &dns.Conn{Conn: conn}, TsigSecret: p.tsig(), ReadTimeout: p.opts.Timeout, WriteTimeout: p.opts.Timeout}
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(zone))
	p.sign(m)
	envs, err := tr.In(m, p.opts.Transfer)
	if err != nil {
		_ = conn.Close()
		return nil, transportError(op, p.opts.Transfer, err)
	}
	z = newZoneState(zone)
	var failed error
	for env := range envs { // drained to the end: the transfer's goroutine writes until it closes
		if failed != nil {
			continue
		}
		if env.Error != nil {
			failed = transferError(op, zone, p.opts.Transfer, env.Error)
			continue
		}
		for _, rr := range env.RR {
			if soa, ok := rr.(*dns.SOA); ok && provider.NormalizeName(soa.Hdr.Name) == zone {
				z.serial = soa.Serial
				continue
			}
			z.add(rr)
		}
	}
	_ = conn.Close()
	if failed != nil {
		return nil, failed
	}
	return z, nil
}

// transferError classifies a failed transfer. miekg/dns reports an answer
// with an error rcode as "bad xfr rcode: N".
func transferError(op, zone, server string, err error) error {
	var rcode int
	if _, scanErr := fmt.Sscanf(err.Error(), "dns: bad xfr rcode: %d", &rcode); scanErr == nil {
		switch rcode {
		case dns.RcodeNotAuth:
			return &provider.Error{Op: op, Kind: provider.KindForbidden, Message: "the server does not accept this TSIG key for a transfer of " + zone + " (NOTAUTH): check the key name, algorithm, secret and clock"}
		case dns.RcodeRefused:
			return &provider.Error{Op: op, Kind: provider.KindForbidden, Message: "the server refused a transfer of " + zone + " (REFUSED): its allow-transfer (BIND) or ACL (Knot) must let this key transfer"}
		case dns.RcodeNameError, dns.RcodeNotZone:
			return zoneNotFound(op, zone)
		}
		return &provider.Error{Op: op, Kind: provider.KindUnavailable, Message: fmt.Sprintf("the transfer of %s from %s failed with %s", zone, server, dns.RcodeToString[rcode])}
	}
	if provider.IsForbidden(transportError(op, server, err)) {
		// Knot answers a transfer its ACL does not allow with an answer
		// whose TSIG does not verify (BADKEY), so the rcode is not seen.
		return &provider.Error{Op: op, Kind: provider.KindForbidden, Message: "the server refused a transfer of " + zone + " with this key (its answer failed the TSIG check): the key must be known to the zone and allowed to transfer it (BIND allow-transfer, Knot ACL action transfer)", Err: err}
	}
	return transportError(op, server, err)
}

// Records implements provider.Provider: the zone's records of supported
// types, with their owners from the registry.
func (p *Provider) Records(ctx context.Context, zoneID string, filter provider.RecordFilter) ([]provider.Record, error) {
	zone := provider.NormalizeName(zoneID)
	z, err := p.state(ctx, zone, false)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	recs := z.records(p.opts.DefaultTTL)
	p.mu.Unlock()
	out := recs[:0]
	for _, r := range recs {
		if filter.Matches(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// view is a record as read, with the RR and registry entry it came from.
type view struct {
	rec   provider.Record
	rr    dns.RR
	entry *entry
	// registry is the registry RR of the entry, nil for a foreign record.
	registry dns.RR
}

// records lists the snapshot's records, sorted by name, type and content.
func (z *zoneState) records(defaultTTL int) []provider.Record {
	views := z.views(defaultTTL)
	out := make([]provider.Record, 0, len(views))
	for _, v := range views {
		out = append(out, v.rec)
	}
	return out
}

// views reads every record of a supported type outside the registry and
// joins it with its registry entry.
func (z *zoneState) views(defaultTTL int) []view {
	var out []view
	keys := make([]rrsetKey, 0, len(z.rrsets))
	for k := range z.rrsets {
		if !isRegistryName(k.name) && provider.IsSupportedType(dns.TypeToString[k.typ]) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b rrsetKey) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return int(a.typ) - int(b.typ)
	})
	for _, k := range keys {
		entries := z.entries(k.name)
		for _, rr := range z.rrsets[k] {
			if v, ok := z.view(rr, entries, defaultTTL); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

type registered struct {
	entry entry
	rr    dns.RR
}

// entries reads the registry entries of a name.
func (z *zoneState) entries(name string) []registered {
	reg := registryName(name)
	if reg == "" {
		return nil
	}
	var out []registered
	for _, rr := range z.rrsets[rrsetKey{name: reg, typ: dns.TypeTXT}] {
		t := rr.(*dns.TXT)
		if len(t.Txt) != 1 {
			continue
		}
		if e, ok := parseEntry(unescapeTXT(t.Txt[0])); ok {
			out = append(out, registered{entry: e, rr: rr})
		}
	}
	// Deterministic when two entries claim one RR.
	slices.SortFunc(out, func(a, b registered) int { return strings.Compare(a.entry.ID, b.entry.ID) })
	return out
}

func (z *zoneState) view(rr dns.RR, entries []registered, defaultTTL int) (view, bool) {
	content, ok := contentOf(rr)
	if !ok {
		return view{}, false
	}
	h := rr.Header()
	typ := dns.TypeToString[h.Rrtype]
	v := view{rr: rr, rec: provider.Record{Name: provider.NormalizeName(h.Name), Type: typ, Content: content, TTL: int(h.Ttl)}}
	data := dataHash(typ, content)
	for i := range entries {
		e := entries[i].entry
		if e.Type == typ && e.Data == data {
			v.entry, v.registry = &e, entries[i].rr
			v.rec.ID, v.rec.Comment = e.ID, e.Comment
			if e.AutoTTL && int(h.Ttl) == defaultTTL {
				v.rec.TTL = 1
			}
			return v, true
		}
	}
	v.rec.ID = foreignID(v.rec.Name, typ, content)
	return v, true
}
