package gateway

import (
	"bytes"
	"testing"
)

func mac(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestReplayCache(t *testing.T) {
	type step struct {
		key   string
		mac   []byte
		until int64 // last second of the request's time window
		now   int64
		want  replayVerdict
		// unanswered leaves a fresh request in flight; the others are
		// answered before the next step.
		unanswered bool
	}
	for name, tc := range map[string]struct {
		perKey int
		steps  []step
	}{
		"should take a MAC the first time": {4, []step{
			{keyA, mac(1), 400, 100, replayFresh, false},
		}},
		"should refuse the same MAC again inside its window": {4, []step{
			{keyA, mac(1), 400, 100, replayFresh, false},
			{keyA, mac(1), 400, 101, replaySeen, false},
			{keyA, mac(1), 400, 400, replaySeen, false},
		}},
		"should tell a replay of a request still being answered from one of an answered request": {4, []step{
			{keyA, mac(1), 400, 100, replayFresh, true},
			{keyA, mac(1), 400, 100, replayInFlight, false},
			{keyA, mac(2), 400, 100, replayFresh, false},
			{keyA, mac(2), 400, 100, replaySeen, false},
		}},
		"should take another MAC of the same key": {4, []step{
			{keyA, mac(1), 400, 100, replayFresh, false},
			{keyA, mac(2), 400, 100, replayFresh, false},
		}},
		"should keep one key's MACs apart from another's": {4, []step{
			{keyA, mac(1), 400, 100, replayFresh, false},
			{keyB, mac(1), 400, 100, replayFresh, false},
			{keyB, mac(1), 400, 100, replaySeen, false},
		}},
		"should refuse a key whose MACs are all inside their windows rather than forget one": {2, []step{
			{keyA, mac(1), 400, 100, replayFresh, false},
			{keyA, mac(2), 400, 100, replayFresh, false},
			{keyA, mac(3), 400, 100, replayFull, false},
			{keyA, mac(1), 400, 100, replaySeen, false},
		}},
		"should let a full key's flood leave another key alone": {2, []step{
			{keyA, mac(1), 400, 100, replayFresh, false},
			{keyA, mac(2), 400, 100, replayFresh, false},
			{keyA, mac(3), 400, 100, replayFull, false},
			{keyB, mac(3), 400, 100, replayFresh, false},
			{keyB, mac(4), 400, 100, replayFresh, false},
		}},
		"should make room in a full key once a window closes": {2, []step{
			{keyA, mac(1), 200, 100, replayFresh, false},
			{keyA, mac(2), 400, 100, replayFresh, false},
			{keyA, mac(3), 500, 200, replayFull, false},
			{keyA, mac(3), 500, 201, replayFresh, false},
			{keyA, mac(2), 400, 201, replaySeen, false},
		}},
		"should drop a key with nothing left in its windows and still catch a replay after": {4, []step{
			{keyA, mac(1), 150, 100, replayFresh, false},
			{keyB, mac(2), 400, 200, replayFresh, false}, // sweeps keyA away
			{keyB, mac(2), 400, 300, replaySeen, false},
			{keyA, mac(3), 600, 300, replayFresh, false},
			{keyA, mac(3), 600, 400, replaySeen, false},
		}},
	} {
		t.Run(name, func(t *testing.T) {
			c := newReplayCache(tc.perKey)
			for i, s := range tc.steps {
				got := c.check(s.key, s.mac, s.until, s.now)
				if got != s.want {
					t.Fatalf("step %d (%s, MAC %x at %d): verdict %d, want %d", i, s.key, s.mac[0], s.now, got, s.want)
				}
				if got == replayFresh && !s.unanswered {
					c.done(s.key, s.mac)
				}
			}
			for _, k := range []string{keyA, keyB} {
				if n := c.len(k); n > tc.perKey {
					t.Fatalf("%s holds %d MACs, more than %d", k, n, tc.perKey)
				}
			}
		})
	}
}

// TestReplayCacheForgetsIdleKeys: a key that stopped sending (or was
// deleted) costs nothing once its windows closed.
func TestReplayCacheForgetsIdleKeys(t *testing.T) {
	c := newReplayCache(8)
	for i := range 5 {
		c.check(keyA, mac(byte(i)), 400, 100)
	}
	c.check(keyB, mac(9), 1000, 100+keySweepInterval*10)
	c.mu.Lock()
	_, held := c.keys[keyA]
	c.mu.Unlock()
	if held {
		t.Fatalf("%s still held after its windows closed", keyA)
	}
}
