package acmedns

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/scopedns/scopedns/internal/auditsample"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// staleValues remembers the values the handler wrote, oldest first, at most
// keep per name: an older one was already deleted by the keep-two rule of
// the write that pushed it out. So it holds at most two entries per account.
type staleValues struct {
	mu     sync.Mutex
	byName map[nameKey][]written
}

// nameKey is one namespace's name: the unit of the keep-two rule.
type nameKey struct{ namespace, name string }

type written struct {
	acct    Account
	content string
	at      time.Time
}

func newStaleValues() *staleValues { return &staleValues{byName: map[nameKey][]written{}} }

// wrote records that content was written at the account's name at now; the
// same value written again starts its TTL again.
func (s *staleValues) wrote(acct Account, content string, now time.Time) {
	k := nameKey{acct.Tenant.Namespace, acct.Name}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.byName[k]
	for i, w := range list {
		if w.content == content {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	list = append(list, written{acct: acct, content: content, at: now})
	if len(list) > keep {
		list = list[len(list)-keep:]
	}
	s.byName[k] = list
}

// due returns the values written at or before cutoff.
func (s *staleValues) due(cutoff time.Time) []written {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []written
	for _, list := range s.byName {
		for _, w := range list {
			if !w.at.After(cutoff) {
				out = append(out, w)
			}
		}
	}
	return out
}

// forget drops a value unless it was written again since w.
func (s *staleValues) forget(w written) {
	k := nameKey{w.acct.Tenant.Namespace, w.acct.Name}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.byName[k]
	for i, x := range list {
		if x.content == w.content && x.at.Equal(w.at) {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.byName, k)
		return
	}
	s.byName[k] = list
}

// len is how many values are remembered.
func (s *staleValues) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, list := range s.byName {
		n += len(list)
	}
	return n
}

// Pending is how many written values the handler will delete when their
// ValueTTL ends.
func (h *Handler) Pending() int { return h.stale.len() }

// Sweep deletes the values written ValueTTL or longer ago. A value the
// provider could not delete now (Failed, OverBudget) is tried again on the
// next sweep; one the writer refuses (the account's grant is gone) is
// forgotten: the record GC removes what no grant covers.
func (h *Handler) Sweep(ctx context.Context) {
	for _, w := range h.stale.due(h.o.Now().Add(-h.o.ValueTTL)) {
		_, err := h.o.Writer.Write(ctx, zonewriter.Request{
			Tenant: w.acct.Tenant, Zone: w.acct.Zone, ZoneID: w.acct.ZoneID, Protocol: Protocol,
			Ops: []zonewriter.Op{{Kind: zonewriter.DeleteValue, Name: w.acct.Name, Type: "TXT", Content: w.content}},
		})
		attrs := []slog.Attr{slog.String("namespace", w.acct.Tenant.Namespace), slog.String("name", w.acct.Name)}
		var we *zonewriter.Error
		if err != nil && (!errors.As(err, &we) || we.Code == zonewriter.Failed || we.Code == zonewriter.OverBudget) {
			h.o.Logger.LogAttrs(ctx, slog.LevelWarn, "acme-dns stale value not removed, will retry",
				append(attrs, slog.String("reason", err.Error()))...)
			continue
		}
		h.stale.forget(w)
		if err != nil {
			h.o.Logger.LogAttrs(ctx, slog.LevelWarn, "acme-dns stale value not removed, forgotten",
				append(attrs, slog.String("reason", err.Error()))...)
			continue
		}
		h.o.Logger.LogAttrs(ctx, slog.LevelInfo, "acme-dns stale value removed", attrs...)
	}
}

// Run sweeps stale values every interval (0: a minute, which is fine
// against a 15-minute TTL) and writes the sampled audit's summary when its
// interval ends, until ctx is done.
func (h *Handler) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Minute
	}
	t := time.NewTicker(min(interval, h.sampler.Interval()))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.Sweep(ctx)
			auditsample.Log(ctx, h.o.Logger, msgSummary, h.sampler.Flush(h.o.Now()))
		}
	}
}
