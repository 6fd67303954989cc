#!/usr/bin/env bash
# Builds the manager binary exactly as the container image does: the
# Dockerfile's build stage runs this script, and test/chart runs it too and
# checks that the result is a static, stripped binary.
#
#   hack/build-manager.sh [OUT]     # default OUT: bin/manager
#
# GOOS and GOARCH are taken from the environment (the Dockerfile sets them
# from buildx's TARGETOS/TARGETARCH).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out="${1:-bin/manager}"
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "${out}" ./cmd/manager
