package dyndns

import (
	"sync"

	"github.com/scopedns/scopedns/internal/zonewriter"
)

// User is one namespace's dyndns2 login under one scope: the right to set
// the addresses of the A and AAAA names the namespace claimed, and nothing
// else.
type User struct {
	// Username and Passwords are the HTTP Basic credentials; Passwords are
	// [current, previous during a rotation overlap].
	Username  string
	Passwords []string
	// Hosts maps each normalised hostname the user may update to its zone.
	Hosts map[string]Host
	// Tenant writes the records; its Grants hold only the A and AAAA grants
	// of Hosts.
	Tenant zonewriter.Tenant
}

// Host is the zone of one hostname.
type Host struct {
	// Zone is the zone apex; ZoneID the provider's ID for it.
	Zone, ZoneID string
}

// UserStore holds the users, looked up by username. It is safe for
// concurrent use.
type UserStore struct {
	mu sync.RWMutex
	m  map[string]User
}

// NewUserStore returns a store holding users.
func NewUserStore(users ...User) *UserStore {
	s := &UserStore{}
	s.Replace(users)
	return s
}

// User returns the user of a username.
func (s *UserStore) User(username string) (User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.m[username]
	return u, ok
}

// Replace swaps the whole set at once. The store keeps the users as given:
// the caller must not change their maps or slices afterwards.
func (s *UserStore) Replace(users []User) {
	m := make(map[string]User, len(users))
	for _, u := range users {
		m[u.Username] = u
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = m
}

// Len is the number of users held.
func (s *UserStore) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.m)
}
