package cloudflare

import (
	"sync"
	"time"

	cf "github.com/cloudflare/cloudflare-go/v7"
	"github.com/cloudflare/cloudflare-go/v7/accounts"
	"github.com/cloudflare/cloudflare-go/v7/shared"
)

var warmOnce sync.Once

// warmEncoders marshals every request body this package sends once, before
// any concurrent use. cloudflare-go v7's apijson encoder mutates a shared
// encoder value while it fills its per-type cache (internal/apijson/encoder.go,
// newInterfaceEncoder → newTypeEncoder sets e.root), which the race detector
// flags when two goroutines mint the first tokens at once. Once every type
// reachable from our bodies is cached, later calls only read the cache.
func warmEncoders() {
	warmOnce.Do(func() {
		t := time.Unix(0, 0).UTC()
		pol := policies([]string{"group"}, []string{"zone"})
		_, _ = accounts.TokenNewParams{
			AccountID: cf.F("account"), Name: cf.F("warm"), Policies: cf.F(pol),
			NotBefore: cf.F(t), ExpiresOn: cf.F(t),
		}.MarshalJSON()
		_, _ = accounts.TokenUpdateParams{AccountID: cf.F("account"), Token: shared.TokenParam{
			Name: cf.F("warm"), Policies: cf.F(pol), Status: cf.F(shared.TokenStatusActive),
			NotBefore: cf.F(t), ExpiresOn: cf.F(t),
		}}.MarshalJSON()
	})
}
