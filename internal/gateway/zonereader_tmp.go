package gateway

import (
	"context"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// readRequest stands for zonewriter.ReadRequest until it lands on main.
type readRequest struct {
	Tenant                   zonewriter.Tenant
	Zone, ZoneID, Protocol string
}

// zoneReader stands for the Read half of ZoneWriter until
// zonewriter.Writer.Read lands on main.
type zoneReader interface {
	Read(ctx context.Context, r readRequest) ([]provider.Record, error)
}
