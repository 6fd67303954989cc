package rfc2136

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/scopedns/scopedns/internal/provider"
)

// maxMessageBytes is where a batch is cut: a DNS message over TCP holds at
// most 65,535 bytes, and the TSIG record and headers need a few hundred.
const maxMessageBytes = 60000

// ApplyChanges implements provider.Provider. Deletes, then updates, then
// creates are cut into batches; each batch is one UPDATE, all or nothing,
// whose prerequisites are the RRsets it touches as the provider last read
// them.
func (p *Provider) ApplyChanges(ctx context.Context, zoneID string, c provider.Changes) (provider.ApplyResult, error) {
	var res provider.ApplyResult
	if err := c.Validate(); err != nil {
		return res, err
	}
	zone := provider.NormalizeName(zoneID)
	unlock := p.lockZone(zone)
	defer unlock()
	z, err := p.cached(ctx, zone)
	if err != nil {
		return res, err
	}
	work, err := p.resolve(ctx, zone, z, c)
	if err != nil {
		return res, err
	}
	z = p.current(zone)
	tx := newTxn(z)
	var pending []change
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := p.send(ctx, zone, tx); err != nil {
			p.forget(zone)
			return err
		}
		p.mu.Lock()
		tx.commit()
		p.mu.Unlock()
		for _, ch := range pending {
			ch.report(&res)
		}
		pending = pending[:0]
		tx = newTxn(z)
		return nil
	}
	for _, w := range work {
		// plan does not change the batch, so a change that does not fit is
		// planned again on top of the batch just sent.
		ch, err := tx.plan(w, p.opts.DefaultTTL)
		size, fits := 0, false
		if err == nil {
			size, fits = tx.fits(ch)
		}
		if err == nil && len(pending) > 0 && (len(pending) >= p.opts.BatchSize || !fits) {
			if err := flush(); err != nil {
				return res, err
			}
			ch, err = tx.plan(w, p.opts.DefaultTTL)
			if err == nil {
				size, _ = tx.fits(ch)
			}
		}
		if err != nil {
			return res, err
		}
		tx.take(ch)
		tx.size = size
		pending = append(pending, ch)
	}
	return res, flush()
}

// lockZone serialises the writes to one zone.
func (p *Provider) lockZone(zone string) func() {
	p.mu.Lock()
	if p.locks == nil {
		p.locks = map[string]*sync.Mutex{}
	}
	l := p.locks[zone]
	if l == nil {
		l = &sync.Mutex{}
		p.locks[zone] = l
	}
	p.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// cached is the zone's snapshot, read once if there is none. A write needs no
// fresh read: its prerequisites catch any difference that matters.
func (p *Provider) cached(ctx context.Context, zone string) (*zoneState, error) {
	if z := p.current(zone); z != nil {
		return z, nil
	}
	return p.state(ctx, zone, true)
}

func (p *Provider) current(zone string) *zoneState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.zones[zone]
}

// forget drops the snapshot after a failed write: the zone changed under it,
// or whether the server applied the batch is not known.
func (p *Provider) forget(zone string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.zones, zone)
}

// work is one change to make, with the records it acts on found in the
// snapshot.
type work struct {
	kind  changeKind
	index int
	old   *view // delete, update
	rec   provider.Record
}

type changeKind uint8

const (
	kindDelete changeKind = iota
	kindUpdate
	kindCreate
)

// resolve finds the records of deletes and updates by ID. An ID the
// snapshot lacks may be a record written since it was read (by another
// replica, or the gateway's own provider): the zone is read once more before
// the ID counts as not found.
func (p *Provider) resolve(ctx context.Context, zone string, z *zoneState, c provider.Changes) ([]work, error) {
	find := func(z *zoneState) (map[string]*view, bool) {
		byID := map[string]*view{}
		for _, v := range z.views(p.opts.DefaultTTL) {
			byID[v.rec.ID] = &v
		}
		for _, r := range c.Delete {
			if byID[r.ID] == nil {
				return byID, false
			}
		}
		for _, r := range c.UpdateOld {
			if byID[r.ID] == nil {
				return byID, false
			}
		}
		return byID, true
	}
	p.mu.Lock()
	byID, ok := find(z)
	p.mu.Unlock()
	if !ok {
		fresh, err := p.state(ctx, zone, true)
		if err != nil {
			return nil, err
		}
		p.mu.Lock()
		byID, _ = find(fresh)
		p.mu.Unlock()
	}
	var out []work
	for i, r := range c.Delete {
		v := byID[r.ID]
		if v == nil {
			return nil, recordNotFound(r)
		}
		out = append(out, work{kind: kindDelete, index: i, old: v})
	}
	for i, r := range c.UpdateOld {
		v := byID[r.ID]
		if v == nil {
			return nil, recordNotFound(r)
		}
		out = append(out, work{kind: kindUpdate, index: i, old: v, rec: c.UpdateNew[i]})
	}
	for i, r := range c.Create {
		out = append(out, work{kind: kindCreate, index: i, rec: r})
	}
	return out, nil
}

func recordNotFound(r provider.Record) error {
	return &provider.Error{Op: provider.OpRecordsBatch, Kind: provider.KindNotFound,
		Message: fmt.Sprintf("record %s (%s %s) does not exist in the zone", r.ID, r.Name, r.Type)}
}

func refuse(kind provider.Kind, format string, args ...any) error {
	return &provider.Error{Op: provider.OpRecordsBatch, Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// change is one planned change: the RRs it removes and adds, in that order,
// and the record it reports.
type change struct {
	w       work
	removes []dns.RR
	adds    []dns.RR
	// guards are RRsets whose absence the change relies on (no CNAME beside
	// a new record), checked by prerequisite without being changed.
	guards []rrsetKey
	// nameFree asks for the prerequisite that the name holds nothing (a new
	// CNAME at an empty name).
	nameFree string
	rec      provider.Record
}

func (ch change) report(res *provider.ApplyResult) {
	switch ch.w.kind {
	case kindDelete:
		res.Deleted = append(res.Deleted, ch.w.old.rec.ID)
	case kindUpdate:
		res.Updated = append(res.Updated, ch.rec)
	case kindCreate:
		res.Created = append(res.Created, ch.rec)
	}
}

// txn is one batch being built over a snapshot: the RRsets it touched, as
// they were (for the prerequisites) and as they will be.
type txn struct {
	base     *zoneState
	orig     map[rrsetKey][]dns.RR
	now      map[rrsetKey][]dns.RR
	order    []rrsetKey // touched keys in the order first touched
	updates  []dns.RR   // the update section, in order
	guards   map[rrsetKey]bool
	nameFree []string
	size     int
}

func newTxn(z *zoneState) *txn {
	return &txn{base: z, orig: map[rrsetKey][]dns.RR{}, now: map[rrsetKey][]dns.RR{}, guards: map[rrsetKey]bool{}, size: 512}
}

func (t *txn) get(k rrsetKey) []dns.RR {
	if v, ok := t.now[k]; ok {
		return v
	}
	return t.base.rrsets[k]
}

// typesAt lists the types that hold records at name, registry aside.
func (t *txn) typesAt(name string) []uint16 {
	var out []uint16
	for _, typ := range t.base.types(name) {
		if len(t.get(rrsetKey{name, typ})) > 0 {
			out = append(out, typ)
		}
	}
	for k, v := range t.now {
		if k.name == name && len(v) > 0 && len(t.base.rrsets[k]) == 0 {
			out = append(out, k.typ)
		}
	}
	return out
}

// plan works out a change against the batch so far, without taking it.
func (t *txn) plan(w work, defaultTTL int) (change, error) {
	ch := change{w: w}
	zone := t.base.name
	if w.old != nil {
		ch.removes = append(ch.removes, w.old.rr)
		if w.old.registry != nil {
			ch.removes = append(ch.removes, w.old.registry)
		}
		ch.rec = w.old.rec
	}
	if w.kind == kindDelete {
		return ch, nil
	}
	r := w.rec
	name := provider.NormalizeName(r.Name)
	typ := strings.ToUpper(r.Type)
	switch {
	case name != zone && !strings.HasSuffix(name, "."+zone):
		return ch, refuse(provider.KindInvalid, "record %s is outside zone %s", name, zone)
	case isRegistryName(name):
		return ch, refuse(provider.KindInvalid, "record %s: names under %s are the ownership registry's", name, registryLabel)
	case registryName(name) == "":
		return ch, refuse(provider.KindInvalid, "record %s: the name is too long to carry an ownership registry entry (%s.<name> must fit in 253 characters)", name, registryLabel)
	case r.TTL > math.MaxInt32:
		return ch, refuse(provider.KindInvalid, "record %s: TTL %d is more than %d", name, r.TTL, math.MaxInt32)
	}
	if w.old != nil && w.old.rec.Name != name {
		return ch, refuse(provider.KindInvalid, "update of %s would move it to %s; delete and create instead", w.old.rec.Name, name)
	}
	auto := r.TTL <= 1
	ttl := uint32(r.TTL)
	if auto {
		ttl = uint32(defaultTTL)
	}
	rr, err := toRR(r, ttl)
	if err != nil {
		return ch, refuse(provider.KindInvalid, "record %s: %v", name, err)
	}
	content, ok := contentOf(rr)
	if !ok {
		return ch, refuse(provider.KindInvalid, "record %s: %s content %q cannot be written", name, typ, r.Content)
	}
	k := keyOf(rr)
	for _, have := range t.get(k) {
		if dns.IsDuplicate(have, rr) && (w.old == nil || !dns.IsDuplicate(have, w.old.rr)) {
			return ch, refuse(provider.KindConflict, "an identical record already exists: %s %s %q", name, typ, content)
		}
	}
	types := t.typesAt(name)
	if w.old != nil {
		// The record being replaced is gone by the time the new one lands.
		if len(t.get(k)) == 1 {
			types = without(types, k.typ)
		}
	}
	switch {
	case rr.Header().Rrtype == dns.TypeCNAME && len(without(types, dns.TypeCNAME)) > 0:
		return ch, refuse(provider.KindConflict, "a CNAME record cannot exist beside other records at %s", name)
	case rr.Header().Rrtype == dns.TypeCNAME && len(types) > 0 && w.old == nil:
		return ch, refuse(provider.KindConflict, "a CNAME record already exists at %s", name)
	case rr.Header().Rrtype != dns.TypeCNAME && contains(types, dns.TypeCNAME):
		return ch, refuse(provider.KindConflict, "a CNAME record exists at %s; no other record can be beside it", name)
	case rr.Header().Rrtype == dns.TypeCNAME && len(t.base.types(name)) == 0 && len(types) == 0:
		ch.nameFree = name
	case rr.Header().Rrtype != dns.TypeCNAME:
		ch.guards = append(ch.guards, rrsetKey{name, dns.TypeCNAME})
	}

	e := entry{Type: typ, Data: dataHash(typ, content), AutoTTL: auto, TTL: int(ttl), Comment: r.Comment}
	switch {
	case w.old != nil && w.old.entry != nil:
		e.ID = w.old.entry.ID
	default:
		e.ID = newID()
	}
	reg := registryName(name)
	// A stale entry for the same RR (its record was deleted by hand) would
	// claim it twice.
	for _, have := range t.get(rrsetKey{reg, dns.TypeTXT}) {
		if old, ok := parseEntry(unescapeTXT(have.(*dns.TXT).Txt[0])); ok && old.Type == e.Type && old.Data == e.Data && (w.old == nil || w.old.registry == nil || !dns.IsDuplicate(have, w.old.registry)) {
			ch.removes = append(ch.removes, have)
		}
	}
	regRR := &dns.TXT{Hdr: dns.RR_Header{Name: dns.Fqdn(reg), Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: uint32(defaultTTL)}, Txt: []string{escapeTXT(e.text())}}
	ch.adds = append(ch.adds, rr, regRR)
	ch.rec = provider.Record{ID: e.ID, Name: name, Type: typ, Content: content, TTL: int(ttl), Comment: r.Comment}
	if auto {
		ch.rec.TTL = 1
	}
	return ch, nil
}

func without(s []uint16, v uint16) []uint16 {
	var out []uint16
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

func contains(s []uint16, v uint16) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// size is how many bytes the change adds to the message: its updates, and
// the prerequisites of RRsets the batch has not touched yet.
func (ch change) size(t *txn) int {
	n := 0
	for _, rr := range ch.removes {
		n += rrLen(rr)
		if k := keyOf(rr); !t.touched(k) {
			for _, o := range t.base.rrsets[k] {
				n += rrLen(o)
			}
		}
	}
	for _, rr := range ch.adds {
		n += rrLen(rr)
		if k := keyOf(rr); !t.touched(k) {
			for _, o := range t.base.rrsets[k] {
				n += rrLen(o)
			}
			n += 12 + len(k.name)
		}
	}
	return n + 32*len(ch.guards)
}

func (t *txn) touched(k rrsetKey) bool { _, ok := t.orig[k]; return ok }

// fits reports whether the batch can take the change within
// maxMessageBytes, and the batch's size with it. The uncompressed estimate
// is an upper bound and usually enough; past it, the message with the
// change is packed with name compression (which takes every owner name's
// zone suffix, and often more, down to two bytes) to know for sure. The
// margin under 65,535 covers the order take writes in.
func (t *txn) fits(ch change) (int, bool) {
	if est := t.size + ch.size(t); est <= maxMessageBytes {
		return est, true
	}
	c := t.clone()
	c.take(ch)
	n := c.message().Len()
	return n, n <= maxMessageBytes
}

// clone copies the batch so far, for fits to try a change on.
func (t *txn) clone() *txn {
	c := &txn{base: t.base, orig: maps.Clone(t.orig), now: maps.Clone(t.now), order: slices.Clone(t.order),
		updates: slices.Clone(t.updates), guards: maps.Clone(t.guards), nameFree: slices.Clone(t.nameFree), size: t.size}
	return c
}

var packBuf = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}

// rrLen is the RR's length on the wire, uncompressed (an upper bound).
func rrLen(rr dns.RR) int {
	bp := packBuf.Get().(*[]byte)
	defer packBuf.Put(bp)
	n, err := dns.PackRR(rr, *bp, 0, nil, false)
	if err != nil {
		return dns.MaxMsgSize
	}
	return n
}

// take adds a planned change to the batch.
func (t *txn) take(ch change) {
	touch := func(k rrsetKey) {
		if !t.touched(k) {
			t.orig[k] = t.base.rrsets[k]
			t.now[k] = append([]dns.RR(nil), t.base.rrsets[k]...)
			t.order = append(t.order, k)
		}
	}
	for _, rr := range ch.removes {
		k := keyOf(rr)
		touch(k)
		var keep []dns.RR
		for _, have := range t.now[k] {
			if !dns.IsDuplicate(have, rr) {
				keep = append(keep, have)
			}
		}
		t.now[k] = keep
		del := dns.Copy(rr)
		del.Header().Class, del.Header().Ttl = dns.ClassNONE, 0
		t.updates = append(t.updates, del)
	}
	for _, rr := range ch.adds {
		k := keyOf(rr)
		touch(k)
		t.now[k] = append(t.now[k], rr)
		t.updates = append(t.updates, dns.Copy(rr))
	}
	for _, g := range ch.guards {
		if !t.touched(g) && len(t.base.rrsets[g]) == 0 {
			t.guards[g] = true
		}
	}
	if ch.nameFree != "" {
		t.nameFree = append(t.nameFree, ch.nameFree)
	}
}

// message is the batch's UPDATE: prerequisites, then the updates.
func (t *txn) message() *dns.Msg {
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(t.base.name))
	for _, k := range t.order {
		orig := t.orig[k]
		if len(orig) == 0 {
			m.Answer = append(m.Answer, &dns.ANY{Hdr: dns.RR_Header{Name: dns.Fqdn(k.name), Rrtype: k.typ, Class: dns.ClassNONE}})
			continue
		}
		for _, rr := range orig {
			pre := dns.Copy(rr)
			pre.Header().Class, pre.Header().Ttl = dns.ClassINET, 0
			m.Answer = append(m.Answer, pre)
		}
	}
	for g := range t.guards {
		if !t.touched(g) {
			m.Answer = append(m.Answer, &dns.ANY{Hdr: dns.RR_Header{Name: dns.Fqdn(g.name), Rrtype: g.typ, Class: dns.ClassNONE}})
		}
	}
	for _, n := range t.nameFree {
		m.Answer = append(m.Answer, &dns.ANY{Hdr: dns.RR_Header{Name: dns.Fqdn(n), Rrtype: dns.TypeANY, Class: dns.ClassNONE}})
	}
	m.Ns = t.updates
	m.Compress = true
	return m
}

// send writes the batch as one UPDATE.
func (p *Provider) send(ctx context.Context, zone string, t *txn) error {
	_, err := p.exchange(ctx, provider.OpRecordsBatch, t.message())
	if err != nil {
		return fmt.Errorf("zone %s: %w", zone, err)
	}
	return nil
}

// commit makes the batch part of the snapshot. The server's serial moved, by
// this batch and perhaps by others: the next read transfers the zone again.
func (t *txn) commit() {
	for _, k := range t.order {
		t.base.set(k, t.now[k])
	}
	t.base.serial = 0
}
