# Alertmanager from Debian's package, for machines that cannot pull prom/alertmanager.
ARG BASE_IMAGE=debian:bookworm-slim
FROM ${BASE_IMAGE}
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus-alertmanager \
    && rm -rf /var/lib/apt/lists/* && mkdir -p /alertmanager && chown prometheus /alertmanager
USER prometheus
EXPOSE 9093
ENTRYPOINT ["/usr/bin/prometheus-alertmanager"]
