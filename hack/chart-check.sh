#!/usr/bin/env bash
# Lints and renders the Helm chart with helm built from the Go module proxy
# (hack/tools/helm/helm.sh, cached under bin/).
#
#   hack/chart-check.sh [OUTDIR]
#
# Renders, with CRDs, into OUTDIR (default: a new temp dir; or $CHART_RENDER_DIR):
#   default.yaml  default values plus clusterName
#   full.yaml     charts/scopedns/ci/full-values.yaml: cert-manager, ServiceMonitor, PrometheusRule,
#                 NetworkPolicy, 3 replicas, LoadBalancer gateway
#   renamed.yaml  default values as release "dns", whose full name is not the
#                 chart's: names derived from it (RBAC resourceNames, manager
#                 flags) must follow
# and checks that rendering refuses values it must refuse. The last line on
# stdout is OUTDIR. test/chart runs this script and applies every rendered
# object to a real API server with a server-side dry run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHART="${ROOT}/charts/scopedns"
RELEASE=scopedns
NAMESPACE=scopedns-system

log() { printf '%s\n' "chart-check: $*" >&2; }
die() { log "error: $*"; exit 1; }

HELM="${HELM:-$("${ROOT}/hack/tools/helm/helm.sh")}"
OUT="${1:-${CHART_RENDER_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/scopedns-chart.XXXXXX")}}"
mkdir -p "${OUT}"

log "helm lint (default values)"
"${HELM}" lint --strict "${CHART}" --set clusterName=lint >&2
log "helm lint (ci/full-values.yaml)"
"${HELM}" lint --strict "${CHART}" -f "${CHART}/ci/full-values.yaml" >&2

template_as() { # <release> <out file> <helm args…>
  local release="$1" out="$2"; shift 2
  "${HELM}" template "${release}" "${CHART}" --namespace "${NAMESPACE}" --include-crds "$@" > "${OUT}/${out}"
  log "rendered ${OUT}/${out} ($(grep -c '^kind:' "${OUT}/${out}") objects)"
}
template() { template_as "${RELEASE}" "$@"; } # <out file> <helm args…>
template default.yaml --set clusterName=ci-default
template full.yaml -f "${CHART}/ci/full-values.yaml"
template_as dns renamed.yaml --set clusterName=ci-renamed

# Values the chart must refuse, with the message it must give.
refuse() { # <expected message> <helm args…>
  local want="$1" got; shift
  if got="$("${HELM}" template "${RELEASE}" "${CHART}" --namespace "${NAMESPACE}" "$@" 2>&1 >/dev/null)"; then
    die "helm template $* rendered, want the error: ${want}"
  fi
  [[ "${got}" == *"${want}"* ]] || die "helm template $*: got error ${got}, want one containing: ${want}"
  log "refused as expected: ${*:-(no values)}"
}
refuse "clusterName is required" 
refuse "at most 32 fit" --set clusterName=a-cluster-name-of-thirty-three-ch
refuse "the webhook needs serving certificates" --set clusterName=x --set webhook.selfSigned=false
refuse "serviceAccount.name is required" --set clusterName=x --set serviceAccount.create=false
refuse "prometheusRule.tokenQuotaThreshold: 80, must be above 0 and at most 1" --set clusterName=x --set prometheusRule.enabled=true --set prometheusRule.tokenQuotaThreshold=80

printf '%s\n' "${OUT}"
