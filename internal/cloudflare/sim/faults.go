package sim

import (
	"github.com/scopedns/scopedns/internal/cloudflare/wire"

	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Faults injects failures into the API (never into DNS answers).
type Faults struct {
	// ErrorRate is the probability, 0..1, that an authenticated request
	// fails with 500, 502 or 503 before anything happens.
	ErrorRate float64
	// Latency is added before every API request is handled.
	Latency time.Duration
	// OpLatency is added, on top of Latency, before requests of one
	// operation are handled, e.g. a slow "tokens.create" so a test can stop
	// something while a mint is surely in flight.
	OpLatency map[string]time.Duration
	// FailOps makes the next N requests of an operation (e.g.
	// "dns_records.create", "tokens.create") fail with FailStatus before
	// anything happens.
	FailOps map[string]int
	// FailStatus is the status FailOps answer with; default 500. 429 makes
	// a rate-limit answer with Retry-After: 1, as a burst limit would.
	FailStatus int
	// LoseResponses makes the next N requests of an operation succeed on
	// the server and still answer 502 to the client, as a lost response
	// would: the client cannot tell whether the change happened.
	LoseResponses map[string]int
	// RefuseContent makes every record write (POST, PUT or PATCH, alone or
	// in a batch) whose content contains one of these strings fail the way
	// Cloudflare refuses content it finds invalid: 400, code 1004 "DNS
	// Validation Error" with chain code 9003. It picks records, not
	// requests: a batch holding one such record fails whole and changes
	// nothing, as a Cloudflare batch does. For refusals no check before the
	// provider can foresee.
	RefuseContent []string
	// Seed seeds the ErrorRate random source; 0 uses a fixed seed.
	Seed uint64
}

type faultState struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

func (fs *faultState) init() { fs.set(Faults{}) }

func (fs *faultState) set(f Faults) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	cp := f
	cp.FailOps = make(map[string]int, len(f.FailOps))
	for k, v := range f.FailOps {
		cp.FailOps[k] = v
	}
	cp.OpLatency = make(map[string]time.Duration, len(f.OpLatency))
	for k, v := range f.OpLatency {
		cp.OpLatency[k] = v
	}
	cp.RefuseContent = append([]string(nil), f.RefuseContent...)
	cp.LoseResponses = make(map[string]int, len(f.LoseResponses))
	for k, v := range f.LoseResponses {
		cp.LoseResponses[k] = v
	}
	if cp.FailStatus == 0 {
		cp.FailStatus = http.StatusInternalServerError
	}
	seed := f.Seed
	if seed == 0 {
		seed = 0x5eed
	}
	fs.f = cp
	fs.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// SetFaults replaces the injected faults; SetFaults(Faults{}) clears them.
func (s *Server) SetFaults(f Faults) { s.faults.set(f) }

// delay sleeps Latency and op's OpLatency; false if the request's context
// ended first.
func (fs *faultState) delay(ctx context.Context, op string) bool {
	fs.mu.Lock()
	d := fs.f.Latency + fs.f.OpLatency[op]
	fs.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// take decides the fate of one request of op: a failure before the handler
// runs, or a failure to answer after it ran.
func (fs *faultState) take(op string) (before, after *wire.Failure) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if n := fs.f.FailOps[op]; n > 0 {
		fs.f.FailOps[op] = n - 1
		return statusFailure(fs.f.FailStatus), nil
	}
	if fs.f.ErrorRate > 0 && fs.rng.Float64() < fs.f.ErrorRate {
		statuses := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}
		return statusFailure(statuses[fs.rng.IntN(len(statuses))]), nil
	}
	if n := fs.f.LoseResponses[op]; n > 0 {
		fs.f.LoseResponses[op] = n - 1
		return nil, statusFailure(http.StatusBadGateway)
	}
	return nil, nil
}

// refuses reports whether content is to be refused (Faults.RefuseContent).
func (fs *faultState) refuses(content string) bool {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, s := range fs.f.RefuseContent {
		if s != "" && strings.Contains(content, s) {
			return true
		}
	}
	return false
}

func statusFailure(status int) *wire.Failure {
	if status == http.StatusTooManyRequests {
		f := wire.Fail(status, CodeRateLimited, "Please wait and consider throttling your request speed")
		f.Header = http.Header{"Retry-After": []string{"1"}}
		return f
	}
	return wire.Fail(status, CodeInternal, http.StatusText(status))
}
