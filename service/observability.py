"""Process-wide Prometheus counters that any layer may increment.

This module sits outside the layers (like `service.settings`): it imports nothing from the
service, so `service.resolve`, `service.notify`, `service.probe` and the workers can all use
it without layer violations, and `service.web.metrics` exposes it at `/metrics` together with
gauges read from the database at scrape time (cases by state, due-check lag).

Usage from a stage::

    from service import observability as obs

    obs.NOTICES.labels(outcome="sent").inc()
    with obs.RDAP_LATENCY.labels(registry="ripe").time():
        ...
    obs.RDAP_ERRORS.labels(registry="ripe", kind="429").inc()
    obs.PROBE_VERDICTS.labels(verdict="gone").inc()

Label values must come from small fixed sets (registry names, outcomes, verdicts): never a
URL, host or address, which would both leak case data and explode the series count.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# One registry of our own, so that tests and several apps in one process do not collide
# with the library's global default registry.
REGISTRY = CollectorRegistry(auto_describe=True)

_LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

NOTICES = Counter(
    "takedown_notices_total",
    "Notices handed to SMTP, by outcome (sent, failed, bounced).",
    ["outcome"],
    registry=REGISTRY,
)
RDAP_LATENCY = Histogram(
    "takedown_rdap_request_seconds",
    "Duration of RDAP requests, by registry.",
    ["registry"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
RDAP_ERRORS = Counter(
    "takedown_rdap_errors_total",
    "Failed RDAP requests, by registry and kind (timeout, 429, 5xx, invalid).",
    ["registry", "kind"],
    registry=REGISTRY,
)
DNS_LATENCY = Histogram(
    "takedown_dns_query_seconds",
    "Duration of DNS queries, by purpose (address, abusix, cymru).",
    ["purpose"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
DNS_ERRORS = Counter(
    "takedown_dns_errors_total",
    "Failed DNS queries, by purpose and kind (timeout, servfail).",
    ["purpose", "kind"],
    registry=REGISTRY,
)
PROBE_VERDICTS = Counter(
    "takedown_probe_verdicts_total",
    "Re-check conclusions (present, gone, inconclusive).",
    ["verdict"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "takedown_http_rate_limited_total",
    "Requests refused with 429, by bucket (token, address, login).",
    ["bucket"],
    registry=REGISTRY,
)

WEBHOOK_DELIVERIES = Counter(
    "takedown_webhook_deliveries_total",
    "Webhook delivery attempts to scanners' receivers, by result (delivered, failed, parked).",
    ["result"],
    registry=REGISTRY,
)
