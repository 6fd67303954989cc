package acmedns

import (
	"github.com/scopedns/scopedns/internal/logins"
	"github.com/scopedns/scopedns/internal/zonewriter"
)

// Account is one acme-dns account: the right to set the TXT values of one
// _acme-challenge name. Accounts are not registered by clients (POST
// /register is refused): the operator derives one for every _acme-challenge
// TXT name a namespace reserved, and writes it into the namespace's
// credentials Secret in the JSON cert-manager's acmeDNS solver reads.
type Account struct {
	// Username is the X-Api-User header, a UUID.
	Username string
	// Passwords are the accepted X-Api-Key values: [current, previous during
	// a rotation overlap].
	Passwords []string
	// Subdomain is what clients send in the body's "subdomain", a UUID.
	Subdomain string
	// Name is the TXT record's name, normalised: "_acme-challenge.<domain>".
	Name string
	// Zone is the zone apex holding Name; ZoneID the provider's ID for it.
	Zone, ZoneID string
	// Tenant writes the record; its Grants hold only (Name, TXT).
	Tenant zonewriter.Tenant
}

// AccountStore holds the accounts, looked up by username. It is safe for
// concurrent use.
type AccountStore struct {
	s logins.Store[Account]
}

// NewAccountStore returns a store holding accounts.
func NewAccountStore(accounts ...Account) *AccountStore {
	s := &AccountStore{}
	s.Replace(accounts)
	return s
}

// Account returns the account of a username.
func (s *AccountStore) Account(username string) (Account, bool) { return s.s.Get(username) }

// Replace swaps the whole set at once. The store keeps the accounts as given:
// the caller must not change their maps or slices afterwards.
func (s *AccountStore) Replace(accounts []Account) { s.s.Replace(accounts, accountName) }

// Set replaces the accounts of one owner (a namespace under a scope) only.
func (s *AccountStore) Set(owner string, accounts []Account) { s.s.Set(owner, accounts, accountName) }

func accountName(x Account) string { return x.Username }

// Len is the number of accounts held.
func (s *AccountStore) Len() int { return s.s.Len() }
