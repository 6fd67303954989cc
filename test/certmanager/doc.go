// Package certmanager proves that cert-manager's own Cloudflare DNS-01 solver
// (github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/cloudflare) works,
// unchanged, against the Cloudflare simulator (internal/cloudflare/sim) with an
// API token minted by scopedns's Cloudflare provider, and that the token's zone
// limit holds.
//
// It is a separate module so that cert-manager and its dependencies stay out
// of the manager binary's module; hack/test-modules.sh runs its tests.
package certmanager
