package zonewriter

import (
	"slices"

	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/provider"
)

// check decides, from the request alone, whether the tenant may ask it:
// every name in the zone, every prerequisite at a name it has a grant at,
// every change at a (name, type) it was granted, within the granted TTL, of a
// type the provider stores. It returns the ops with their TTLs raised to
// MinTTL. Who owns the records touched is decided later, on the snapshot.
func (w *Writer) check(r Request) ([]Op, *Error) {
	if r.ZoneID == "" || r.Zone == "" {
		return nil, fail(Invalid, "no zone")
	}
	t := r.Tenant
	for _, p := range r.Prereqs {
		if !inZone(p.Name, r.Zone) {
			return nil, fail(Invalid, "prerequisite %s is outside zone %s", p.Name, r.Zone)
		}
	}
	for _, op := range r.Ops {
		if !inZone(op.Name, r.Zone) {
			return nil, fail(Invalid, "%s is outside zone %s", op.Name, r.Zone)
		}
	}
	if e := CheckGrants(t, r.Prereqs, r.Ops); e != nil {
		return nil, e
	}
	ops := slices.Clone(r.Ops)
	for i := range ops {
		op := &ops[i]
		if op.Kind == DeleteName {
			continue
		}
		maxTTL := t.Grants[Grant{Name: op.Name, Type: op.Type}]
		if !provider.IsSupportedType(op.Type) {
			return nil, fail(Refused, "%s records cannot be written", op.Type)
		}
		switch op.Kind {
		case Add, AddKeepNewest, Replace:
			if op.Kind != Replace && op.Content == "" {
				return nil, fail(Invalid, "add of %s %s without data", op.Name, op.Type)
			}
			// What a front door writes passes the checks a claim's values
			// pass (one rule for both): no CNAME target with an escaped dot
			// or a "*", no TXT with control bytes, whatever the protocol
			// let through. Refused, as the provider would refuse it.
			values := op.Values
			if op.Kind != Replace {
				values = []string{op.Content}
			}
			if err := grant.ValidateValues(op.Type, values); err != nil {
				return nil, fail(Refused, "%s %s: %v", op.Name, op.Type, err)
			}
			if op.Kind == AddKeepNewest && op.Keep < 1 {
				return nil, fail(Invalid, "keep %d of %s %s: at least one", op.Keep, op.Name, op.Type)
			}
			auto := r.AutoTTL && op.TTL == int(grant.AutoTTL)
			effective := int64(op.TTL)
			if auto {
				effective = int64(grant.AutoTTLSeconds)
			}
			if maxTTL > 0 && effective > int64(maxTTL) {
				return nil, fail(Refused, "TTL %d of %s %s is above the granted %d", op.TTL, op.Name, op.Type, maxTTL)
			}
			if !auto && w.o.MinTTL > 0 && op.TTL < w.o.MinTTL {
				op.TTL = w.o.MinTTL
			}
		}
	}
	return ops, nil
}

// CheckGrants is the grant decision alone: every prerequisite at a name
// the tenant has a grant at, every change at a (name, type) it was granted
// (a name-wide delete at a name it has one at). Write makes it; a front door
// whose protocol refuses grants before it reads the data (RFC 2136's
// REFUSED before FORMERR) asks it first, RR by RR, of the same rule.
func CheckGrants(t Tenant, ps []Prereq, ops []Op) *Error {
	for _, p := range ps {
		if !nameGranted(t.Grants, p.Name) {
			// Answering it would tell which records exist where the
			// tenant may not write: no oracle.
			return fail(Refused, "prerequisite on %s, where the tenant has no grant", p.Name)
		}
	}
	for _, op := range ops {
		if op.Kind == DeleteName {
			if !nameGranted(t.Grants, op.Name) {
				return fail(Refused, "%s is not granted", op.Name)
			}
			continue
		}
		if _, granted := t.Grants[Grant{Name: op.Name, Type: op.Type}]; !granted {
			return fail(Refused, "%s %s is not granted", op.Name, op.Type)
		}
	}
	return nil
}

// nameGranted reports whether the tenant has a grant of any type at name.
func nameGranted(grants map[Grant]int32, name string) bool {
	for g := range grants {
		if g.Name == name {
			return true
		}
	}
	return false
}
