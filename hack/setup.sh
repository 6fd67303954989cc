#!/usr/bin/env bash
# Installs the Debian packages the tests drive as real clients and peers:
# nsupdate and dig (bind9-dnsutils), Knot's knsupdate (knot-dnsutils), the
# authoritative servers the RFC 2136 provider is proven against, named (bind9)
# and knotd (knot), and the dyndns2 clients ddclient and inadyn (with the Perl
# TLS module ddclient's cloudflare protocol needs). Everything else the tests
# need is built from the Go module proxy by the Makefile and
# hack/controlplane.sh.
set -euo pipefail
need=()
{ command -v nsupdate && command -v dig; } >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v named >/dev/null 2>&1 || [ -x /usr/sbin/named ] || need+=(bind9)
command -v knotd >/dev/null 2>&1 || [ -x /usr/sbin/knotd ] || need+=(knot)
command -v knsupdate >/dev/null 2>&1 || need+=(knot-dnsutils)
command -v ddclient >/dev/null 2>&1 || [ -x /usr/sbin/ddclient ] || need+=(ddclient)
command -v inadyn >/dev/null 2>&1 || [ -x /usr/sbin/inadyn ] || need+=(inadyn)
# ddclient's cloudflare protocol speaks only https, through IO::Socket::SSL,
# which ddclient's package only recommends.
perl -MIO::Socket::SSL -e1 >/dev/null 2>&1 || need+=(libio-socket-ssl-perl)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages present: nsupdate, knsupdate, named, knotd, ddclient (with IO::Socket::SSL), inadyn" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing ${need[*]}: run 'sudo apt-get install -y ${need[*]}' (or run this script as root)" >&2
  exit 1
fi
echo "installing ${need[*]} from apt" >&2
# noninteractive: ddclient's package asks debconf questions (its own config,
# which the tests never read); the tests run both clients in the foreground
# with their own config and cache, so the services the packages set up stay
# unused.
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
