#!/usr/bin/env bash
# Tools the deployment checks in `make test` need, from Debian's packages:
#   promtool       extracted from the prometheus package into .tools/ (no daemon installed)
#   docker-compose and kubectl (for kustomize), installed with apt when missing (needs root)
#   chromium       Debian's browser, for the console's browser tests (Playwright drives it)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools/bin
apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "missing $*: install them (apt-get install $*) or run make test as root" >&2; exit 1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}
if [ ! -x .tools/bin/promtool ]; then
  work=$(mktemp -d)
  (cd "$work" && { apt-get download prometheus >/dev/null 2>&1 \
                   || { apt-get update -qq >/dev/null && apt-get download prometheus >/dev/null; }; } \
   && dpkg-deb -x prometheus_*.deb root)
  cp "$work/root/usr/bin/promtool" .tools/bin/promtool
  rm -rf "$work"
fi
missing=()
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v kubectl >/dev/null || missing+=(kubectl)
command -v chromium >/dev/null || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi
.tools/bin/promtool --version 2>&1 | head -1
