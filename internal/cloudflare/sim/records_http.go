package sim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// zoneWithLocked resolves {zone} and checks p on it. DNS endpoints answer
// 403 "Authentication error" when the token may not use the zone, as
// Cloudflare does.
func (s *Server) zoneWithLocked(rq *request, p perm) (*zone, *failure) {
	z, f := s.zoneForLocked(rq)
	if f != nil {
		return nil, f
	}
	if !rq.tok.can(p, s.acctID, z.id) {
		return nil, errAuthentication(http.StatusForbidden)
	}
	return z, nil
}

func (s *Server) listRecords(rq *request) (any, *ResultInfo, []Message, *failure) {
	q := rq.r.URL.Query()
	match, f := compileRecordFilters(q)
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

	sortRecords(recs, q.Get("order"), q.Get("direction"))
	lo, hi, info := paginate(q, len(recs), 100, 5, 5_000_000)
	out := make([]recordJSON, 0, hi-lo)
	for _, r := range recs[lo:hi] {
		out = append(out, toJSON(r))
	}
	return out, &info, nil, nil
}

func sortRecords(recs []*Record, order, direction string) {
	key := func(r *Record) []string {
		switch order {
		case "name":
			return []string{r.Name, r.Type, r.Content}
		case "content":
			return []string{r.Content, r.Name, r.Type}
		case "ttl":
			return []string{fmt.Sprintf("%06d", r.TTL), r.Type, r.Name, r.Content}
		case "proxied":
			return []string{strconv.FormatBool(r.Proxied), r.Type, r.Name, r.Content}
		}
		return []string{r.Type, r.Name, r.Content}
	}
	sort.SliceStable(recs, func(i, j int) bool {
		a, b := key(recs[i]), key(recs[j])
		for k := range a {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return recs[i].ID < recs[j].ID
	})
	if direction == "desc" {
		for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
			recs[i], recs[j] = recs[j], recs[i]
		}
	}
}

// paginate answers Cloudflare's page/per_page: per_page is clamped to
// [min, max], pages start at 1, a page past the end is empty.
func paginate(q url.Values, n, def, min, max int) (lo, hi int, info ResultInfo) {
	num := func(key string, d int) int {
		v, err := strconv.ParseFloat(q.Get(key), 64)
		if err != nil || math.IsNaN(v) || v < 1 {
			return d
		}
		if v > math.MaxInt32 {
			return math.MaxInt32
		}
		return int(v)
	}
	per := num("per_page", def)
	if per < min {
		per = min
	}
	if per > max {
		per = max
	}
	page := num("page", 1)
	lo = (page - 1) * per
	if lo > n || lo < 0 {
		lo = n
	}
	hi = lo + per
	if hi > n {
		hi = n
	}
	return lo, hi, ResultInfo{
		Page: page, PerPage: per, Count: hi - lo, TotalCount: n,
		TotalPages: (n + per - 1) / per,
	}
}

// compileRecordFilters reads the list filters cloudflare-go v7 sends
// (name.exact, comment.startswith, …), the legacy exact forms (name=,
// content=, comment=), type, proxied and match=any|all.
func compileRecordFilters(q url.Values) (func(*Record) bool, *failure) {
	var preds []func(*Record) bool
	str := func(field string, get func(*Record) string, norm func(string) string) {
		for _, op := range []string{"", "exact", "contains", "startswith", "endswith"} {
			key := field
			if op != "" {
				key += "." + op
			}
			if !q.Has(key) {
				continue
			}
			want := strings.ToLower(norm(q.Get(key)))
			preds = append(preds, func(r *Record) bool {
				got := strings.ToLower(get(r))
				switch op {
				case "contains":
					return strings.Contains(got, want)
				case "startswith":
					return strings.HasPrefix(got, want)
				case "endswith":
					return strings.HasSuffix(got, want)
				}
				return got == want
			})
		}
	}
	trimDot := func(s string) string { return strings.TrimSuffix(strings.TrimSpace(s), ".") }
	same := func(s string) string { return s }
	str("name", func(r *Record) string { return r.Name }, trimDot)
	str("content", func(r *Record) string { return r.Content }, same)
	str("comment", func(r *Record) string { return r.Comment }, same)
	if q.Has("comment.present") {
		preds = append(preds, func(r *Record) bool { return r.Comment != "" })
	}
	if q.Has("comment.absent") {
		preds = append(preds, func(r *Record) bool { return r.Comment == "" })
	}
	if q.Has("type") {
		want := strings.ToUpper(q.Get("type"))
		preds = append(preds, func(r *Record) bool { return r.Type == want })
	}
	if q.Has("proxied") {
		want, err := strconv.ParseBool(q.Get("proxied"))
		if err != nil {
			return nil, dnsInvalid(CodeInvalidField, "Invalid 'proxied' value, must be a boolean")
		}
		preds = append(preds, func(r *Record) bool { return r.Proxied == want })
	}
	if tp := q.Get("tag.present"); tp != "" {
		preds = append(preds, func(r *Record) bool { return hasTag(r, tp, "", false) })
	}
	if ta := q.Get("tag.absent"); ta != "" {
		preds = append(preds, func(r *Record) bool { return !hasTag(r, ta, "", false) })
	}
	if te := q.Get("tag.exact"); te != "" {
		name, value, _ := strings.Cut(te, ":")
		preds = append(preds, func(r *Record) bool { return hasTag(r, name, value, true) })
	}
	anyOf := false
	switch q.Get("match") {
	case "", "all":
	case "any":
		anyOf = true
	default:
		return nil, dnsInvalid(CodeInvalidField, "Invalid 'match' value, must be \"any\" or \"all\"")
	}
	return func(r *Record) bool {
		if len(preds) == 0 {
			return true
		}
		for _, p := range preds {
			if p(r) == anyOf {
				return anyOf
			}
		}
		return !anyOf
	}, nil
}

func hasTag(r *Record, name, value string, withValue bool) bool {
	for _, t := range r.Tags {
		n, v, _ := strings.Cut(t, ":")
		if strings.EqualFold(n, name) && (!withValue || strings.EqualFold(v, value)) {
			return true
		}
	}
	return false
}

func (s *Server) getRecord(rq *request) (any, *ResultInfo, []Message, *failure) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	z, f := s.zoneWithLocked(rq, permDNSRead)
	if f != nil {
		return nil, nil, nil, f
	}
	r := z.recs.byID[rq.params["record"]]
	if r == nil {
		return nil, nil, nil, errRecordNotFound()
	}
	return toJSON(r), nil, nil, nil
}

func (s *Server) createRecord(rq *request) (any, *ResultInfo, []Message, *failure) {
	body, err := readBody(rq.r)
	if err != nil {
		return nil, nil, nil, fail(http.StatusBadRequest, CodeMalformedJSON, "Malformed JSON in request body")
	}
	in, f := decodeRecordInput(body)
	if f != nil {
		return nil, nil, nil, f
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, f := s.zoneWithLocked(rq, permDNSWrite)
	if f != nil {
		return nil, nil, nil, f
	}
	r, f := s.applyLocked(z, z.recs, in, modeCreate, "")
	if f != nil {
		return nil, nil, nil, f
	}
	z.touch(s.now())
	return toJSON(r), nil, nil, nil
}

// applyLocked builds and stores one record change in rs.
func (s *Server) applyLocked(z *zone, rs *recordSet, in recordInput, mode buildMode, id string) (*Record, *failure) {
	now := s.now()
	var base *Record
	if mode == modeCreate {
		id = s.newID()
	} else {
		base = rs.byID[id]
		if base == nil {
			return nil, errRecordNotFound()
		}
	}
	r, f := s.build(z, base, in, mode, id, now)
	if f != nil {
		return nil, f
	}
	if f := conflict(rs, r); f != nil {
		return nil, f
	}
	rs.put(r)
	return r, nil
}

func (s *Server) modifyRecord(rq *request, mode buildMode) (any, *ResultInfo, []Message, *failure) {
	body, err := readBody(rq.r)
	if err != nil {
		return nil, nil, nil, fail(http.StatusBadRequest, CodeMalformedJSON, "Malformed JSON in request body")
	}
	in, f := decodeRecordInput(body)
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
	return toJSON(r), nil, nil, nil
}

func (s *Server) updateRecord(rq *request) (any, *ResultInfo, []Message, *failure) {
	return s.modifyRecord(rq, modePut)
}

func (s *Server) editRecord(rq *request) (any, *ResultInfo, []Message, *failure) {
	return s.modifyRecord(rq, modePatch)
}

func (s *Server) deleteRecord(rq *request) (any, *ResultInfo, []Message, *failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	z, f := s.zoneWithLocked(rq, permDNSWrite)
	if f != nil {
		return nil, nil, nil, f
	}
	id := rq.params["record"]
	if z.recs.byID[id] == nil {
		return nil, nil, nil, errRecordNotFound()
	}
	z.recs.remove(id)
	z.touch(s.now())
	return map[string]string{"id": id}, nil, nil, nil
}

type batchInput struct {
	Deletes []struct {
		ID string `json:"id"`
	} `json:"deletes"`
	Patches []recordInput `json:"patches"`
	Puts    []recordInput `json:"puts"`
	Posts   []recordInput `json:"posts"`
}

type batchJSON struct {
	Deletes []recordJSON `json:"deletes,omitempty"`
	Patches []recordJSON `json:"patches,omitempty"`
	Puts    []recordJSON `json:"puts,omitempty"`
	Posts   []recordJSON `json:"posts,omitempty"`
}

// batchRecords runs deletes, patches, puts, then posts, in that order, as
// one transaction: any failure leaves the zone untouched.
func (s *Server) batchRecords(rq *request) (any, *ResultInfo, []Message, *failure) {
	body, err := readBody(rq.r)
	if err != nil {
		return nil, nil, nil, fail(http.StatusBadRequest, CodeMalformedJSON, "Malformed JSON in request body")
	}
	var in batchInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, nil, nil, decodeFailure(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z, f := s.zoneWithLocked(rq, permDNSWrite)
	if f != nil {
		return nil, nil, nil, f
	}
	if n := len(in.Deletes) + len(in.Patches) + len(in.Puts) + len(in.Posts); n > s.batchLimit {
		return nil, nil, nil, dnsInvalid(CodeBatchTooLarge, "Batch has %d changes, exceeding the limit of %d.", n, s.batchLimit)
	}
	work := z.recs.clone()
	var out batchJSON
	for i, d := range in.Deletes {
		r := work.byID[d.ID]
		if r == nil {
			return nil, nil, nil, prefixed("deletes", i, errRecordNotFound())
		}
		work.remove(d.ID)
		out.Deletes = append(out.Deletes, toJSON(r))
	}
	steps := []struct {
		kind string
		list []recordInput
		mode buildMode
		dst  *[]recordJSON
	}{
		{"patches", in.Patches, modePatch, &out.Patches},
		{"puts", in.Puts, modePut, &out.Puts},
		{"posts", in.Posts, modeCreate, &out.Posts},
	}
	for _, st := range steps {
		for i, ri := range st.list {
			if st.mode != modeCreate && ri.ID == "" {
				return nil, nil, nil, prefixed(st.kind, i, dnsInvalid(CodeInvalidField, "'id' is required"))
			}
			r, f := s.applyLocked(z, work, ri, st.mode, ri.ID)
			if f != nil {
				return nil, nil, nil, prefixed(st.kind, i, f)
			}
			*st.dst = append(*st.dst, toJSON(r))
		}
	}
	z.recs = work
	z.touch(s.now())
	return out, nil, nil, nil
}

func prefixed(kind string, i int, f *failure) *failure {
	for k := range f.errs {
		f.errs[k].Message = fmt.Sprintf("%s[%d]: %s", kind, i, f.errs[k].Message)
	}
	return f
}

// AddRecord stores a record in the named zone with the API's validation
// and conflict rules but without a token or a request; it returns the
// stored record. Name may be relative to the zone.
func (s *Server) AddRecord(zoneName string, r Record) (Record, error) {
	zn, err := normalizeHostname(zoneName)
	if err != nil {
		return Record{}, err
	}
	in := recordInput{Name: &r.Name, Type: &r.Type, Proxied: &r.Proxied}
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
		in.Data = &dataInput{Priority: f(d.Priority), Weight: f(d.Weight), Port: f(d.Port), Target: &d.Target, Flags: f(d.Flags), Tag: &d.Tag, Value: &d.Value}
		in.Content = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.zoneByName[zn]
	if z == nil {
		return Record{}, fmt.Errorf("zone %q is not served", zoneName)
	}
	stored, f := s.applyLocked(z, z.recs, in, modeCreate, "")
	if f != nil {
		return Record{}, f
	}
	z.touch(s.now())
	return *stored.clone(), nil
}

// Records returns a snapshot of the zone's records sorted by name, type
// and content; nil if the zone is not served.
func (s *Server) Records(zoneName string) []Record {
	zn, err := normalizeHostname(zoneName)
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
	sortRecords(recs, "name", "")
	out := make([]Record, 0, len(recs))
	for _, r := range recs {
		out = append(out, *r.clone())
	}
	return out
}
