package cfapi

import "sync"

// inFlight counts the requests being served, per token and in all.
type inFlight struct {
	perToken, total int

	mu     sync.Mutex
	tokens map[string]int
	n      int
}

func newInFlight(perToken, total int) *inFlight {
	return &inFlight{perToken: perToken, total: total, tokens: map[string]int{}}
}

// acquire takes a place for a request of token id, or reports false when
// the token or the handler is at its limit; release gives it back.
func (f *inFlight) acquire(id string) (release func(), ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.tokens[id] >= f.perToken || f.n >= f.total {
		return nil, false
	}
	f.tokens[id]++
	f.n++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.n--
		if f.tokens[id]--; f.tokens[id] == 0 {
			delete(f.tokens, id)
		}
	}, true
}
