package batch

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
			b := New(200*time.Millisecond, tc.max, Hooks{})
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
					res, err := b.Apply(context.Background(), a, "zone", ch)
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
	b := New(100*time.Millisecond, 200, Hooks{})
	var wg sync.WaitGroup
	for c := 0; c < 5; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := b.Apply(context.Background(), a, "zone", provider.Changes{Create: []provider.Record{{Name: "a.example.com", Type: "A", Content: fmt.Sprint(c)}}})
			if !errors.Is(err, boom) {
				t.Errorf("claim %d got %v, want the batch's error", c, err)
			}
		}()
	}
	wg.Wait()
}

// trickle applies n one-record claims, one every gap, and waits for them all.
func trickle(t *testing.T, b *Batcher, a Applier, n int, gap time.Duration) {
	t.Helper()
	var wg sync.WaitGroup
	for c := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := provider.Changes{Create: []provider.Record{{Name: "t.example.com", Type: "TXT", Content: fmt.Sprint(c)}}}
			if _, err := b.Apply(context.Background(), a, "zone", ch); err != nil {
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
	trickle(t, New(200*time.Millisecond, 200, Hooks{}), a, 12, 25*time.Millisecond)
	if len(a.calls) != 1 {
		t.Fatalf("a trickle of claims went out in %d batches %v, want 1", len(a.calls), a.calls)
	}
}

func TestBatcherStopsGatheringAfterFourWindows(t *testing.T) {
	a := &countingApplier{}
	// 48 claims 25 ms apart span 1.2 s: a batch may gather for at most
	// 4 × 100 ms, so at least three go out.
	trickle(t, New(100*time.Millisecond, 200, Hooks{}), a, 48, 25*time.Millisecond)
	if len(a.calls) < 3 {
		t.Fatalf("a steady stream of claims over 1.2 s went out in %d batches %v, want at least 3 (four windows each at most)", len(a.calls), a.calls)
	}
}

// refusingApplier is a provider that refuses, all or nothing as Cloudflare's
// batch endpoint does, any batch holding a record whose content is in
// refuse, and counts its requests.
type refusingApplier struct {
	mu       sync.Mutex
	refuse   map[string]bool
	fail     error // every request fails with it, when set
	partial  bool  // a refused batch reports its first creation as applied
	requests int
	refusals int // requests refused
}

func (a *refusingApplier) ApplyChanges(_ context.Context, _ string, c provider.Changes) (provider.ApplyResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests++
	if a.fail != nil {
		return provider.ApplyResult{}, a.fail
	}
	var res provider.ApplyResult
	for i, r := range c.Create {
		if a.refuse[r.Content] {
			err := &provider.Error{Op: provider.OpRecordsBatch, Kind: provider.KindInvalid, Status: 400, Codes: []int{1004, 9003},
				Message: fmt.Sprintf("DNS Validation Error: posts[%d]: content %s is refused", i, r.Content)}
			a.refusals++
			if a.partial {
				return provider.ApplyResult{Created: c.Create[:1]}, err
			}
			return provider.ApplyResult{}, err
		}
		r.ID = "id-" + r.Content
		res.Created = append(res.Created, r)
	}
	return res, nil
}

// claimChanges is claim i's changes: two TXT records.
func claimChanges(i int) provider.Changes {
	return provider.Changes{Create: []provider.Record{
		{Name: fmt.Sprintf("c%d.example.com", i), Type: "TXT", Content: fmt.Sprintf("c%d-a", i)},
		{Name: fmt.Sprintf("c%d.example.com", i), Type: "TXT", Content: fmt.Sprintf("c%d-b", i)},
	}}
}

func TestBatcherSplitsARefusedBatchSoOnlyTheRefusedClaimsFail(t *testing.T) {
	rateLimited := &provider.Error{Op: provider.OpRecordsBatch, Kind: provider.KindRateLimited, Status: 429, RetryAfter: time.Second}
	unavailable := &provider.Error{Op: provider.OpRecordsBatch, Kind: provider.KindUnavailable, Status: 503}
	all := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	cases := map[string]struct {
		claims       int
		refused      []int
		fail         error
		partial      bool
		wantRequests int
		wantFailed   []int // claims that get an error; default the refused ones
	}{
		"one refused claim among two fails alone after two more requests": {
			claims: 2, refused: []int{0}, wantRequests: 3},
		"one refused claim among eight fails alone after six more requests": {
			claims: 8, refused: []int{5}, wantRequests: 7},
		"two refused claims in different halves of eight cost ten more requests": {
			claims: 8, refused: []int{1, 6}, wantRequests: 11},
		"two refused claims side by side among eight cost six more requests": {
			claims: 8, refused: []int{0, 1}, wantRequests: 7},
		"one refused claim among two hundred fails alone after sixteen more requests": {
			claims: 200, refused: []int{117}, wantRequests: 17},
		"a batch of claims all refused stops splitting at the budget and the rest share the error": {
			claims: 200, refused: all(200), wantRequests: 1 + maxSplitRequests},
		"a rate-limited batch is not split: every claim gets the rate limit": {
			claims: 8, fail: rateLimited, wantRequests: 1, wantFailed: all(8)},
		"a batch refused for a server error is not split: every claim gets it": {
			claims: 8, fail: unavailable, wantRequests: 1, wantFailed: all(8)},
		"a batch the provider applied in part is not split": {
			claims: 8, refused: []int{5}, partial: true, wantRequests: 1, wantFailed: all(8)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			a := &refusingApplier{refuse: map[string]bool{}, fail: tc.fail, partial: tc.partial}
			for _, i := range tc.refused {
				a.refuse[fmt.Sprintf("c%d-b", i)] = true
			}
			failed := map[int]bool{}
			for _, i := range tc.wantFailed {
				failed[i] = true
			}
			if tc.wantFailed == nil {
				for _, i := range tc.refused {
					failed[i] = true
				}
			}
			parts := make([]*part, tc.claims)
			for i := range parts {
				parts[i] = newPart(claimChanges(i))
			}
			got := New(time.Second, 1000, Hooks{}).send(context.Background(), a, "zone", parts)
			if got != tc.wantRequests || a.requests != tc.wantRequests {
				t.Errorf("the batch cost %d requests (the provider saw %d), want %d", got, a.requests, tc.wantRequests)
			}
			for i, pt := range parts {
				select {
				case <-pt.done:
				default:
					t.Fatalf("claim %d was never released", i)
				}
				switch {
				case failed[i] && pt.err == nil:
					t.Errorf("claim %d succeeded, want an error", i)
				case !failed[i] && pt.err != nil:
					t.Errorf("claim %d failed with %v, want its records written", i, pt.err)
				case !failed[i]:
					if len(pt.res.Created) != 2 || pt.res.Created[0].ID != fmt.Sprintf("id-c%d-a", i) {
						t.Errorf("claim %d got %v, want its own two records", i, pt.res.Created)
					}
				case tc.fail != nil:
					if !errors.Is(pt.err, tc.fail) {
						t.Errorf("claim %d got %v, want the batch's error %v", i, pt.err, tc.fail)
					}
				case tc.partial:
				default:
					if !provider.IsInvalid(pt.err) {
						t.Errorf("claim %d got %v, want the provider's refusal", i, pt.err)
					}
				}
			}
			// A claim refused alone is told its own record, not another's.
			if len(tc.refused) == 1 && tc.fail == nil && !tc.partial {
				bad := parts[tc.refused[0]]
				if want := fmt.Sprintf("content c%d-b is refused", tc.refused[0]); bad.err == nil || !strings.Contains(bad.err.Error(), want) {
					t.Errorf("the refused claim got %v, want the provider's message %q", bad.err, want)
				}
			}
		})
	}
}

func TestBatcherLetsTheOtherClaimsOfARefusedBatchLandInTheSamePass(t *testing.T) {
	a := &refusingApplier{refuse: map[string]bool{"c3-b": true}}
	// Eight claims of two changes fill a batch of 16, so it goes out as
	// soon as the last one joins, whatever the order they arrive in.
	b := New(time.Minute, 16, Hooks{})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[c] = b.Apply(context.Background(), a, "zone", claimChanges(c))
		}()
	}
	wg.Wait()
	for c, err := range errs {
		if c == 3 {
			if !provider.IsInvalid(err) {
				t.Errorf("the refused claim got %v, want the provider's refusal", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("claim %d failed with %v beside a refused claim, want its records written", c, err)
		}
	}
	// One refused claim among eight is found in three halvings, whatever
	// its place in the batch: 1 + 2·3 requests.
	if a.requests != 7 {
		t.Errorf("the batch cost %d requests, want 7", a.requests)
	}
}
