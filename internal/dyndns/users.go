package dyndns

import (
	"github.com/scopedns/scopedns/internal/logins"
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
	s logins.Store[User]
}

// NewUserStore returns a store holding users.
func NewUserStore(users ...User) *UserStore {
	s := &UserStore{}
	s.Replace(users)
	return s
}

// User returns the user of a username.
func (s *UserStore) User(username string) (User, bool) { return s.s.Get(username) }

// Replace swaps the whole set at once. The store keeps the users as given:
// the caller must not change their maps or slices afterwards.
func (s *UserStore) Replace(users []User) { s.s.Replace(users, userName) }

// Set replaces the users of one owner (a namespace under a scope) only.
func (s *UserStore) Set(owner string, users []User) { s.s.Set(owner, users, userName) }

func userName(x User) string { return x.Username }

// Len is the number of users held.
func (s *UserStore) Len() int { return s.s.Len() }
