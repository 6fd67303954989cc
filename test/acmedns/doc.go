// Package acmedns holds the end-to-end test of scopedns's acme-dns front
// door with a real client: lego's acme-dns provider (go-acme/lego v5, with
// nrdcg/goacmedns, configured from ACME_DNS_API_BASE and
// ACME_DNS_STORAGE_PATH as `lego --dns acme-dns` is) obtains a certificate
// from pebble, whose VA resolves the DNS-01 challenge through the
// Cloudflare simulator's DNS, the TXT record having gone through
// internal/acmedns and the zone writer.
//
// Both lego and pebble run in process, built from the Go module proxy:
// Debian's lego package (4.9.1) is built without its acme-dns provider
// (Debian #968964), and the lego command cannot be built from the proxy
// (some of its other providers' modules are not there). The test drives
// the same provider and client code the command runs; only flag parsing is
// left out.
//
// It is a module of its own so that pebble and lego stay out of the
// manager's module; `make test` runs it through hack/test-modules.sh.
package acmedns
