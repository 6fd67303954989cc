package gateway

import (
	"context"
	"testing"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/memory"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// readingWriter stands for zonewriter.Writer.Read until it lands on main.
type readingWriter struct {
	*zonewriter.Writer
	store *memory.Store
	err   error
}

func (w *readingWriter) Read(ctx context.Context, r readRequest) ([]provider.Record, error) {
	if w.err != nil {
		return nil, w.err
	}
	recs, err := w.store.Master().Records(ctx, r.ZoneID, provider.RecordFilter{})
	if err != nil {
		return nil, err
	}
	var out []provider.Record
	for _, rec := range recs {
		if _, ok := r.Tenant.Grants[zonewriter.Grant{Name: rec.Name, Type: rec.Type}]; ok {
			out = append(out, rec)
		}
	}
	return out, nil
}

func newTransferFixture(t *testing.T, mutate func(*Options)) *fixture {
	f, _ := newReadingFixture(t, mutate)
	return f
}

func newReadingFixture(t *testing.T, mutate func(*Options)) (*fixture, *readingWriter) {
	var rw *readingWriter
	f := newFixture(t, func(o *Options) {
		zw, err := zonewriter.New(zonewriter.Options{Providers: o.Writers})
		if err != nil {
			t.Fatal(err)
		}
		rw = &readingWriter{Writer: zw}
		o.ZoneWriter = rw
		if mutate != nil {
			mutate(o)
		}
	})
	rw.store = f.store
	return f, rw
}
