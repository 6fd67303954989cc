package batch

import (
	"context"
	"testing"
	"time"
)

// The requests spent finding the part the provider refuses are that part's
// cost: charged to the others, a tenant could make every other tenant of a
// zone pay for the splits its refused content causes (one refused part
// among 200 costs 16 extra requests) while paying a 200th of each.
func TestTheRequestsSpentSplittingAreChargedToTheRefusedPart(t *testing.T) {
	for _, tc := range []struct {
		name    string
		parts   int
		refused int
	}{
		{"one refused part among eight", 8, 5},
		{"one refused part among two hundred", 200, 117},
		{"every part refused, the split stopped at its budget", 200, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &refusingApplier{refuse: map[string]bool{}}
			for i := range tc.parts {
				if tc.refused < 0 || i == tc.refused {
					a.refuse[claimChangesContent(i)] = true
				}
			}
			parts := make([]*part, tc.parts)
			for i := range parts {
				parts[i] = newPart(claimChanges(i))
			}
			requests := New(time.Second, 1000, Hooks{}).send(context.Background(), a, "zone", parts)
			var total, innocent float64
			for i, pt := range parts {
				total += pt.cost
				if tc.refused >= 0 && i != tc.refused {
					innocent += pt.cost
				}
			}
			if total < float64(requests)-1e-9 || total > float64(requests)+1e-9 {
				t.Errorf("the parts were charged %.3f requests, %d were sent", total, requests)
			}
			// The parts that landed pay for the requests that landed them
			// and nothing of the refused ones.
			if landed := float64(requests - a.refusals); innocent > landed+1e-9 {
				t.Errorf("the parts that landed were charged %.3f of the %d requests, want at most the %.0f that landed them", innocent, requests, landed)
			}
		})
	}
}

func claimChangesContent(i int) string { return claimChanges(i).Create[1].Content }
