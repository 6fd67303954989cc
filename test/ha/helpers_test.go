package ha

import (
	"context"

	"github.com/go-logr/logr"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/scopedns/scopedns/internal/provider"
	"github.com/scopedns/scopedns/internal/provider/cloudflare"
)

// The managers' logs are not what these tests look at; without a logger
// controller-runtime prints a stack trace instead.
func init() { logf.SetLogger(logr.Discard()) }

// tokenWorks reads the zone's records with a tenant token.
func tokenWorks(ctx context.Context, baseURL string, token provider.Secret, zoneID string) error {
	p, err := cloudflare.New(cloudflare.Options{AccountID: account, APIToken: token, BaseURL: baseURL, MaxRetries: -1, RateLimit: -1})
	if err != nil {
		return err
	}
	_, err = p.Records(ctx, zoneID, provider.RecordFilter{Type: "TXT"})
	return err
}
