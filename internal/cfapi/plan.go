package cfapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/scopedns/scopedns/internal/cloudflare/wire"
	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// planned is a batch decided on the records the token sees: the zone
// writer's ops, and the records the answer shows, in the batch's order.
type planned struct {
	ops                           []zonewriter.Op
	deletes, patches, puts, posts []*wire.Record
	// fresh are the records the writer creates: their IDs are the
	// provider's, known once written.
	fresh map[*wire.Record]bool
}

// plan decides a batch as Cloudflare runs one (deletes, patches, puts, then
// posts, each on the result of those before), on the records the token
// sees, with Cloudflare's validation (wire.Build) and conflict rules
// (wire.Conflict). Whether the token may write each record is the zone
// writer's decision (zonewriter.CheckGrants), made once for every front
// door. A single-record endpoint is a batch of one, not from the batch
// endpoint: its failures are not prefixed with the batch part, as
// Cloudflare's are not.
func plan(z Zone, visible []*wire.Record, in wire.BatchInput, fromBatch bool, now time.Time) (*planned, *wire.Failure) {
	prefixed := func(kind string, i int, f *wire.Failure) *wire.Failure {
		if !fromBatch {
			return f
		}
		return wire.Prefixed(kind, i, f)
	}
	w := newWorkSet(visible)
	p := &planned{fresh: map[*wire.Record]bool{}}
	for i, d := range in.Deletes {
		r := w.byID[d.ID]
		if r == nil {
			return nil, prefixed("deletes", i, wire.ErrRecordNotFound())
		}
		w.remove(r)
		p.ops = append(p.ops, deleteOp(r))
		p.deletes = append(p.deletes, r)
	}
	steps := []struct {
		kind string
		list []wire.RecordInput
		mode wire.Mode
		dst  *[]*wire.Record
	}{
		{"patches", in.Patches, wire.ModePatch, &p.patches},
		{"puts", in.Puts, wire.ModePut, &p.puts},
		{"posts", in.Posts, wire.ModeCreate, &p.posts},
	}
	wz := wire.Zone{ID: z.ID, Name: z.Name}
	for _, st := range steps {
		for i, ri := range st.list {
			var base *wire.Record
			if st.mode != wire.ModeCreate {
				if ri.ID == "" {
					return nil, prefixed(st.kind, i, wire.DNSInvalid(wire.CodeInvalidField, "'id' is required"))
				}
				if base = w.byID[ri.ID]; base == nil {
					return nil, prefixed(st.kind, i, wire.ErrRecordNotFound())
				}
			}
			id := ri.ID
			if st.mode == wire.ModeCreate {
				id = "" // a client's "id" in a post names nothing
			}
			r, f := wire.Build(wz, base, ri, st.mode, id, now, commentMax)
			if f == nil {
				f = dnsOnly(r)
			}
			if f == nil {
				f = wire.Conflict(w.at(r.Name), r)
			}
			if f != nil {
				return nil, prefixed(st.kind, i, f)
			}
			// Comments and tags carry the operator's owner marker: they
			// were validated like Cloudflare's and are not stored.
			r.Comment, r.Tags, r.CommentModifiedOn, r.TagsModifiedOn = "", nil, time.Time{}, time.Time{}
			p.change(w, base, r)
			*st.dst = append(*st.dst, r)
		}
	}
	return p, nil
}

// change adds the ops that turn base (nil: none) into r. A record whose
// name, type and content stay keeps its ID and changes only its TTL (the
// writer's Add of an equal record); any other change deletes base and
// creates r, which then gets a new ID.
func (p *planned) change(w *workSet, base, r *wire.Record) {
	if base != nil && sameRecord(base, r) {
		w.replace(base, r)
		if base.TTL != r.TTL {
			p.ops = append(p.ops, addOp(r))
		}
		return
	}
	if base != nil {
		p.ops = append(p.ops, deleteOp(base))
		w.remove(base)
	}
	r.ID = w.tempID()
	w.add(r)
	p.fresh[r] = true
	p.ops = append(p.ops, addOp(r))
}

// answer fills the created records' IDs from what the writer stored and
// returns the batch's result. The writer stores every record asked for or
// fails the request (Request.Strict), so a created record missing from what
// it stored is a fault of the front door, answered as one.
func (p *planned) answer(stored []provider.Record) (wire.BatchJSON, *wire.Failure) {
	used := make([]bool, len(stored))
	for r := range p.fresh {
		found := false
		for i, s := range stored {
			if !used[i] && provider.NormalizeName(s.Name) == provider.NormalizeName(r.Name) && s.Type == r.Type && provider.SameContent(r.Type, s.Content, content(r)) {
				used[i], found = true, true
				r.ID = s.ID
				break
			}
		}
		if !found {
			return wire.BatchJSON{}, wire.Failf(http.StatusInternalServerError, wire.CodeInternal,
				"Internal server error: %s %s was written but not returned", r.Name, r.Type)
		}
	}
	var out wire.BatchJSON
	for _, part := range []struct {
		recs []*wire.Record
		dst  *[]wire.RecordJSON
	}{{p.deletes, &out.Deletes}, {p.patches, &out.Patches}, {p.puts, &out.Puts}, {p.posts, &out.Posts}} {
		for _, r := range part.recs {
			*part.dst = append(*part.dst, wire.ToJSON(r))
		}
	}
	return out, nil
}

// inZone refuses a change at a name that lies in a deeper zone of the
// token's than the request's: written into the parent it would sit behind
// the child zone's delegation, unseen by resolvers and by the record GC.
func (p *planned) inZone(t *Token, z Zone) *wire.Failure {
	for _, op := range p.ops {
		for _, other := range t.Zones {
			if len(other.Name) > len(z.Name) && (op.Name == other.Name || strings.HasSuffix(op.Name, "."+other.Name)) {
				return authError(fmt.Sprintf("%s is in zone %s (%s), not in %s", op.Name, other.Name, other.ID, z.Name))
			}
		}
	}
	return nil
}

// names are the record names the batch touches, for the audit line.
func (p *planned) names() []string {
	seen := map[string]bool{}
	var out []string
	for _, op := range p.ops {
		if !seen[op.Name] {
			seen[op.Name] = true
			out = append(out, op.Name)
		}
	}
	return out
}

// dnsOnly refuses proxied records: the front door writes what resolvers
// see, and proxying would put Cloudflare's addresses in front of them.
func dnsOnly(r *wire.Record) *wire.Failure {
	if r.Proxied {
		return wire.DNSInvalid(wire.CodeInvalidField, "Invalid 'proxied' value: scopedns writes DNS-only records, proxied must be false")
	}
	return nil
}

func sameRecord(a, b *wire.Record) bool {
	return a.Name == b.Name && a.Type == b.Type && provider.SameContent(a.Type, content(a), content(b))
}

func addOp(r *wire.Record) zonewriter.Op {
	return zonewriter.Op{Kind: zonewriter.Add, Name: provider.NormalizeName(r.Name), Type: r.Type, Content: content(r), TTL: r.TTL}
}

func deleteOp(r *wire.Record) zonewriter.Op {
	return zonewriter.Op{Kind: zonewriter.DeleteValue, Name: provider.NormalizeName(r.Name), Type: r.Type, Content: content(r)}
}

// workSet is the visible records as a batch changes them.
type workSet struct {
	byID map[string]*wire.Record
	n    int
}

func newWorkSet(recs []*wire.Record) *workSet {
	w := &workSet{byID: make(map[string]*wire.Record, len(recs))}
	for _, r := range recs {
		w.byID[r.ID] = r
	}
	return w
}

func (w *workSet) add(r *wire.Record)    { w.byID[r.ID] = r }
func (w *workSet) remove(r *wire.Record) { delete(w.byID, r.ID) }

func (w *workSet) replace(old, r *wire.Record) {
	delete(w.byID, old.ID)
	w.byID[r.ID] = r
}

// tempID names a record to be created until the provider gives it an ID;
// no provider ID has a colon.
func (w *workSet) tempID() string {
	w.n++
	return fmt.Sprintf("new:%d", w.n)
}

// at are the records at a name.
func (w *workSet) at(name string) []*wire.Record {
	var out []*wire.Record
	for _, r := range w.byID {
		if strings.EqualFold(r.Name, name) {
			out = append(out, r)
		}
	}
	return out
}
