"""`/metrics`: Prometheus exposition of the process counters and of database gauges.

Access: with `metrics_token` set, a scraper sends `Authorization: Bearer <metrics_token>`;
without it, only loopback clients are answered (a sidecar or node-local Prometheus), so a
deployment that publishes the port does not leak queue sizes by accident.
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from service import observability
from service.domain.states import CaseState
from service.usecases import mail
from service.usecases import queue as jobs
from service.usecases.cases import counts_by_state as case_counts
from service.web.keys import POOL, SETTINGS
from service.web.openapi import Body, Operation, operation
from service.web.problems import HttpProblem, unauthorized

routes = web.RouteTableDef()
MAIL_KINDS = ("bounce", "auto_reply", "reply")

operation(
    Operation(
        "get",
        "/metrics",
        "Prometheus metrics: process counters and database gauges",
        roles=(),
        responses={
            200: Body(
                {"text/plain": {"schema": {"type": "string"}}},
                "Prometheus text exposition format 0.0.4",
            ),
        },
        problems=(401, 403, 503),
        description=(
            "With TAKEDOWN_METRICS_TOKEN set, send it as a bearer token (401 otherwise); "
            "without it only loopback clients are answered (403 otherwise)."
        ),
        security=({"bearer": []}, {}),
    )
)


class _Snapshot(Collector):
    """Gauges computed from one database read at scrape time."""

    def __init__(
        self,
        states: dict[str, int],
        lags: list[tuple[str, float, int]],
        mailbox: mail.MailGauges,
    ) -> None:
        self.states = states
        self.lags = lags
        self.mailbox = mailbox

    def collect(self) -> list[GaugeMetricFamily]:
        cases = GaugeMetricFamily("takedown_cases", "Cases by state.", labels=["state"])
        for state in CaseState:
            cases.add_metric([state.value], self.states.get(state.value, 0))
        lag = GaugeMetricFamily(
            "takedown_due_job_lag_seconds", "Age of the oldest due job, by kind.", labels=["kind"]
        )
        due = GaugeMetricFamily("takedown_due_jobs", "Jobs due now, by kind.", labels=["kind"])
        for kind, seconds, count in self.lags:
            lag.add_metric([kind], max(seconds, 0.0))
            due.add_metric([kind], count)
        return [cases, lag, due, *self._mailbox()]

    def _mailbox(self) -> list[GaugeMetricFamily]:
        """What `takedown mail-in`, a process of its own, has recorded."""
        recorded = GaugeMetricFamily(
            "takedown_mail_in_recorded", "Mail taken in, by kind.", labels=["kind"]
        )
        for kind in MAIL_KINDS:
            recorded.add_metric([kind], self.mailbox["by_kind"].get(kind, 0))
        unmatched = GaugeMetricFamily(
            "takedown_mail_unmatched",
            "Replies matching no notice that wait for an analyst.",
            value=self.mailbox["unmatched"],
        )
        set_aside = GaugeMetricFamily(
            "takedown_mail_in_set_aside",
            "Mail given up on after repeated failures to take it in.",
            value=self.mailbox["set_aside"],
        )
        newest = self.mailbox["newest"]
        last = GaugeMetricFamily(
            "takedown_mail_in_newest_timestamp_seconds",
            "When the newest mail was taken in (0: none yet); alert when it grows stale.",
            value=newest.timestamp() if newest else 0.0,
        )
        return [recorded, unmatched, set_aside, last]


def _check_access(request: web.Request) -> None:
    token = request.app[SETTINGS].metrics_token
    if token is not None:
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        given = secret.strip().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given, token.get_secret_value().encode()
        ):
            raise unauthorized()
        return
    # Without a token, only when the operator opened it, and then for loopback peers only.
    # Behind a local proxy every client is loopback: so it is closed unless asked for.
    if not request.app[SETTINGS].metrics_open:
        raise HttpProblem(
            403,
            "Forbidden",
            "Set TAKEDOWN_METRICS_TOKEN (or TAKEDOWN_METRICS_OPEN=true for loopback scrapes).",
            slug="forbidden",
        )
    if not _is_loopback(request.remote):
        raise HttpProblem(
            403,
            "Forbidden",
            "Set TAKEDOWN_METRICS_TOKEN to scrape from elsewhere.",
            slug="forbidden",
        )


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    _check_access(request)
    states = await case_counts(request.app[POOL])
    async with request.app[POOL].acquire() as conn:
        lags = await jobs.due_lag(conn)
        mailbox = await mail.mail_gauges(conn)
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Snapshot(states, lags, mailbox))
    body = generate_latest(observability.REGISTRY) + generate_latest(scrape)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
