"""Prometheus metrics every service exports; service-specific ones live with the service."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "driftloop_events_consumed_total",
    "Stream entries a consumer group finished with, by outcome "
    "(handled, duplicate, malformed, failed, dead_lettered).",
    ["stream", "group", "outcome"],
)
EVENTS_PUBLISHED = Counter(
    "driftloop_events_published_total", "Events published, by stream.", ["stream"]
)
HANDLER_SECONDS = Histogram(
    "driftloop_handler_seconds",
    "Time spent in an event handler per delivery (a batch counts once).",
    ["stream", "group"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
BATCH_SIZE = Histogram(
    "driftloop_consumer_batch_size",
    "Entries per delivery handed to a handler.",
    ["stream", "group"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
SUBSCRIBERS_RUNNING = Gauge(
    "driftloop_subscribers_running",
    "Subscribers of this process that are running (health needs all of them).",
)
WRITES_NOT_REPLICATED = Counter(
    "driftloop_writes_not_replicated_total",
    "Writes acknowledged by the Redis primary that REDIS_WAIT_REPLICAS replicas did not hold "
    "in time (answered 503).",
)
