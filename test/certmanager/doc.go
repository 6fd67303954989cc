// Package certmanager proves that cert-manager's own DNS-01 solvers work,
// unchanged, with the credentials scopedns hands out, and that their limits
// hold:
//
//   - the Cloudflare solver
//     (github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/cloudflare)
//     against the Cloudflare simulator (internal/cloudflare/sim) with an API
//     token minted by scopedns's Cloudflare provider, limited to its zones;
//   - the rfc2136 solver
//     (github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/rfc2136)
//     against scopedns's RFC 2136 gateway (internal/gateway) writing to the
//     simulator, with the values of the credentials Secret as the operator
//     writes them (controllers' tsig-key-name, tsig-algorithm, tsig-secret,
//     nameserver), limited to the names the namespace reserved;
//   - the acmeDNS solver
//     (github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/acmedns)
//     against scopedns's acme-dns front door (internal/acmedns) over the zone
//     writer, with the credentials Secret's acmedns.json.
//
// It is a separate module so that cert-manager and its dependencies stay out
// of the manager binary's module; hack/test-modules.sh runs its tests.
package certmanager
