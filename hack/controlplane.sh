#!/usr/bin/env bash
# Builds the local control plane that envtest needs (kube-apiserver, etcd,
# kubectl) from source via the Go module proxy, and caches it under
# bin/k8s/<version>-<os>-<arch>/. No prebuilt binaries are downloaded.
#
# Pinned versions live in hack/tools/controlplane/{kube,etcd}/go.mod (+ go.sum);
# builds use -mod=readonly, so those files are the single source of truth.
#
# Usage:
#   hack/controlplane.sh                 # build what is missing, print the dir
#   export KUBEBUILDER_ASSETS="$(hack/controlplane.sh)"
#   CONTROLPLANE_FORCE=1 hack/controlplane.sh   # rebuild even if cached
#
# Progress goes to stderr; the last (only) line on stdout is the absolute path
# to use as KUBEBUILDER_ASSETS / envtest.Environment.BinaryAssetsDirectory.
#
# Cold build on 2 cores: ~15-20 min (kube-apiserver is most of it; peak RSS
# ~2.4 GB). A cached run takes well under a second. Binaries are static
# (CGO_ENABLED=0), stripped, -trimpath.
#
# Bumping Kubernetes (e.g. to v1.X.Y):
#   cd hack/tools/controlplane/kube
#   - set `require k8s.io/kubernetes v1.X.Y`;
#   - regenerate the replace block from that version's go.mod: every
#     `k8s.io/foo => ./staging/src/k8s.io/foo` becomes `k8s.io/foo => k8s.io/foo v0.X.Y`
#     (go mod download -json k8s.io/kubernetes@v1.X.Y prints the go.mod path);
#   - GOFLAGS=-mod=mod go mod tidy
# Bumping etcd: use the version in kubernetes' hack/lib/etcd.sh (ETCD_VERSION),
#   set it in hack/tools/controlplane/etcd/go.mod, then go mod tidy there.
# A changed go.mod/go.sum invalidates the cached binaries automatically.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${ROOT}/hack/tools/controlplane"
KUBE_MOD="${TOOLS}/kube"
ETCD_MOD="${TOOLS}/etcd"

log() { printf '%s\n' "controlplane: $*" >&2; }
die() { log "error: $*"; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not on PATH"

# The version a go.mod pins for a module, read from the file itself so the
# cached path costs no module-graph load.
pinned() { # <go.mod> <module path>
  awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { for (i = 1; i <= NF; i++) if ($i ~ /^v[0-9]/) { print $i; exit } }' "$1"
}

KUBE_VERSION="$(pinned "${KUBE_MOD}/go.mod" k8s.io/kubernetes)"
ETCD_VERSION="$(pinned "${ETCD_MOD}/go.mod" go.etcd.io/etcd/server/v3)"
[[ -n "${KUBE_VERSION}" ]] || die "k8s.io/kubernetes not found in ${KUBE_MOD}/go.mod"
[[ -n "${ETCD_VERSION}" ]] || die "go.etcd.io/etcd/server/v3 not found in ${ETCD_MOD}/go.mod"

GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"
OUT="${ROOT}/bin/k8s/${KUBE_VERSION#v}-${GOOS}-${GOARCH}"
mkdir -p "${OUT}"

# Everything that changes the output of a build goes into its stamp; a cached
# binary is reused only when its stamp matches exactly.
modhash() { # <module dir>
  cat "$1/go.mod" "$1/go.sum" | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16
}

# Build inputs shared by all three binaries. GOWORK=off keeps a go.work in
# the repo (if someone adds one) from pulling these modules into it.
export GOWORK=off CGO_ENABLED=0 GOOS GOARCH

# Version ldflags as kubernetes' hack/lib/version.sh sets them, so that
# `kubectl version` and the apiserver's /version report the pinned release.
# gitCommit stays unset: the module proxy does not carry the commit hash.
kube_ldflags() {
  local v="${KUBE_VERSION}" major minor date pkg kv
  major="${v#v}"; major="${major%%.*}"
  minor="${v#v*.}"; minor="${minor%%.*}"
  # The module version's release time rather than "now", for reproducible builds.
  date="$(go list -mod=readonly -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)"
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    for kv in "gitVersion=${v}" "gitMajor=${major}" "gitMinor=${minor}" ${date:+"buildDate=${date}"}; do
      printf -- ' -X %s.%s' "${pkg}" "${kv}"
    done
  done
}

# Bump when the way binaries are built changes (flags, ldflags), to invalidate
# existing caches.
BUILD_REV=1

build() { # <name> <module dir> <package> <version> <kube|plain>
  local name="$1" moddir="$2" pkg="$3" version="$4" kind="$5"
  local bin="${OUT}/${name}" stampfile="${OUT}/.${name}.stamp"
  local stamp
  stamp="${name} ${pkg}@${version} ${GOOS}/${GOARCH} cgo=${CGO_ENABLED} mod=$(modhash "${moddir}") rev=${BUILD_REV}"

  if [[ -z "${CONTROLPLANE_FORCE:-}" && -x "${bin}" && -f "${stampfile}" ]] \
     && [[ "$(cat "${stampfile}")" == "${stamp}" ]]; then
    log "using cached ${name} ${version} (${bin})"
    return 0
  fi

  log "building ${name} ${version} from the Go module proxy (takes a few minutes on $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') cores)…"
  local start=${SECONDS} tmp="${bin}.tmp.$$" ldflags="-s -w"
  rm -f "${stampfile}"
  # -mod=readonly on the command line overrides any -mod in GOFLAGS.
  if ! (
    cd "${moddir}"
    if [[ "${kind}" == kube ]]; then ldflags+="$(kube_ldflags)"; fi
    go build -mod=readonly -trimpath -ldflags "${ldflags}" -o "${tmp}" "${pkg}"
  ); then
    rm -f "${tmp}"
    die "building ${name} failed"
  fi
  mv -f "${tmp}" "${bin}"
  printf '%s\n' "${stamp}" > "${stampfile}"
  log "built ${name} in $((SECONDS - start))s"
}

build kube-apiserver "${KUBE_MOD}" k8s.io/kubernetes/cmd/kube-apiserver "${KUBE_VERSION}" kube
build kubectl        "${KUBE_MOD}" k8s.io/kubernetes/cmd/kubectl        "${KUBE_VERSION}" kube
build etcd           "${ETCD_MOD}" go.etcd.io/etcd/server/v3            "${ETCD_VERSION}" plain

log "KUBEBUILDER_ASSETS=${OUT}"
printf '%s\n' "${OUT}"
