package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scopedns/scopedns/internal/provider"
)

// countingApplier creates records with IDs and counts batch calls.
type countingApplier struct {
	mu    sync.Mutex
	calls []int // size of each batch
	fail  error
}

func (a *countingApplier) ApplyChanges(_ context.Context, _ string, c provider.Changes) (provider.ApplyResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, c.Len())
	if a.fail != nil {
		return provider.ApplyResult{}, a.fail
	}
	var res provider.ApplyResult
	for _, r := range c.Create {
		r.ID = "id-" + r.Content
		res.Created = append(res.Created, r)
	}
	for _, r := range c.Delete {
		res.Deleted = append(res.Deleted, r.ID)
	}
	return res, nil
}

func TestBatcherCoalescesConcurrentClaimsAndSharesResults(t *testing.T) {
	cases := map[string]struct {
		claims, perClaim, max int
		wantCalls             int
	}{
		"twenty claims arriving together share one batch":      {claims: 20, perClaim: 2, max: 200, wantCalls: 1},
		"a batch that reaches the limit goes out at once":      {claims: 10, perClaim: 10, max: 50, wantCalls: 2},
		"a single claim still gets its batch after the window": {claims: 1, perClaim: 3, max: 200, wantCalls: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a := &countingApplier{}
			b := newBatcher(200*time.Millisecond, tc.max)
			var wg sync.WaitGroup
			errs := make(chan error, tc.claims)
			for c := 0; c < tc.claims; c++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var ch provider.Changes
					for i := 0; i < tc.perClaim; i++ {
						ch.Create = append(ch.Create, provider.Record{Name: "x.example.com", Type: "TXT", Content: fmt.Sprintf("c%d-%d", c, i)})
					}
					res, err := b.apply(context.Background(), a, "zone", ch)
					if err != nil {
						errs <- err
						return
					}
					if len(res.Created) != tc.perClaim {
						errs <- fmt.Errorf("claim %d got %d created records, want %d", c, len(res.Created), tc.perClaim)
						return
					}
					for i, r := range res.Created {
						if want := fmt.Sprintf("id-c%d-%d", c, i); r.ID != want {
							errs <- fmt.Errorf("claim %d got record %s, want %s: results mixed up between claims", c, r.ID, want)
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if len(a.calls) != tc.wantCalls {
				t.Fatalf("%d batch calls %v, want %d", len(a.calls), a.calls, tc.wantCalls)
			}
			for _, n := range a.calls {
				if n > tc.max {
					t.Fatalf("batch of %d changes exceeds the limit %d", n, tc.max)
				}
			}
		})
	}
}

func TestBatcherGivesEveryClaimTheBatchError(t *testing.T) {
	boom := errors.New("provider down")
	a := &countingApplier{fail: boom}
	b := newBatcher(100*time.Millisecond, 200)
	var wg sync.WaitGroup
	for c := 0; c < 5; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.apply(context.Background(), a, "zone", provider.Changes{Create: []provider.Record{{Name: "a.example.com", Type: "A", Content: fmt.Sprint(c)}}})
			if !errors.Is(err, boom) {
				t.Errorf("claim %d got %v, want the batch's error", c, err)
			}
		}()
	}
	wg.Wait()
}

// trickle applies n one-record claims, one every gap, and waits for them all.
func trickle(t *testing.T, b *batcher, a changeApplier, n int, gap time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := provider.Changes{Create: []provider.Record{{Name: "t.example.com", Type: "TXT", Content: fmt.Sprint(c)}}}
			if _, err := b.apply(context.Background(), a, "zone", ch); err != nil {
				t.Errorf("claim %d: %v", c, err)
			}
		}()
		time.Sleep(gap) // the arrival pattern under test, not a wait for a condition
	}
	wg.Wait()
}

func TestBatcherKeepsGatheringWhileClaimsTrickleIn(t *testing.T) {
	a := &countingApplier{}
	// 12 claims 25 ms apart span 275 ms, longer than the 200 ms window, but
	// none is ever a window behind the one before it.
	trickle(t, newBatcher(200*time.Millisecond, 200), a, 12, 25*time.Millisecond)
	if len(a.calls) != 1 {
		t.Fatalf("a trickle of claims went out in %d batches %v, want 1", len(a.calls), a.calls)
	}
}

func TestBatcherStopsGatheringAfterFourWindows(t *testing.T) {
	a := &countingApplier{}
	// 48 claims 25 ms apart span 1.2 s: a batch may gather for at most
	// 4 × 100 ms, so at least three go out.
	trickle(t, newBatcher(100*time.Millisecond, 200), a, 48, 25*time.Millisecond)
	if len(a.calls) < 3 {
		t.Fatalf("a steady stream of claims over 1.2 s went out in %d batches %v, want at least 3 (four windows each at most)", len(a.calls), a.calls)
	}
}
