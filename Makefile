# scopedns — `make help` lists the targets.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_TOOLS_VERSION ?= v0.23.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
# GOTEST_FLAGS is passed to every `go test` run by `make test` (CI adds -race).
GOTEST_FLAGS ?= -race
IMG ?= ghcr.io/scopedns/scopedns:dev

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
# The main module's directories only: "./..." also loads the nested test
# modules, and test/externaldns needs Go 1.27 (controller-gen runs with the
# local toolchain and fails on it).
manifests: $(CONTROLLER_GEN) ## Generate CRDs, RBAC and webhook manifests into config/.
	$(CONTROLLER_GEN) rbac:roleName=scopedns-manager crd webhook paths="./api/...;./cmd/...;./controllers/...;./internal/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac \
		output:webhook:artifacts:config=config/webhook
	hack/chart-sync.sh

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code for the API types.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."

.PHONY: fmt
fmt: ## Run gofmt on the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: ## Fail on unformatted code or vet findings.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

.PHONY: controlplane
controlplane: ## Build kube-apiserver, etcd and kubectl from the Go module proxy into bin/ (cached).
	hack/controlplane.sh >/dev/null

.PHONY: test
test: manifests generate ## Run every test on a real API server and etcd built from source (the README's test command).
	hack/setup.sh || echo "warning: nsupdate/dig/knsupdate/named/knotd/ddclient/inadyn missing; the tests that drive them will skip (and fail under CI=true)" >&2
	assets=$$(hack/controlplane.sh); \
	hack/tools/helm/helm.sh >/dev/null; \
	hack/build-manager.sh $(LOCALBIN)/manager; \
	KUBEBUILDER_ASSETS=$$assets go test $(GOTEST_FLAGS) ./... && \
	hack/test-modules.sh $(GOTEST_FLAGS)

.PHONY: fuzz
fuzz: ## Run each fuzz target of internal/grant for FUZZTIME (default 30s).
	for t in $$(go test ./internal/grant/ -list 'Fuzz.*' | grep ^Fuzz); do \
		go test ./internal/grant/ -run XXX -fuzz "^$$t$$" -fuzztime $${FUZZTIME:-30s}; done

##@ Build

.PHONY: build
build: manifests generate ## Build the manager, the simulator and the kubectl plugin (bin/kubectl-scopedns) into bin/.
	hack/build-manager.sh $(LOCALBIN)/manager
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/cfsim ./cmd/cfsim
	$(MAKE) plugin

.PHONY: plugin
plugin: ## Build the kubectl plugin into bin/kubectl-scopedns (put bin/ on PATH: `kubectl scopedns`).
	CGO_ENABLED=0 go build -trimpath -o $(LOCALBIN)/kubectl-scopedns ./cmd/kubectl-scopedns

.PHONY: chart-check
chart-check: ## Lint and render the Helm chart with default and non-default values.
	hack/chart-check.sh >/dev/null

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Demo

.PHONY: demo
demo: ## Run the operator on a local control plane and Cloudflare simulator and walk through it (the README's run command; DEMO_KEEP=1 keeps it running).
	hack/demo.sh

.PHONY: demo-down
demo-down: ## Stop a demo left running with DEMO_KEEP=1.
	hack/demo.sh down

##@ Benchmarks

# BENCH_FLAGS is passed to hack/bench, e.g. BENCH_FLAGS='-namespaces 1000 -claims 5 -records 2'.
BENCH_FLAGS ?=

.PHONY: bench
bench: ## Measure convergence, provider requests, steady state, restart, memory, webhook latency and rotation on a local control plane; writes docs/benchmarks.md (scale: BENCH_FLAGS='-namespaces 1000 -claims 5 -records 2').
	assets=$$(hack/controlplane.sh); \
	KUBEBUILDER_ASSETS=$$assets go run ./hack/bench $(BENCH_FLAGS) && \
	$(MAKE) faults-large bench-frontdoors bench-externaldns

# BENCH_TENANTS and BENCH_SECONDS size bench-frontdoors.
BENCH_TENANTS ?= 200
BENCH_SECONDS ?= 30

# SCALE_FLAGS is passed to hack/bench -mode scale, e.g. SCALE_FLAGS='-scale-sizes 1000,3000'.
SCALE_FLAGS ?=
.PHONY: bench-scale
bench-scale: ## Thousands of tenants: 1,000, 3,000 and 10,000 namespaces with tokenless credentials, each on a fresh control plane with cmd/manager as its own process: convergence, provider and API load, memory, webhook latency, DNS-01 at once, steady state, restart, pprof; writes its section of docs/benchmarks.md (about 16 minutes on 2 cores).
	@assets=$$(hack/controlplane.sh) && \
	KUBEBUILDER_ASSETS=$$assets go run ./hack/bench -mode scale $(SCALE_FLAGS)

.PHONY: bench-frontdoors
bench-frontdoors: ## BENCH_TENANTS tenants' DNS-01 flows through the RFC 2136 gateway and the zone writer at Cloudflare's rate, beside BIND 9 on the same updates: updates/s, provider requests per update, p50/p99, 429s.
	SCOPEDNS_BENCH_FRONTDOORS=1 SCOPEDNS_BENCH_TENANTS=$(BENCH_TENANTS) SCOPEDNS_BENCH_SECONDS=$(BENCH_SECONDS) \
	go test -count=1 -v -run TestFrontDoorLoad ./internal/gateway/bench/

.PHONY: bench-externaldns
bench-externaldns: ## 20 namespaces' external-dns (1,000 endpoints each) syncing through the Cloudflare-compatible front door, beside the same on the simulator directly: provider requests per sync and time (Go 1.27 toolchain, fetched once).
	cd test/externaldns && GOTOOLCHAIN=$$(awk '$$1 == "toolchain" { print $$2 }' go.mod) \
	go test -count=1 -run XXX -bench ExternalDNSSync -benchtime 1x -timeout 30m .

# FAULT_ROUNDS and FAULT_NAMESPACES size faults-large (make test runs 8 x 3).
FAULT_ROUNDS ?= 30
FAULT_NAMESPACES ?= 10

.PHONY: faults-large
faults-large: ## The abrupt-stop fault test at a larger size (FAULT_ROUNDS rounds of FAULT_NAMESPACES namespaces); make bench runs it.
	assets=$$(hack/controlplane.sh); \
	KUBEBUILDER_ASSETS=$$assets SCOPEDNS_KILL_ROUNDS=$(FAULT_ROUNDS) SCOPEDNS_KILL_NAMESPACES=$(FAULT_NAMESPACES) \
	go test -count=1 -timeout 30m -run 'TestKilledManagerLeaksNothing' -v ./test/ha/

$(LOCALBIN):
	mkdir -p $(LOCALBIN)

$(CONTROLLER_GEN): | $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)
