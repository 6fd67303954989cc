package dyndns

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scopedns/scopedns/internal/zonewriter"
)

// FuzzQuery: whatever the query, an authenticated request is answered 200
// with one line per hostname or one line in all, and nothing but the
// login's own A and AAAA names is ever written.
func FuzzQuery(f *testing.F) {
	for _, seed := range []string{
		"hostname=" + home + "&myip=203.0.113.7",
		"hostname=" + home + "," + hostB + "&myip=203.0.113.7,2001:db8::7",
		"hostname=,,,&myip=,",
		"hostname=%00&myip=::ffff:1.2.3.4%25eth0",
		"hostname=" + strings.Repeat("a.", 200) + "com",
		"myip=1.1.1.1&hostname=" + v4only + "&hostname=" + hostB,
	} {
		f.Add(seed)
	}
	users := testUsers()
	f.Fuzz(func(t *testing.T, query string) {
		fx := newFixture(t, func(o *Options) { o.Users = users })
		w := fx.do(req{query: query})
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
		lines := strings.Split(strings.TrimSuffix(w.Body.String(), "\n"), "\n")
		if len(lines) == 0 || len(lines) > maxHosts {
			t.Fatalf("%d answer lines: %q", len(lines), w.Body.String())
		}
		u, _ := users.User(userA)
		for _, c := range fx.writer.calls {
			for _, op := range c.Ops {
				if _, ok := u.Tenant.Grants[zonewriter.Grant{Name: op.Name, Type: op.Type}]; !ok || op.Kind != zonewriter.Replace {
					t.Fatalf("wrote %+v, outside the login", op)
				}
			}
		}
	})
}
