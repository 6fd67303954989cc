package dyndns

import (
	"sync"
	"time"
)

// repeats remember the address each login last set (or found already set)
// on each (name, type), for a short window, so that a client repeating an
// unchanged update is answered nochg without a writer call. The writer
// would answer the same from its snapshot; this only spares a client that
// repeats itself the queue. It can be wrong in one way: a record changed by
// someone else within the window (another front door, the provider's UI) is
// answered nochg to a client setting the old address. That is why the
// window is short (the writer's own snapshot is as stale for longer, until
// its drift refresh) and why every failed write forgets.
type repeats struct {
	window time.Duration

	mu sync.Mutex
	m  map[repeatKey]repeatEntry
}

type repeatKey struct{ username, name, typ string }

type repeatEntry struct {
	value string
	at    time.Time
}

// maxRepeats bounds the memory: entries are per authenticated login and
// granted name, so the bound is reached only with very many names; then the
// expired entries go, and if that is not enough, all of them (it is only a
// shortcut).
const maxRepeats = 16384

func newRepeats(window time.Duration) *repeats {
	return &repeats{window: window, m: map[repeatKey]repeatEntry{}}
}

// seen reports whether value was set on k within the window.
func (r *repeats) seen(k repeatKey, value string, now time.Time) bool {
	if r.window <= 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.m[k]
	return ok && e.value == value && now.Sub(e.at) < r.window
}

// remember notes that value is what k holds now.
func (r *repeats) remember(k repeatKey, value string, now time.Time) {
	if r.window <= 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.m) >= maxRepeats {
		for key, e := range r.m {
			if now.Sub(e.at) >= r.window {
				delete(r.m, key)
			}
		}
		if len(r.m) >= maxRepeats {
			clear(r.m)
		}
	}
	r.m[k] = repeatEntry{value: value, at: now}
}

// forget drops what is known of k: after a failed write, nothing is.
func (r *repeats) forget(k repeatKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, k)
}
