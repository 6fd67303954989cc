package ha

import (
	"context"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

// tokenWorks reads the zone's records with a tenant token.
func tokenWorks(ctx context.Context, baseURL string, token provider.Secret, zoneID string) error {
	p, err := cloudflare.New(cloudflare.Options{AccountID: account, APIToken: token, BaseURL: baseURL, MaxRetries: -1, RateLimit: -1})
	if err != nil {
		return err
	}
	_, err = p.Records(ctx, zoneID, provider.RecordFilter{Type: "TXT"})
	return err
}
