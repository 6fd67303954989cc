package sim

import (
	"sort"
	"time"

	"github.com/scopedns/scopedns/internal/cloudflare/wire"
)

// Record is a DNS record as the simulator stores it (wire.Record). Records
// handed out are copies.
type Record = wire.Record

// RecordData holds the structured fields of SRV and CAA records.
type RecordData = wire.RecordData

// recordSet indexes a zone's records. Stored *Record values are never
// modified in place, so a shallow clone of the maps is an independent copy.
type recordSet struct {
	byID   map[string]*Record
	byName map[string]map[string]*Record
}

func newRecordSet() *recordSet {
	return &recordSet{byID: map[string]*Record{}, byName: map[string]map[string]*Record{}}
}

func (rs *recordSet) clone() *recordSet {
	c := &recordSet{byID: make(map[string]*Record, len(rs.byID)), byName: make(map[string]map[string]*Record, len(rs.byName))}
	for k, v := range rs.byID {
		c.byID[k] = v
	}
	for n, m := range rs.byName {
		mm := make(map[string]*Record, len(m))
		for k, v := range m {
			mm[k] = v
		}
		c.byName[n] = mm
	}
	return c
}

func (rs *recordSet) put(r *Record) {
	if old := rs.byID[r.ID]; old != nil && old.Name != r.Name {
		rs.removeName(old)
	}
	rs.byID[r.ID] = r
	m := rs.byName[r.Name]
	if m == nil {
		m = map[string]*Record{}
		rs.byName[r.Name] = m
	}
	m[r.ID] = r
}

func (rs *recordSet) remove(id string) {
	if old := rs.byID[id]; old != nil {
		rs.removeName(old)
		delete(rs.byID, id)
	}
}

func (rs *recordSet) removeName(r *Record) {
	m := rs.byName[r.Name]
	delete(m, r.ID)
	if len(m) == 0 {
		delete(rs.byName, r.Name)
	}
}

// at returns the records named name, sorted by type then ID.
func (rs *recordSet) at(name string) []*Record {
	m := rs.byName[name]
	out := make([]*Record, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].ID < out[j].ID
	})
	return out
}

type zone struct {
	id, name string
	created  time.Time
	modified time.Time
	serial   uint32
	recs     *recordSet
}

func (z *zone) touch(now time.Time) {
	z.serial++
	z.modified = now
}

// build makes the record a request asks for in zone z, as Cloudflare
// validates it (wire.Build), then applies the content faults.
func (s *Server) build(z *zone, base *Record, in wire.RecordInput, mode wire.Mode, id string, now time.Time) (*Record, *wire.Failure) {
	r, f := wire.Build(wire.Zone{ID: z.id, Name: z.name}, base, in, mode, id, now, s.commentMax)
	if f != nil {
		return nil, f
	}
	if s.faults.refuses(r.Content) {
		return nil, wire.DNSInvalid(CodeInvalidField, "Content for %s record is invalid (refused by Faults.RefuseContent).", r.Type)
	}
	return r, nil
}
