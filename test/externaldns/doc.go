// Package externaldns proves that external-dns (sigs.k8s.io/external-dns,
// the version in go.mod) works, unchanged, with the credentials scopedns
// hands out, and that their limits hold. Each test runs external-dns's own
// packages in-process, as its binary wires them: a provider, the TXT
// registry (registry/txt) and the controller's sync (controller.RunOnce,
// plan.Calculate), fed by a static source that stands for the Kubernetes
// objects external-dns would watch.
//
//   - rfc2136_test.go: the RFC 2136 provider (provider/rfc2136) with a
//     namespace's TSIG key lists the zone through the gateway's AXFR and
//     writes through its UPDATEs (internal/gateway over the zone writer and
//     scopedns's Cloudflare provider, on the Cloudflare simulator).
//
// suite_test.go holds what every test shares: the simulator (its API and its
// DNS), the namespaces' names, the static source and one sync. A test of
// another external-dns provider against another front door goes in a file
// of its own beside rfc2136_test.go.
//
// It is a separate module so that external-dns and its dependencies stay out
// of the manager binary's module. external-dns needs a newer Go than the
// main module: hack/test-modules.sh runs this module's tests with
// GOTOOLCHAIN=go1.27.3 (the go command fetches that toolchain from the module
// proxy).
package externaldns
