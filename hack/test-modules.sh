#!/usr/bin/env bash
# Runs the tests of the nested Go modules under test/ (they hold test-only
# dependencies, such as cert-manager's solvers, that must stay out of the
# manager binary's module). Arguments are passed to `go test`.
#
# A module whose go.mod has a toolchain line runs with that toolchain, for
# that module's command only: test/externaldns names go1.27.3 because
# external-dns v0.23 needs Go 1.27 while the main module stays on 1.26. The
# go command fetches the toolchain from the module proxy once (~76 MB) and
# keeps it in the module cache.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r mod; do
  dir=$(dirname "$mod")
  toolchain=$(awk '$1 == "toolchain" { print $2 }' "$mod")
  echo ">> go test $* ./... in $dir${toolchain:+ (GOTOOLCHAIN=$toolchain)}" >&2
  (cd "$dir" && env ${toolchain:+GOTOOLCHAIN="$toolchain"} go test "$@" ./...) || status=1
done < <(find test -mindepth 2 -name go.mod | sort)
exit $status
