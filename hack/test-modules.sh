#!/usr/bin/env bash
# Runs the tests of the nested Go modules under test/ (they hold test-only
# dependencies, such as cert-manager's solvers, that must stay out of the
# manager binary's module). Arguments are passed to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
while IFS= read -r mod; do
  dir=$(dirname "$mod")
  echo ">> go test $* ./... in $dir" >&2
  (cd "$dir" && go test "$@" ./...) || status=1
done < <(find test -mindepth 2 -name go.mod | sort)
exit $status
