#!/usr/bin/env bash
# Runs the tests of the nested Go modules under test/ (they hold test-only
# dependencies, such as cert-manager's solvers, that must stay out of the
# manager binary's module). Arguments are passed to `go test`.
#
# A module whose go.mod has a toolchain line runs with that toolchain, for
# that module's command only: test/externaldns names go1.27.3 because
# external-dns v0.23 needs Go 1.27 while the main module stays on 1.26. The
# go command fetches the toolchain from the module proxy once (~76 MB) and
# keeps it in the module cache. Such a module runs without -race: its build
# shares no cache with the main toolchain's, and under the race detector the
# first build of external-dns's ~1,000 packages took half an hour on a
# loaded 2-core machine. The scopedns code it drives (the gateway, the
# front doors, the zone writer) runs under -race in its own packages.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r mod; do
  dir=$(dirname "$mod")
  toolchain=$(awk '$1 == "toolchain" { print $2 }' "$mod")
  args=("$@")
  if [ -n "$toolchain" ]; then
    args=()
    for a in "$@"; do [ "$a" = -race ] || args+=("$a"); done
  fi
  echo ">> go test ${args[*]} ./... in $dir${toolchain:+ (GOTOOLCHAIN=$toolchain, without -race)}" >&2
  (cd "$dir" && env ${toolchain:+GOTOOLCHAIN="$toolchain"} go test "${args[@]}" ./...) || status=1
done < <(find test -mindepth 2 -name go.mod | sort)
exit $status
