#!/usr/bin/env bash
# Runs the demo (`make demo`) or stops one left running (`make demo-down`).
#
#   hack/demo.sh            # build the control plane if needed, then run hack/demo
#   DEMO_KEEP=1 hack/demo.sh    # ... and keep it running until Ctrl-C
#   hack/demo.sh down       # stop a running demo (bin/demo/demo.pid)
#
# The demo itself is the Go program in hack/demo; see its package comment.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

STATE=bin/demo
PIDFILE="${STATE}/demo.pid"
BIN="${STATE}/scopedns-demo"

up() {
  local assets
  assets="$(hack/controlplane.sh)"
  mkdir -p "${STATE}"
  echo "demo: building hack/demo and the kubectl plugin" >&2
  go build -o "${BIN}" ./hack/demo
  go build -o "${STATE}/plugin/kubectl-scopedns" ./cmd/kubectl-scopedns
  exec "${BIN}" -assets "${assets}" -plugin-dir "${STATE}/plugin"
}

# The pid is only trusted while it is still our binary (pids get reused).
running() { # <pid>
  ps -p "$1" -o command= 2>/dev/null | grep -q "scopedns-demo"
}

down() {
  local pid
  if [[ ! -f "${PIDFILE}" ]]; then
    echo "demo: no demo is running (no ${PIDFILE})"
    return 0
  fi
  pid="$(cat "${PIDFILE}")"
  if ! running "${pid}"; then
    echo "demo: pid ${pid} from ${PIDFILE} is not a running demo; removing the stale pid file"
    rm -f "${PIDFILE}"
    return 0
  fi
  echo "demo: stopping the demo (pid ${pid})"
  kill -TERM "${pid}"
  for _ in $(seq 1 60); do
    running "${pid}" || { echo "demo: stopped"; return 0; }
    sleep 1
  done
  # It did not clean up in time: kill it and the control plane it started
  # (kube-apiserver and etcd are its children), then drop its files.
  echo "demo: pid ${pid} did not stop within 60s; killing it, kube-apiserver and etcd" >&2
  local children
  children="$(pgrep -P "${pid}" || true)"
  kill -KILL "${pid}" ${children} 2>/dev/null || true
  rm -rf "${PIDFILE}" "${STATE}"/tmp-* "${STATE}/kubeconfig"
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 [up|down]" >&2; exit 2 ;;
esac
