// Package logins holds the front doors' logins (acme-dns accounts, dyndns2
// users, Cloudflare API tokens) by username, grouped by the namespace and
// scope that own them: one group is replaced at a time by the gateway keys
// controller, and the handlers read concurrently.
package logins

import "sync"

// Store holds logins of one kind by username, each under the group (one
// namespace's logins under one scope) that owns it. It is safe for concurrent
// use. Setting one group costs what that group holds, not what the store
// holds, so a reconcile of one namespace stays as cheap with 10,000 others.
type Store[T any] struct {
	mu     sync.RWMutex
	m      map[string]owned[T]
	groups map[string][]string // group -> its usernames
}

type owned[T any] struct {
	group string
	v     T
}

// Get returns the login of a username.
func (s *Store[T]) Get(username string) (T, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.m[username]
	return o.v, ok
}

// Set replaces one group's logins at once (none: the group is removed), each
// under username(login); a handler sees the group's old logins or its new
// ones, never half of each. A username another group holds stays that
// group's: derived usernames include the owner, so a clash is a bug, and it
// must not let one namespace take another's login away. The store keeps the
// logins as given: the caller must not change their maps or slices afterwards.
func (s *Store[T]) Set(group string, all []T, username func(T) string) {
	names := make([]string, 0, len(all))
	for _, v := range all {
		names = append(names, username(v))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m, s.groups = map[string]owned[T]{}, map[string][]string{}
	}
	for _, n := range s.groups[group] {
		if s.m[n].group == group {
			delete(s.m, n)
		}
	}
	kept := names[:0]
	for i, v := range all {
		if o, taken := s.m[names[i]]; taken && o.group != group {
			continue
		}
		s.m[names[i]] = owned[T]{group: group, v: v}
		kept = append(kept, names[i])
	}
	if len(kept) == 0 {
		delete(s.groups, group)
		return
	}
	s.groups[group] = kept
}

// Len is the number of logins held.
func (s *Store[T]) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}

// Replace swaps the whole store for all, held under one group: for a store
// filled by one hand (tests, a single tenant), not by the controller.
func (s *Store[T]) Replace(all []T, username func(T) string) {
	s.mu.Lock()
	s.m, s.groups = nil, nil
	s.mu.Unlock()
	s.Set("", all, username)
}
