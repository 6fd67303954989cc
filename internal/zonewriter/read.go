package zonewriter

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/scopedns/scopedns/internal/provider"
)

// Read returns the zone's records whose (name, type) the tenant was granted,
// sorted by name, type and content: what a front door that lists records
// (an RFC 2136 zone transfer, Cloudflare's record list) may show it. Nothing
// else is shown, not even other types at a granted name, so a read tells no
// more than a prerequisite may (CheckGrants).
//
// It reads the writer's snapshot: a zone is listed at most once per Refresh
// whatever the tenants read, so reads cost no provider request of their own.
// A tenant past its fair part of the budget is refused reads too
// (OverBudget): it is to back off, not poll.
func (w *Writer) Read(ctx context.Context, r ReadRequest) ([]provider.Record, error) {
	if r.ZoneID == "" || r.Zone == "" {
		return nil, fail(Invalid, "no zone")
	}
	p, err := w.o.Providers.Provider(ctx, r.Tenant.Scope)
	if err != nil || p == nil {
		return nil, &Error{Code: Failed, Reason: fmt.Sprintf("no provider for scope %s: %v", r.Tenant.Scope, err), Err: err}
	}
	w.mu.Lock()
	if e := w.allowed(w.budgetOf(r.Tenant.Scope).fair, r.Tenant.Namespace); e != nil {
		w.mu.Unlock()
		return nil, e
	}
	z := w.zone(r.ZoneID)
	for {
		wait, e := w.ready(p, z)
		if e != nil {
			w.mu.Unlock()
			return nil, e
		}
		if wait == nil {
			break
		}
		w.mu.Unlock()
		if e := waitFor(ctx, wait); e != nil {
			return nil, e
		}
		w.mu.Lock()
	}
	var out []provider.Record
	for g := range r.Tenant.Grants {
		if !inZone(g.Name, r.Zone) {
			continue
		}
		for _, rec := range z.byName[g.Name] {
			if strings.EqualFold(rec.Type, g.Type) {
				out = append(out, rec.Record)
			}
		}
	}
	w.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Type != b.Type {
			return a.Type < b.Type
		}
		return a.Content < b.Content
	})
	return out, nil
}
