// Package chart tests what ships besides the Go code: the Helm chart in
// charts/scopedns, the kustomize tree in config/, and the container image's
// build.
//
//   - The chart's CRDs, RBAC rules and webhooks are the generated ones in
//     config/ (hack/chart-sync.sh), and every value is documented.
//   - hack/chart-check.sh lints and renders the chart (helm built from the Go
//     module proxy); every rendered object, and every object of
//     `kubectl kustomize config/default` and config/samples, is applied to a
//     real API server (envtest) with a strict server-side dry run, in a
//     namespace that enforces the restricted Pod Security Standard; and the
//     objects are wired together (Service selectors and ports, webhook
//     Service and CA, certificates, RBAC subjects, manager flags).
//   - The Dockerfile's build command (hack/build-manager.sh) yields a static,
//     stripped binary built by the Go version the Dockerfile names.
//
// The API-server tests need KUBEBUILDER_ASSETS (set by `make test`) and are
// skipped, saying so, without it.
package chart
