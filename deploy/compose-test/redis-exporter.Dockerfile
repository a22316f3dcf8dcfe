# The Redis exporter from Debian's package (prometheus-redis-exporter, oliver006's), for
# machines that cannot pull oliver006/redis_exporter.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus-redis-exporter \
    && rm -rf /var/lib/apt/lists/*
USER nobody
EXPOSE 9121
ENTRYPOINT ["/usr/bin/prometheus-redis-exporter"]
