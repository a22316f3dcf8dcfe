#!/usr/bin/env bash
# Fill deploy/wheelhouse/ with the third-party wheels the service images need, so that the images
# build without reaching a package index from inside a build: one requirements file per service
# (requirements-<service>.txt, exported from uv.lock without the workspace's own packages, which
# the images copy as source) and the locked wheels, downloaded by pip running in the base image
# itself (so that markers such as python_full_version are judged by the image's Python).
#
# The wheelhouse is keyed by the lock: deploy/wheelhouse/KEY holds the SHA-256 of uv.lock and the
# base image's name; when both match, nothing is downloaded again (FORCE=1 does it anyway).
#   BASE_IMAGE=driftloop-base:bookworm deploy/wheelhouse.sh
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.tools/bin/uv}
BASE_IMAGE=${BASE_IMAGE:-driftloop-base:bookworm}
CA=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
SERVICES=(ingest trainer registry predictor drift-monitor console)
out=deploy/wheelhouse
key="$(sha256sum uv.lock | cut -d' ' -f1) $BASE_IMAGE"
if [ -z "${FORCE:-}" ] && [ "$(cat "$out/KEY" 2>/dev/null)" = "$key" ] \
   && ls "$out"/*.whl >/dev/null 2>&1; then
  echo "wheelhouse reused: $(ls "$out"/*.whl | wc -l) wheels for this uv.lock and $BASE_IMAGE"
  exit 0
fi
mkdir -p "$out"
rm -f "$out"/*.whl "$out"/*.txt "$out/KEY"
for service in "${SERVICES[@]}"; do
  "$UV" export --frozen --no-dev --package "driftloop-$service" --no-emit-workspace --no-hashes \
      --format requirements-txt -o "$out/requirements-$service.txt" -q
done
cat "$out"/requirements-*.txt | grep -v '^ *#' | sort -u > "$out/requirements.txt"
docker run --rm --network host -v "$PWD/$out:/wheelhouse" -v "$CA:/ca.crt:ro" \
    -e PIP_CERT=/ca.crt -e PIP_DISABLE_PIP_VERSION_CHECK=1 "$BASE_IMAGE" sh -c \
    'python3 -m venv /tmp/pip && /tmp/pip/bin/pip download -q --only-binary=:all: \
       -r /wheelhouse/requirements.txt -d /wheelhouse && chmod a+r /wheelhouse/*'
echo "$key" > "$out/KEY"
echo "$(ls "$out"/*.whl | wc -l) wheels in $out"
