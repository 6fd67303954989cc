#!/usr/bin/env bash
# Builds helm from source via the Go module proxy and caches it as
# bin/helm-<version>. No prebuilt binaries are downloaded.
#
# The pinned version lives in hack/tools/helm/go.mod (+ go.sum); the build uses
# -mod=readonly, so those files are the single source of truth.
#
# Usage:
#   hack/tools/helm/helm.sh              # build if missing, print the binary's path
#   HELM="$(hack/tools/helm/helm.sh)"
#   HELM_FORCE=1 hack/tools/helm/helm.sh # rebuild even if cached
#
# Progress goes to stderr; the only line on stdout is the absolute path of the
# binary. Cold build on 2 cores: ~3-5 min; a cached run takes well under a second.
set -euo pipefail

MOD="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${MOD}/../../.." && pwd)"

log() { printf '%s\n' "helm: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not on PATH"

# The version go.mod pins for a module, read from the file itself so the cached
# path costs no module-graph load.
pinned() { # <go.mod> <module path>
  awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { for (i = 1; i <= NF; i++) if ($i ~ /^v[0-9]/) { print $i; exit } }' "$1"
}
HELM_VERSION="$(pinned "${MOD}/go.mod" helm.sh/helm/v3)"
KUBE_VERSION="$(pinned "${MOD}/go.mod" k8s.io/client-go)"
[[ -n "${HELM_VERSION}" ]] || die "helm.sh/helm/v3 not found in ${MOD}/go.mod"
[[ -n "${KUBE_VERSION}" ]] || die "k8s.io/client-go not found in ${MOD}/go.mod"

export GOWORK=off CGO_ENABLED=0
GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"
BIN="${ROOT}/bin/helm-${HELM_VERSION}"
STAMPFILE="${ROOT}/bin/.helm-${HELM_VERSION}.stamp"
mkdir -p "${ROOT}/bin"

# Bump when the way the binary is built changes (flags, ldflags).
BUILD_REV=1
modhash() { cat "${MOD}/go.mod" "${MOD}/go.sum" | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16; }
STAMP="helm ${HELM_VERSION} ${GOOS}/${GOARCH} cgo=${CGO_ENABLED} mod=$(modhash) rev=${BUILD_REV}"

if [[ -z "${HELM_FORCE:-}" && -x "${BIN}" && -f "${STAMPFILE}" && "$(cat "${STAMPFILE}")" == "${STAMP}" ]]; then
  log "using cached helm ${HELM_VERSION} (${BIN})"
  printf '%s\n' "${BIN}"
  exit 0
fi

# The ldflags of helm's own Makefile: the release version (so `helm version`
# reports it) and the Kubernetes version its client libraries speak (client-go
# v0.X.Y is Kubernetes 1.X), which `helm lint` and `helm template` use as
# .Capabilities.KubeVersion instead of the compiled-in default of 1.20.
kminor="${KUBE_VERSION#v0.}"; kminor="${kminor%%.*}"
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.metadata="
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  ldflags+=" -X ${pkg}.k8sVersionMajor=1 -X ${pkg}.k8sVersionMinor=${kminor}"
done

log "building helm ${HELM_VERSION} from the Go module proxy (takes a few minutes)…"
start=${SECONDS}
tmp="${BIN}.tmp.$$"
rm -f "${STAMPFILE}"
if ! (cd "${MOD}" && go build -mod=readonly -trimpath -ldflags "${ldflags}" -o "${tmp}" helm.sh/helm/v3/cmd/helm); then
  rm -f "${tmp}"
  die "building helm failed"
fi
mv -f "${tmp}" "${BIN}"
printf '%s\n' "${STAMP}" > "${STAMPFILE}"
log "built helm in $((SECONDS - start))s"
printf '%s\n' "${BIN}"
