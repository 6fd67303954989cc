// Package logins holds the front doors' logins (acme-dns accounts, dyndns2
// users) by username: replaced whole by the gateway keys controller, read
// concurrently by the handlers.
package logins

import "sync"

// Store holds logins of one kind by username. It is safe for concurrent use.
type Store[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

// Get returns the login of a username.
func (s *Store[T]) Get(username string) (T, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[username]
	return v, ok
}

// Replace swaps the whole set at once, each login under username(login).
// The store keeps the logins as given: the caller must not change their maps
// or slices afterwards.
func (s *Store[T]) Replace(all []T, username func(T) string) {
	m := make(map[string]T, len(all))
	for _, v := range all {
		m[username(v)] = v
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = m
}

// Len is the number of logins held.
func (s *Store[T]) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}
