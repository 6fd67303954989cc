package cfapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/scopedns/scopedns/internal/cloudflare/wire"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// visible reads the records of the request's zone the token may see.
func (h *Handler) visible(rq *request) ([]*wire.Record, *wire.Failure) {
	t := rq.tok.Tenant
	recs, err := h.o.Writer.Read(rq.r.Context(), zonewriter.ReadRequest{Tenant: t, Zone: rq.zone.Name, ZoneID: rq.zone.ID})
	if err != nil {
		return nil, writerFailure(rq, err)
	}
	out := make([]*wire.Record, 0, len(recs))
	for _, r := range recs {
		out = append(out, toWire(rq.zone, r))
	}
	return out, nil
}

func (h *Handler) listRecords(rq *request) (any, *wire.ResultInfo, *wire.Failure) {
	q := rq.r.URL.Query()
	match, f := wire.CompileRecordFilters(q)
	if f != nil {
		return nil, nil, f
	}
	recs, f := h.visible(rq)
	if f != nil {
		return nil, nil, f
	}
	var shown []*wire.Record
	for _, r := range recs {
		if match(r) {
			shown = append(shown, r)
		}
	}
	wire.SortRecords(shown, q.Get("order"), q.Get("direction"))
	lo, hi, info := wire.Paginate(q, len(shown), 100, 5, 5_000_000)
	out := make([]wire.RecordJSON, 0, hi-lo)
	for _, r := range shown[lo:hi] {
		out = append(out, wire.ToJSON(r))
	}
	return out, &info, nil
}

func (h *Handler) getRecord(rq *request) (any, *wire.ResultInfo, *wire.Failure) {
	recs, f := h.visible(rq)
	if f != nil {
		return nil, nil, f
	}
	r := byID(recs, rq.record)
	if r == nil {
		return nil, nil, wire.ErrRecordNotFound()
	}
	return wire.ToJSON(r), nil, nil
}

func (h *Handler) createRecord(rq *request) (any, *wire.ResultInfo, *wire.Failure) {
	in, f := readRecordInput(rq.r)
	if f != nil {
		return nil, nil, f
	}
	out, f := h.apply(rq, wire.BatchInput{Posts: []wire.RecordInput{in}}, false)
	if f != nil {
		return nil, nil, f
	}
	return out.Posts[0], nil, nil
}

func (h *Handler) updateRecord(rq *request) (any, *wire.ResultInfo, *wire.Failure) {
	return h.modifyRecord(rq, false)
}

func (h *Handler) editRecord(rq *request) (any, *wire.ResultInfo, *wire.Failure) {
	return h.modifyRecord(rq, true)
}

func (h *Handler) modifyRecord(rq *request, patch bool) (any, *wire.ResultInfo, *wire.Failure) {
	in, f := readRecordInput(rq.r)
	if f != nil {
		return nil, nil, f
	}
	in.ID = rq.record
	var b wire.BatchInput
	if patch {
		b.Patches = []wire.RecordInput{in}
	} else {
		b.Puts = []wire.RecordInput{in}
	}
	out, f := h.apply(rq, b, false)
	if f != nil {
		return nil, nil, f
	}
	if patch {
		return out.Patches[0], nil, nil
	}
	return out.Puts[0], nil, nil
}

func (h *Handler) deleteRecord(rq *request) (any, *wire.ResultInfo, *wire.Failure) {
	b := wire.BatchInput{}
	b.Deletes = append(b.Deletes, struct {
		ID string `json:"id"`
	}{ID: rq.record})
	if _, f := h.apply(rq, b, false); f != nil {
		return nil, nil, f
	}
	return map[string]string{"id": rq.record}, nil, nil
}

func (h *Handler) batchRecords(rq *request) (any, *wire.ResultInfo, *wire.Failure) {
	body, err := wire.ReadBodyMax(rq.r, MaxBodyBytes)
	if err != nil {
		return nil, nil, wire.ErrMalformedJSON()
	}
	var in wire.BatchInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, nil, wire.DecodeFailure(err)
	}
	if n := len(in.Deletes) + len(in.Patches) + len(in.Puts) + len(in.Posts); n > BatchLimit {
		return nil, nil, wire.DNSInvalid(wire.CodeBatchTooLarge, "Batch has %d changes, exceeding the limit of %d.", n, BatchLimit)
	}
	out, f := h.apply(rq, in, true)
	if f != nil {
		return nil, nil, f
	}
	return out, nil, nil
}

func readRecordInput(r *http.Request) (wire.RecordInput, *wire.Failure) {
	body, err := wire.ReadBodyMax(r, MaxBodyBytes)
	if err != nil {
		return wire.RecordInput{}, wire.ErrMalformedJSON()
	}
	return wire.DecodeRecordInput(body)
}

// apply decides a batch on the visible records (plan), writes it as one
// zone writer request, all or nothing, and answers with the records as
// stored. Single-record endpoints are batches of one.
func (h *Handler) apply(rq *request, in wire.BatchInput, fromBatch bool) (wire.BatchJSON, *wire.Failure) {
	recs, f := h.visible(rq)
	if f != nil {
		return wire.BatchJSON{}, f
	}
	p, f := plan(rq.zone, recs, in, fromBatch, h.o.Now())
	if f == nil {
		f = p.inZone(rq.tok, rq.zone)
	}
	if f != nil {
		rq.reason = f.Error()
		return wire.BatchJSON{}, f
	}
	rq.names = p.names()
	if len(p.ops) == 0 {
		return p.answer(nil)
	}
	res, err := h.o.Writer.Write(rq.r.Context(), zonewriter.Request{
		Tenant: rq.tok.Tenant, Zone: rq.zone.Name, ZoneID: rq.zone.ID,
		Ops: p.ops, Protocol: Protocol, AutoTTL: true, Strict: true,
	})
	if err != nil {
		f := writerFailure(rq, err)
		if f.Status == http.StatusForbidden {
			t := rq.tok.Tenant
			f.Errs[0].Message += fmt.Sprintf(" (namespace %s, DNSScope %s: a token writes only the names and types its namespace reserved)", t.Namespace, t.Scope)
		}
		return wire.BatchJSON{}, f
	}
	return p.answer(res.Stored)
}

// byID finds a record by ID.
func byID(recs []*wire.Record, id string) *wire.Record {
	for _, r := range recs {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// toWire is a provider record as Cloudflare's API shows it: an MX's
// preference as priority, an SRV's and a CAA's fields as data. Comments are
// the operator's owner markers and are not shown.
func toWire(z Zone, p provider.Record) *wire.Record {
	r := &wire.Record{
		ID: p.ID, ZoneID: z.ID, ZoneName: z.Name,
		Name: provider.NormalizeName(p.Name), Type: p.Type, Content: p.Content,
		TTL: p.TTL, Proxied: p.Proxied,
	}
	if r.TTL <= 0 {
		r.TTL = 1
	}
	switch p.Type {
	case "MX":
		if mx, err := provider.ParseMX(p.Content); err == nil {
			r.Priority, r.Content = int(mx.Preference), mx.Host
		}
	case "SRV":
		if s, err := provider.ParseSRV(p.Content); err == nil {
			r.Priority = int(s.Priority)
			r.Data = &wire.RecordData{Priority: int(s.Priority), Weight: int(s.Weight), Port: int(s.Port), Target: s.Target}
			r.Content = fmt.Sprintf("%d %d %s", s.Weight, s.Port, s.Target)
		}
	case "CAA":
		if c, err := provider.ParseCAA(p.Content); err == nil {
			r.Data = &wire.RecordData{Flags: int(c.Flags), Tag: c.Tag, Value: c.Value}
			r.Content = fmt.Sprintf("%d %s %s", c.Flags, c.Tag, strconv.Quote(c.Value))
		}
	}
	return r
}

// content is a wire record's data as provider.Record holds it (zone-file
// form, canonical).
func content(r *wire.Record) string {
	c := r.Content
	switch r.Type {
	case "MX":
		c = fmt.Sprintf("%d %s", r.Priority, r.Content)
	case "SRV":
		if d := r.Data; d != nil {
			c = fmt.Sprintf("%d %d %d %s", d.Priority, d.Weight, d.Port, d.Target)
		}
	case "CAA":
		if d := r.Data; d != nil {
			c = provider.CAA{Flags: uint8(d.Flags), Tag: d.Tag, Value: d.Value}.Content() //nolint:gosec // wire.Build bounds flags to 0..255
		}
	}
	return provider.CanonicalContent(r.Type, c)
}
