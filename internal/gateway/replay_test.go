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
	}
	for name, tc := range map[string]struct {
		perKey int
		steps  []step
	}{
		"should take a MAC the first time": {4, []step{
			{keyA, mac(1), 400, 100, replayFresh},
		}},
		"should refuse the same MAC again inside its window": {4, []step{
			{keyA, mac(1), 400, 100, replayFresh},
			{keyA, mac(1), 400, 101, replaySeen},
			{keyA, mac(1), 400, 400, replaySeen},
		}},
		"should take another MAC of the same key": {4, []step{
			{keyA, mac(1), 400, 100, replayFresh},
			{keyA, mac(2), 400, 100, replayFresh},
		}},
		"should keep one key's MACs apart from another's": {4, []step{
			{keyA, mac(1), 400, 100, replayFresh},
			{keyB, mac(1), 400, 100, replayFresh},
			{keyB, mac(1), 400, 100, replaySeen},
		}},
		"should refuse a key whose MACs are all inside their windows rather than forget one": {2, []step{
			{keyA, mac(1), 400, 100, replayFresh},
			{keyA, mac(2), 400, 100, replayFresh},
			{keyA, mac(3), 400, 100, replayFull},
			{keyA, mac(1), 400, 100, replaySeen},
		}},
		"should let a full key's flood leave another key alone": {2, []step{
			{keyA, mac(1), 400, 100, replayFresh},
			{keyA, mac(2), 400, 100, replayFresh},
			{keyA, mac(3), 400, 100, replayFull},
			{keyB, mac(3), 400, 100, replayFresh},
			{keyB, mac(4), 400, 100, replayFresh},
		}},
		"should make room in a full key once a window closes": {2, []step{
			{keyA, mac(1), 200, 100, replayFresh},
			{keyA, mac(2), 400, 100, replayFresh},
			{keyA, mac(3), 500, 200, replayFull},
			{keyA, mac(3), 500, 201, replayFresh},
			{keyA, mac(2), 400, 201, replaySeen},
		}},
		"should drop a key with nothing left in its windows and still catch a replay after": {4, []step{
			{keyA, mac(1), 150, 100, replayFresh},
			{keyB, mac(2), 400, 200, replayFresh}, // sweeps keyA away
			{keyB, mac(2), 400, 300, replaySeen},
			{keyA, mac(3), 600, 300, replayFresh},
			{keyA, mac(3), 600, 400, replaySeen},
		}},
	} {
		t.Run(name, func(t *testing.T) {
			c := newReplayCache(tc.perKey)
			for i, s := range tc.steps {
				if got := c.check(s.key, s.mac, s.until, s.now); got != s.want {
					t.Fatalf("step %d (%s, MAC %x at %d): verdict %d, want %d", i, s.key, s.mac[0], s.now, got, s.want)
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
