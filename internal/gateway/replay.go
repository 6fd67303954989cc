package gateway

import (
	"sync"
)

// replayCache remembers, per key, the MACs of the signed requests the
// gateway verified, each until its request's time window closes (Time
// Signed + Fudge): a request is fresh once. RFC 8945 §5.2.3 lets a server
// keep such state; without it a captured UPDATE can be sent again, and
// applied again, for as long as its window lasts (up to ten minutes, twice
// the fudge).
//
// Memory is bounded per key: each key holds at most perKey MACs. A key
// whose MACs are all still in their windows refuses new requests
// (replayFull) rather than forget one, which would let that one be
// replayed; so a tenant flooding its own key fails that key alone, and
// never pushes out another key's MACs. A MAC is kept as its first 16 bytes:
// an HMAC's output is uniform, so two requests share them only by chance
// (2^-128) or by 2^64 work of the key's own holder, whose request would
// then merely be refused.
type replayCache struct {
	perKey int

	mu   sync.Mutex
	keys map[string]*keyMACs
	// swept is when (Unix seconds) the keys with no MAC left in its window
	// were last dropped.
	swept int64
}

type macID [16]byte

// keyMACs are one key's MACs, each with the last second (Unix) its request
// is inside its time window.
type keyMACs struct {
	mu   sync.Mutex
	seen map[macID]seenMAC
	// oldest is the earliest such second among seen: before it passes, a
	// full key has nothing to drop.
	oldest int64
	// gone: the sweep took this key out of the cache; a request that
	// found it just before looks the key up again, so that its MAC is not
	// remembered where no later lookup finds it.
	gone bool
}

// seenMAC is one remembered request: the last second (Unix) it is inside
// its time window, and whether the server is still answering it.
type seenMAC struct {
	until    int64
	inFlight bool
}

type replayVerdict int

const (
	replayFresh    replayVerdict = iota // first time: remembered
	replaySeen                          // a replay
	replayInFlight                      // a replay of a request still being answered
	replayFull                          // the key holds perKey MACs in their windows
)

// keySweepInterval is how often, in seconds, keys left with nothing in
// their windows are forgotten (a key deleted or idle).
const keySweepInterval = 60

func newReplayCache(perKey int) *replayCache {
	return &replayCache{perKey: perKey, keys: map[string]*keyMACs{}}
}

// check says whether the request of key with mac, inside its time window
// until the second until, was seen before, and remembers it if not. now
// and until are Unix seconds.
func (c *replayCache) check(key string, mac []byte, until, now int64) replayVerdict {
	var id macID
	copy(id[:], mac)
	k := c.key(key, now)
	k.mu.Lock()
	for k.gone {
		k.mu.Unlock()
		k = c.key(key, now)
		k.mu.Lock()
	}
	defer k.mu.Unlock()
	if e, ok := k.seen[id]; ok {
		if e.inFlight {
			return replayInFlight
		}
		return replaySeen
	}
	if len(k.seen) >= c.perKey {
		k.dropExpired(now)
		if len(k.seen) >= c.perKey {
			return replayFull
		}
	}
	if len(k.seen) == 0 || until < k.oldest {
		k.oldest = until
	}
	k.seen[id] = seenMAC{until: until, inFlight: true}
	return replayFresh
}

// done records that the server answered the fresh request of key with mac.
func (c *replayCache) done(key string, mac []byte) {
	var id macID
	copy(id[:], mac)
	c.mu.Lock()
	k := c.keys[key]
	c.mu.Unlock()
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.seen[id]; ok {
		e.inFlight = false
		k.seen[id] = e
	}
}

// key returns key's MACs, and every keySweepInterval forgets keys with no
// MAC left in its window, so that keys deleted from the store cost nothing.
func (c *replayCache) key(key string, now int64) *keyMACs {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now-c.swept >= keySweepInterval {
		c.swept = now
		for name, k := range c.keys {
			k.mu.Lock()
			k.dropExpired(now)
			if len(k.seen) == 0 {
				k.gone = true
				delete(c.keys, name)
			}
			k.mu.Unlock()
		}
	}
	k := c.keys[key]
	if k == nil {
		k = &keyMACs{seen: map[macID]seenMAC{}}
		c.keys[key] = k
	}
	return k
}

// dropExpired forgets the MACs whose windows closed before now: the time
// check refuses those requests anyway. The caller holds k.mu.
func (k *keyMACs) dropExpired(now int64) {
	if len(k.seen) == 0 || now <= k.oldest {
		return
	}
	oldest := int64(0)
	for id, e := range k.seen {
		switch {
		case e.until < now:
			delete(k.seen, id)
		case oldest == 0 || e.until < oldest:
			oldest = e.until
		}
	}
	k.oldest = oldest
}

// len is the number of MACs held for key.
func (c *replayCache) len(key string) int {
	c.mu.Lock()
	k := c.keys[key]
	c.mu.Unlock()
	if k == nil {
		return 0
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.seen)
}
