package sim

import (
	"github.com/scopedns/scopedns/internal/cloudflare/wire"

	"encoding/json"
	"fmt"
	"net/http"
)

// zoneWithLocked resolves {zone} and checks p on it. DNS endpoints answer
// 403 "Authentication error" when the token may not use the zone, as
// Cloudflare does.
func (s *Server) zoneWithLocked(rq *request, p perm) (*zone, *wire.Failure) {
	z, f := s.zoneForLocked(rq)
	if f != nil {
		return nil, f
	}
	if !rq.tok.can(p, s.acctID, z.id) {
		return nil, wire.ErrAuthentication(http.StatusForbidden)
	}
	return z, nil
}

func (s *Server) listRecords(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	q := rq.r.URL.Query()
	match, f := wire.CompileRecordFilters(q)
	if f != nil {
		return nil, nil, nil, f
	}
	s.mu.RLock()
	z, f := s.zoneWithLocked(rq, permDNSRead)
	if f != nil {
		s.mu.RUnlock()
		return nil, nil, nil, f
	}
	var recs []*Record
	for _, r := range z.recs.byID {
		if match(r) {
			recs = append(recs, r)
		}
	}
	s.mu.RUnlock()

	wire.SortRecords(recs, q.Get("order"), q.Get("direction"))
	lo, hi, info := wire.Paginate(q, len(recs), 100, 5, 5_000_000)
	out := make([]wire.RecordJSON, 0, hi-lo)
	for _, r := range recs[lo:hi] {
		out = append(out, wire.ToJSON(r))
	}
	return out, &info, nil, nil
}

func (s *Server) getRecord(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	z, f := s.zoneWithLocked(rq, permDNSRead)
	if f != nil {
		return nil, nil, nil, f
	}
	r := z.recs.byID[rq.params["record"]]
	if r == nil {
		return nil, nil, nil, wire.ErrRecordNotFound()
	}
	return wire.ToJSON(r), nil, nil, nil
}

func (s *Server) createRecord(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	body, err := wire.ReadBody(rq.r)
	if err != nil {
		return nil, nil, nil, wire.ErrMalformedJSON()
	}
	in, f := wire.DecodeRecordInput(body)
	if f != nil {
		return nil, nil, nil, f
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, f := s.zoneWithLocked(rq, permDNSWrite)
	if f != nil {
		return nil, nil, nil, f
	}
	r, f := s.applyLocked(z, z.recs, in, wire.ModeCreate, "")
	if f != nil {
		return nil, nil, nil, f
	}
	z.touch(s.now())
	return wire.ToJSON(r), nil, nil, nil
}

// applyLocked builds and stores one record change in rs.
func (s *Server) applyLocked(z *zone, rs *recordSet, in wire.RecordInput, mode wire.Mode, id string) (*Record, *wire.Failure) {
	now := s.now()
	var base *Record
	if mode == wire.ModeCreate {
		id = s.newID()
	} else {
		base = rs.byID[id]
		if base == nil {
			return nil, wire.ErrRecordNotFound()
		}
	}
	r, f := s.build(z, base, in, mode, id, now)
	if f != nil {
		return nil, f
	}
	if f := wire.Conflict(rs.at(r.Name), r); f != nil {
		return nil, f
	}
	rs.put(r)
	return r, nil
}

func (s *Server) modifyRecord(rq *request, mode wire.Mode) (any, *ResultInfo, []Message, *wire.Failure) {
	body, err := wire.ReadBody(rq.r)
	if err != nil {
		return nil, nil, nil, wire.ErrMalformedJSON()
	}
	in, f := wire.DecodeRecordInput(body)
	if f != nil {
		return nil, nil, nil, f
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, f := s.zoneWithLocked(rq, permDNSWrite)
	if f != nil {
		return nil, nil, nil, f
	}
	r, f := s.applyLocked(z, z.recs, in, mode, rq.params["record"])
	if f != nil {
		return nil, nil, nil, f
	}
	z.touch(s.now())
	return wire.ToJSON(r), nil, nil, nil
}

func (s *Server) updateRecord(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	return s.modifyRecord(rq, wire.ModePut)
}

func (s *Server) editRecord(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	return s.modifyRecord(rq, wire.ModePatch)
}

func (s *Server) deleteRecord(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, f := s.zoneWithLocked(rq, permDNSWrite)
	if f != nil {
		return nil, nil, nil, f
	}
	id := rq.params["record"]
	if z.recs.byID[id] == nil {
		return nil, nil, nil, wire.ErrRecordNotFound()
	}
	z.recs.remove(id)
	z.touch(s.now())
	return map[string]string{"id": id}, nil, nil, nil
}

// batchRecords runs deletes, patches, puts, then posts, in that order, as
// one transaction: any failure leaves the zone untouched.
func (s *Server) batchRecords(rq *request) (any, *ResultInfo, []Message, *wire.Failure) {
	body, err := wire.ReadBody(rq.r)
	if err != nil {
		return nil, nil, nil, wire.ErrMalformedJSON()
	}
	var in wire.BatchInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, nil, nil, wire.DecodeFailure(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, f := s.zoneWithLocked(rq, permDNSWrite)
	if f != nil {
		return nil, nil, nil, f
	}
	if n := len(in.Deletes) + len(in.Patches) + len(in.Puts) + len(in.Posts); n > s.batchLimit {
		return nil, nil, nil, wire.DNSInvalid(CodeBatchTooLarge, "Batch has %d changes, exceeding the limit of %d.", n, s.batchLimit)
	}
	work := z.recs.clone()
	var out wire.BatchJSON
	for i, d := range in.Deletes {
		r := work.byID[d.ID]
		if r == nil {
			return nil, nil, nil, wire.Prefixed("deletes", i, wire.ErrRecordNotFound())
		}
		work.remove(d.ID)
		out.Deletes = append(out.Deletes, wire.ToJSON(r))
	}
	steps := []struct {
		kind string
		list []wire.RecordInput
		mode wire.Mode
		dst  *[]wire.RecordJSON
	}{
		{"patches", in.Patches, wire.ModePatch, &out.Patches},
		{"puts", in.Puts, wire.ModePut, &out.Puts},
		{"posts", in.Posts, wire.ModeCreate, &out.Posts},
	}
	for _, st := range steps {
		for i, ri := range st.list {
			if st.mode != wire.ModeCreate && ri.ID == "" {
				return nil, nil, nil, wire.Prefixed(st.kind, i, wire.DNSInvalid(CodeInvalidField, "'id' is required"))
			}
			r, f := s.applyLocked(z, work, ri, st.mode, ri.ID)
			if f != nil {
				return nil, nil, nil, wire.Prefixed(st.kind, i, f)
			}
			*st.dst = append(*st.dst, wire.ToJSON(r))
		}
	}
	z.recs = work
	z.touch(s.now())
	return out, nil, nil, nil
}

// AddRecord stores a record in the named zone with the API's validation
// and conflict rules but without a token or a request; it returns the
// stored record. Name may be relative to the zone.
func (s *Server) AddRecord(zoneName string, r Record) (Record, error) {
	zn, err := wire.NormalizeHostname(zoneName)
	if err != nil {
		return Record{}, err
	}
	in := wire.RecordInput{Name: &r.Name, Type: &r.Type, Proxied: &r.Proxied}
	if r.Content != "" {
		in.Content = &r.Content
	}
	if r.TTL != 0 {
		ttl := float64(r.TTL)
		in.TTL = &ttl
	}
	if r.Type == "MX" || r.Priority != 0 {
		p := float64(r.Priority)
		in.Priority = &p
	}
	if r.Comment != "" {
		in.Comment = &r.Comment
	}
	if len(r.Tags) > 0 {
		in.Tags = &r.Tags
	}
	if r.Data != nil {
		f := func(v int) *float64 { x := float64(v); return &x }
		d := *r.Data
		in.Data = &wire.DataInput{Priority: f(d.Priority), Weight: f(d.Weight), Port: f(d.Port), Target: &d.Target, Flags: f(d.Flags), Tag: &d.Tag, Value: &d.Value}
		in.Content = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zoneByName[zn]
	if z == nil {
		return Record{}, fmt.Errorf("zone %q is not served", zoneName)
	}
	stored, f := s.applyLocked(z, z.recs, in, wire.ModeCreate, "")
	if f != nil {
		return Record{}, f
	}
	z.touch(s.now())
	return *stored.Clone(), nil
}

// Records returns a snapshot of the zone's records sorted by name, type
// and content; nil if the zone is not served.
func (s *Server) Records(zoneName string) []Record {
	zn, err := wire.NormalizeHostname(zoneName)
	if err != nil {
		return nil
	}
	s.mu.RLock()
	z := s.zoneByName[zn]
	if z == nil {
		s.mu.RUnlock()
		return nil
	}
	recs := make([]*Record, 0, len(z.recs.byID))
	for _, r := range z.recs.byID {
		recs = append(recs, r)
	}
	s.mu.RUnlock()
	wire.SortRecords(recs, "name", "")
	out := make([]Record, 0, len(recs))
	for _, r := range recs {
		out = append(out, *r.Clone())
	}
	return out
}
