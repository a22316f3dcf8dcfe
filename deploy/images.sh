#!/usr/bin/env bash
# Build the service images for docker compose (make images), keeping the build cache and leaving
# no dangling images: each service's `deps` stage is tagged driftloop-deps-<service> (the
# classic builder would leave it as an untagged <none> image, and pruning that would drop the
# cache), then the runtime image; the images a rebuild replaced are pruned by their labels.
#   BASE_IMAGE=driftloop-base:bookworm deploy/images.sh [service...]
# Settings: BASE_IMAGE (python:3.12-slim), DRIFTLOOP_TAG (latest), BUILD_NETWORK (default:
# the builder's; `host` lets the fallback without a wheelhouse reach the package index here).
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_IMAGE=${BASE_IMAGE:-python:3.12-slim}
TAG=${DRIFTLOOP_TAG:-latest}
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(ingest trainer registry predictor drift-monitor console)
network=()
[ -z "${BUILD_NETWORK:-}" ] || network=(--network "$BUILD_NETWORK")
for service in "${services[@]}"; do
  started=$(date +%s)
  args=(-f deploy/Dockerfile "${network[@]}" --build-arg "SERVICE=$service"
        --build-arg "BASE_IMAGE=$BASE_IMAGE" -q)
  # (the classic builder's deprecation notice, once per build, is left out)
  docker build "${args[@]}" --target deps -t "driftloop-deps-$service:$TAG" . 2>&1 >/dev/null \
    | { grep -v -e DEPRECATED -e buildx -e '^ *$' >&2 || true; }
  docker build "${args[@]}" -t "driftloop-$service:$TAG" . 2>&1 >/dev/null \
    | { grep -v -e DEPRECATED -e buildx -e '^ *$' >&2 || true; }
  size=$(docker image inspect -f '{{.Size}}' "driftloop-$service:$TAG")
  echo "driftloop-$service:$TAG $((size / 1000000)) MB in $(( $(date +%s) - started )) s"
done
docker image prune -f --filter label=org.driftloop.service >/dev/null
docker image prune -f --filter label=org.driftloop.stage=deps >/dev/null
