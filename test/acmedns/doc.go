// Package acmedns holds the end-to-end test of scopedns's acme-dns front
// door with a real client: Debian's lego, with its acme-dns provider,
// obtains a certificate from pebble (an ACME server, run in process) whose
// VA resolves the DNS-01 challenge through the Cloudflare simulator's DNS,
// the TXT record having gone through internal/acmedns and the zone writer.
//
// It is a module of its own so that pebble stays out of the manager's
// module; `make test` runs it through hack/test-modules.sh.
package acmedns
