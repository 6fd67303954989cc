#!/usr/bin/env bash
# Installs the Debian packages the tests drive as real clients and peers:
# nsupdate (bind9-dnsutils) and named (bind9). Everything else the tests need
# is built from the Go module proxy by the Makefile and hack/controlplane.sh.
set -euo pipefail
need=()
command -v nsupdate >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v named >/dev/null 2>&1 || [ -x /usr/sbin/named ] || need+=(bind9)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages present: nsupdate, named" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing ${need[*]}: run 'sudo apt-get install -y ${need[*]}' (or run this script as root)" >&2
  exit 1
fi
echo "installing ${need[*]} from apt" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
