package acmedns

// TEMPORARY until the zone writer's body lands on main.

import (
	"context"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

type interimWriter struct{ p zonewriter.Provider }

func (w interimWriter) Write(ctx context.Context, r zonewriter.Request) (zonewriter.Result, error) {
	var ch provider.Changes
	for _, op := range r.Ops {
		if _, ok := r.Tenant.Grants[zonewriter.Grant{Name: op.Name, Type: op.Type}]; !ok {
			return zonewriter.Result{}, &zonewriter.Error{Code: zonewriter.Refused, Reason: "not granted"}
		}
		switch op.Kind {
		case zonewriter.AddKeepNewest:
			ch.Create = append(ch.Create, provider.Record{Name: op.Name, Type: op.Type, Content: op.Content, TTL: op.TTL, Comment: r.Tenant.Owner})
		case zonewriter.DeleteValue:
			rs, err := w.p.Records(ctx, r.ZoneID, provider.RecordFilter{Name: op.Name, Type: op.Type})
			if err != nil {
				return zonewriter.Result{}, &zonewriter.Error{Code: zonewriter.Failed, Reason: err.Error()}
			}
			for _, x := range rs {
				if x.Content == op.Content {
					ch.Delete = append(ch.Delete, x)
				}
			}
		}
	}
	if _, err := w.p.ApplyChanges(ctx, r.ZoneID, ch); err != nil {
		return zonewriter.Result{}, &zonewriter.Error{Code: zonewriter.Failed, Reason: err.Error()}
	}
	return zonewriter.Result{Created: len(ch.Create)}, nil
}
