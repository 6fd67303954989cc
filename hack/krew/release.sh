#!/usr/bin/env bash
# Builds the kubectl plugin's release archives and its krew manifest:
#
#   hack/krew/release.sh v0.1.0
#
# writes bin/release/kubectl-scopedns_<os>_<arch>.tar.gz (the binary and
# LICENSE/README) for every platform of hack/krew/scopedns.yaml, and
# bin/release/scopedns.yaml: the template with the version and each
# archive's sha256 filled in. PLATFORMS="linux/amd64" builds only those (the
# manifest then keeps the others' placeholders, and the script says so and
# fails: a manifest for krew lists every platform it ships).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

version="${1:?usage: $0 VERSION (e.g. v0.1.0)}"
[[ "${version}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] || { echo "VERSION ${version}: must look like v1.2.3" >&2; exit 2; }
out=bin/release
mkdir -p "${out}"
manifest="$(sed "s/{{VERSION}}/${version}/g" hack/krew/scopedns.yaml)"

for platform in ${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64}; do
  os="${platform%/*}" arch="${platform#*/}"
  bin=kubectl-scopedns
  [[ "${os}" == windows ]] && bin=kubectl-scopedns.exe
  stage="$(mktemp -d)"
  CGO_ENABLED=0 GOOS="${os}" GOARCH="${arch}" go build -trimpath -ldflags="-s -w" -o "${stage}/${bin}" ./cmd/kubectl-scopedns
  cp README.md "${stage}/"
  [[ -f LICENSE ]] && cp LICENSE "${stage}/"
  archive="${out}/kubectl-scopedns_${os}_${arch}.tar.gz"
  # Reproducible archives: the same source gives the same sha256.
  tar -C "${stage}" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | gzip -n > "${archive}"
  rm -rf "${stage}"
  sum="$(sha256sum "${archive}" | cut -d' ' -f1)"
  manifest="${manifest//\{\{SHA256_${os}_${arch}\}\}/${sum}}"
  echo "${archive} ${sum}" >&2
done

if grep -q '{{' <<<"${manifest}"; then
  echo "hack/krew/scopedns.yaml has a placeholder this script does not fill:" >&2
  grep '{{' <<<"${manifest}" >&2
  exit 1
fi
printf '%s\n' "${manifest}" > "${out}/scopedns.yaml"
echo "${out}/scopedns.yaml" >&2
