package controllers

import (
	"sort"
	"strings"

	"github.com/scopedns/scopedns/internal/grant"
	"github.com/scopedns/scopedns/internal/provider"
)

// zonePlan is the outcome of planning one claim's records in one zone.
type zonePlan struct {
	Changes provider.Changes
	// NotOwned lists desired keys blocked by records this operator did not
	// write for this claim; they are never touched.
	NotOwned map[grant.Key]provider.Record
}

// planRecords is the pure diff between what a claim wants in a zone and what
// the zone holds, in the style of external-dns's plan.Calculate. It only ever
// changes records whose comment is the claim's owner marker, pairs a removed
// value with an added one as an update (one request instead of two), and
// leaves any key alone where a record it does not own already sits.
func planRecords(desired, current []provider.Record, owner string) zonePlan {
	plan := zonePlan{NotOwned: map[grant.Key]provider.Record{}}
	want := map[grant.Key][]provider.Record{}
	for _, d := range desired {
		k := recordKey(d)
		want[k] = append(want[k], d)
	}
	mine := map[grant.Key][]provider.Record{}
	foreign := map[grant.Key]provider.Record{}
	foreignCNAME := map[string]provider.Record{}
	foreignAny := map[string]provider.Record{}
	for _, c := range current {
		k := recordKey(c)
		if c.Comment == owner {
			mine[k] = append(mine[k], c)
			continue
		}
		foreign[k] = c
		foreignAny[k.Name] = c
		if k.Type == "CNAME" {
			foreignCNAME[k.Name] = c
		}
	}

	for _, k := range sortedKeys(want) {
		if f, ok := blocker(k, foreign, foreignCNAME, foreignAny); ok {
			plan.NotOwned[k] = f
			continue
		}
		have := append([]provider.Record(nil), mine[k]...)
		var missing []provider.Record
		for _, d := range want[k] {
			if i := indexOfContent(have, d); i >= 0 {
				if have[i].TTL != d.TTL {
					upd := d
					upd.ID = have[i].ID
					plan.Changes.UpdateOld = append(plan.Changes.UpdateOld, have[i])
					plan.Changes.UpdateNew = append(plan.Changes.UpdateNew, upd)
				}
				have = append(have[:i], have[i+1:]...)
				continue
			}
			missing = append(missing, d)
		}
		for len(missing) > 0 && len(have) > 0 {
			upd := missing[0]
			upd.ID = have[0].ID
			plan.Changes.UpdateOld = append(plan.Changes.UpdateOld, have[0])
			plan.Changes.UpdateNew = append(plan.Changes.UpdateNew, upd)
			missing, have = missing[1:], have[1:]
		}
		plan.Changes.Create = append(plan.Changes.Create, missing...)
		plan.Changes.Delete = append(plan.Changes.Delete, have...)
	}
	for _, k := range sortedKeys(mine) {
		if _, still := want[k]; !still {
			plan.Changes.Delete = append(plan.Changes.Delete, mine[k]...)
		}
	}
	return plan
}

// blocker finds a record not owned by the claim that stops it from writing
// key k: the same name and type, a CNAME at the name, or, for a CNAME, any
// record at the name.
func blocker(k grant.Key, foreign map[grant.Key]provider.Record, cname, any map[string]provider.Record) (provider.Record, bool) {
	if f, ok := foreign[k]; ok {
		return f, true
	}
	if f, ok := cname[k.Name]; ok {
		return f, true
	}
	if k.Type == "CNAME" {
		if f, ok := any[k.Name]; ok {
			return f, true
		}
	}
	return provider.Record{}, false
}

// describeOwner says who owns r, to the tenant of namespace: with conceal
// (--conceal-conflict-holders) a claim of another namespace is not named,
// as the verdict's own conflicts are not; hidden reports whether it was.
func describeOwner(r provider.Record, namespace string, conceal bool) (desc string, hidden bool) {
	o, ok := r.Owner()
	switch {
	case !ok:
		return "written outside scopedns", false
	case conceal && o.Namespace != namespace:
		return "owned by a claim of another namespace", true
	}
	return "owned by DNSRecordClaim " + o.Namespace + "/" + o.Claim + " of cluster " + o.Cluster, false
}

func recordKey(r provider.Record) grant.Key {
	return grant.Key{Name: provider.NormalizeName(r.Name), Type: strings.ToUpper(r.Type)}
}

func indexOfContent(rs []provider.Record, d provider.Record) int {
	for i, r := range rs {
		if provider.SameContent(r.Type, r.Content, d.Content) {
			return i
		}
	}
	return -1
}

func sortedKeys[V any](m map[grant.Key]V) []grant.Key {
	keys := make([]grant.Key, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].Name != keys[j].Name {
			return keys[i].Name < keys[j].Name
		}
		return keys[i].Type < keys[j].Type
	})
	return keys
}
