#!/usr/bin/env bash
# Fill deploy/wheelhouse/ with every wheel the service images need, so that the images build
# without reaching a package index from inside a build: the workspace's own packages built by
# uv on the host, the locked third-party wheels downloaded by pip running in the base image
# itself (so that markers such as python_full_version are judged by the image's Python).
#   BASE_IMAGE=driftloop-base:bookworm deploy/wheelhouse.sh
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.tools/bin/uv}
BASE_IMAGE=${BASE_IMAGE:-driftloop-base:bookworm}
CA=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
out=deploy/wheelhouse
rm -f "$out"/*.whl "$out"/*.txt
"$UV" build --all-packages --wheel -o "$out" -q
"$UV" export --frozen --no-dev --all-packages --no-emit-workspace --no-hashes \
    --format requirements-txt -o "$out/requirements.txt" -q
docker run --rm --network host -v "$PWD/$out:/wheelhouse" -v "$CA:/ca.crt:ro" \
    -e PIP_CERT=/ca.crt -e PIP_DISABLE_PIP_VERSION_CHECK=1 "$BASE_IMAGE" sh -c \
    'python3 -m venv /tmp/pip && /tmp/pip/bin/pip download -q --only-binary=:all: \
       -r /wheelhouse/requirements.txt -d /wheelhouse && chmod a+r /wheelhouse/*'
echo "$(ls "$out"/*.whl | wc -l) wheels in $out"
