package zonewriter

import (
	"slices"
	"strings"

	"github.com/scopedns/scopedns/internal/provider"
)

// entry is one record of the zone as a request sees it.
type entry struct {
	rec      provider.Record // after the request
	snap     *record         // the snapshot's record; nil: added by this request
	deleted  bool
	modified bool
}

// view holds the records at the names a request touches, taken from the
// snapshot, and applies the request to them in memory: checking first,
// deciding every change, writing nothing.
type view struct {
	apex   string
	strict bool   // Request.Strict
	tenant string // the namespace, for messages
	owner  string
	grants map[Grant]int32
	byName map[string][]*entry
}

func newView(apex string, t Tenant) *view {
	return &view{apex: apex, tenant: t.Namespace, owner: t.Owner, grants: t.Grants, byName: map[string][]*entry{}}
}

func (v *view) add(name string, r *record) {
	v.byName[name] = append(v.byName[name], &entry{rec: r.Record, snap: r})
}

func (v *view) live(name string) []*entry {
	var out []*entry
	for _, e := range v.byName[name] {
		if !e.deleted {
			out = append(out, e)
		}
	}
	return out
}

// owned reports whether the tenant may change or delete e: records it adds,
// and records carrying its owner marker.
func (v *view) owned(e *entry) bool { return e.snap == nil || e.snap.Comment == v.owner }

// checkPrereqs evaluates RFC 2136 §3.2.5 against the snapshot.
func (v *view) checkPrereqs(ps []Prereq) *Error {
	for _, p := range ps {
		live := v.live(p.Name)
		ofType := func(e *entry) bool { return e.rec.Type == p.Type }
		switch p.Kind {
		case NameInUse:
			if len(live) == 0 {
				return fail(PrereqNameNotInUse, "prerequisite failed: %s is not in use", p.Name)
			}
		case RRsetExists:
			if !slices.ContainsFunc(live, ofType) {
				return fail(PrereqRRsetAbsent, "prerequisite failed: no %s %s records", p.Name, p.Type)
			}
		case NameNotInUse:
			if len(live) > 0 {
				return fail(PrereqNameInUse, "prerequisite failed: %s is in use", p.Name)
			}
		case RRsetAbsent:
			if slices.ContainsFunc(live, ofType) {
				return fail(PrereqRRsetExists, "prerequisite failed: %s %s records exist", p.Name, p.Type)
			}
		case RRsetEquals:
			var have []string
			for _, e := range live {
				if ofType(e) {
					have = append(have, provider.ContentKey(e.rec.Type, e.rec.Content))
				}
			}
			if !sameSet(keysOf(p.Type, p.Values), have) {
				return fail(PrereqRRsetDiffers, "prerequisite failed: %s %s records differ", p.Name, p.Type)
			}
		}
	}
	return nil
}

func keysOf(typ string, values []string) []string {
	out := make([]string, len(values))
	for i, c := range values {
		out[i] = provider.ContentKey(typ, c)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// apply applies one op (RFC 2136 §3.4.2 for the kinds RFC 2136 has).
func (v *view) apply(op Op) *Error {
	switch op.Kind {
	case Add:
		return v.addValue(op.Name, op.Type, op.Content, op.TTL)
	case AddKeepNewest:
		if err := v.addValue(op.Name, op.Type, op.Content, op.TTL); err != nil {
			return err
		}
		return v.keepNewest(op.Name, op.Type, op.Keep)
	case Replace:
		return v.replace(op)
	case DeleteValue:
		return v.deleteWhere(op.Name, func(e *entry) bool {
			return e.rec.Type == op.Type && provider.SameContent(op.Type, e.rec.Content, op.Content)
		})
	case DeleteRRset:
		return v.deleteWhere(op.Name, func(e *entry) bool { return e.rec.Type == op.Type })
	case DeleteName:
		for _, e := range v.live(op.Name) {
			if v.apexNS(op.Name, e.rec.Type) {
				continue
			}
			if _, ok := v.grants[Grant{Name: op.Name, Type: e.rec.Type}]; !ok {
				return fail(Refused, "deleting every record at %s would delete %s, which is not granted", op.Name, e.rec.Type)
			}
		}
		return v.deleteWhere(op.Name, func(e *entry) bool { return !v.apexNS(op.Name, e.rec.Type) })
	}
	return fail(Invalid, "unknown change kind %d", op.Kind)
}

func (v *view) apexNS(name, typ string) bool { return name == v.apex && (typ == "NS" || typ == "SOA") }

// addValue adds one record, or gives an equal one the new TTL. A CNAME
// beside other types, or another type beside a CNAME, is ignored (RFC 2136
// §3.4.2.2); a CNAME replaces the CNAME.
func (v *view) addValue(name, typ, content string, ttl int) *Error {
	if v.apexNS(name, typ) {
		return nil
	}
	live := v.live(name)
	hasCNAME := slices.ContainsFunc(live, func(e *entry) bool { return e.rec.Type == "CNAME" })
	hasOther := slices.ContainsFunc(live, func(e *entry) bool { return e.rec.Type != "CNAME" })
	if (typ == "CNAME" && hasOther) || (typ != "CNAME" && hasCNAME) {
		if v.strict {
			return fail(Conflict, "%s %s: a CNAME cannot share its name with other records", name, typ)
		}
		return nil
	}
	for _, e := range live {
		if e.rec.Type != typ {
			continue
		}
		if provider.SameContent(typ, e.rec.Content, content) {
			if !v.owned(e) {
				return fail(Refused, "%s %s %q exists and was not written by namespace %s", name, typ, e.rec.Content, v.tenant)
			}
			if e.rec.TTL != ttl {
				e.rec.TTL = ttl
				e.modified = e.snap != nil
			}
			return nil
		}
		if typ == "CNAME" {
			if !v.owned(e) {
				return fail(Refused, "%s CNAME %q was not written by namespace %s", name, e.rec.Content, v.tenant)
			}
			e.deleted = true
		}
	}
	v.byName[name] = append(v.byName[name], &entry{rec: provider.Record{
		Name: name, Type: typ, Content: content, TTL: ttl, Comment: v.owner,
	}})
	return nil
}

// keepNewest deletes the tenant's oldest records of (name, typ) until at
// most keep are left. Records added by this request are the newest; the
// snapshot's are ordered by when the writer saw them.
func (v *view) keepNewest(name, typ string, keep int) *Error {
	var mine []*entry
	for _, e := range v.live(name) {
		if e.rec.Type == typ && v.owned(e) {
			mine = append(mine, e)
		}
	}
	slices.SortStableFunc(mine, func(a, b *entry) int { return compareAge(a, b) })
	for len(mine) > keep {
		mine[0].deleted = true
		mine = mine[1:]
	}
	return nil
}

// compareAge orders older entries first: the snapshot's by sequence, this
// request's after them.
func compareAge(a, b *entry) int {
	switch {
	case a.snap == nil && b.snap == nil:
		return 0
	case a.snap == nil:
		return 1
	case b.snap == nil:
		return -1
	case a.snap.seq < b.snap.seq:
		return -1
	case a.snap.seq > b.snap.seq:
		return 1
	}
	return 0
}

// replace makes the RRset exactly op.Values: equal records stay (with the
// new TTL), others go, missing ones are added.
func (v *view) replace(op Op) *Error {
	want := keysOf(op.Type, op.Values)
	if err := v.deleteWhere(op.Name, func(e *entry) bool {
		return e.rec.Type == op.Type && !slices.Contains(want, provider.ContentKey(e.rec.Type, e.rec.Content))
	}); err != nil {
		return err
	}
	for _, c := range op.Values {
		if err := v.addValue(op.Name, op.Type, c, op.TTL); err != nil {
			return err
		}
	}
	return nil
}

// deleteWhere deletes the live records at name that match; every one must
// be the tenant's.
func (v *view) deleteWhere(name string, match func(*entry) bool) *Error {
	var doomed []*entry
	for _, e := range v.live(name) {
		if !match(e) {
			continue
		}
		if !v.owned(e) {
			return fail(Refused, "%s %s %q was not written by namespace %s", name, e.rec.Type, e.rec.Content, v.tenant)
		}
		doomed = append(doomed, e)
	}
	for _, e := range doomed {
		e.deleted = true
	}
	return nil
}

// changes is the provider change set that takes the zone from the snapshot
// to the state after the request, with the snapshot records each change
// touches (nil for a create) in the order of the change set.
func (v *view) changes() (c provider.Changes, touched changeRefs) {
	names := make([]string, 0, len(v.byName))
	for n := range v.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		for _, e := range v.byName[n] {
			switch {
			case e.snap != nil && e.deleted:
				c.Delete = append(c.Delete, e.snap.Record)
				touched.deleted = append(touched.deleted, e.snap)
			case e.snap != nil && e.modified:
				c.UpdateOld = append(c.UpdateOld, e.snap.Record)
				c.UpdateNew = append(c.UpdateNew, e.rec)
				touched.updated = append(touched.updated, e.snap)
			case e.snap == nil && !e.deleted:
				c.Create = append(c.Create, e.rec)
			}
		}
	}
	return c, touched
}

// changeRefs are the snapshot records a change set updates and deletes, in
// its order.
type changeRefs struct {
	updated, deleted []*record
}

// inZone reports whether a normalised name lies at or below the apex.
func inZone(name, apex string) bool {
	return name == apex || strings.HasSuffix(name, "."+apex)
}
