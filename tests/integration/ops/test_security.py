"""Every route × every role; secure headers; rate limits; secrets never in logs."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp import web

from service.settings import Settings, SmtpTls
from service.web.openapi import OPERATIONS
from service.web.ratelimit import TokenBuckets
from tests.conftest import make_settings
from tests.integration.api_client import Api, running_api
from tests.integration.cli_runner import takedown

OPEN = {"/healthz", "/readyz", "/api/v1/openapi.json", "/metrics"}  # /metrics: loopback only
ROLES = (None, "bogus", "scanner", "hotline", "probe")


@pytest.fixture
async def api(db_url: str, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    settings = make_settings(db_url, login_rate_per_minute=100_000, rate_limit_burst=100_000)
    async with running_api(settings, pool) as api:
        yield api


def _routes(app: web.Application) -> list[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method not in ("HEAD", "OPTIONS") and path:
            found.add((route.method, path))
    return sorted(found)


def _headers(api: Api, role: str | None) -> dict[str, str]:
    if role is None:
        return {}
    if role == "bogus":
        return {"Authorization": "Bearer tdt_not-a-real-token"}
    return api.auth(role)


async def _status(api: Api, method: str, path: str, role: str | None) -> tuple[int, web.Response]:
    concrete = re.sub(r"\{[^}]+\}", "1", path)
    resp = await api.client.request(
        method, concrete, json={}, headers=_headers(api, role), allow_redirects=False
    )
    await resp.read()
    return resp.status, resp  # type: ignore[return-value]


def _declared_roles(method: str, path: str) -> tuple[str, ...]:
    for op in OPERATIONS:
        if op.method.upper() == method and op.path == path:
            return op.roles
    raise AssertionError(f"{method} {path} has no declared operation (roles unknown)")


async def test_every_route_by_every_role(api: Api) -> None:
    routes = _routes(api.client.server.app)  # type: ignore[union-attr]
    assert ("POST", "/api/v1/reports") in routes
    checked = 0
    for method, path in routes:
        for role in ROLES:
            status, resp = await _status(api, method, path, role)
            checked += 1
            assert status < 500, (method, path, role)
            if status not in (301, 302, 303, 307, 308):  # raised redirects skip the middleware
                assert resp.headers["X-Content-Type-Options"] == "nosniff"
                assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
            if path in OPEN:
                assert status not in (401, 403), (method, path, role)
            elif path.startswith("/ack/"):
                # Token-scoped: the capability is the path token; a bearer token adds nothing.
                assert status == 404, (method, path, role, status)
            elif path.startswith("/api/"):
                allowed = _declared_roles(method, path)
                expected = {None: 401, "bogus": 401}.get(role) or (None if role in allowed else 403)
                if expected is None:
                    assert status not in (401, 403), (method, path, role)
                else:
                    assert status == expected, (method, path, role, status)
            elif not path.rstrip("/").endswith("/login"):
                assert role not in (None, "bogus") or status in (302, 303, 401, 403), (
                    method,
                    path,
                    role,
                    status,
                )
    print(f"auth matrix: {len(routes)} routes × {len(ROLES)} roles = {checked} requests")


async def test_pages_and_problems_carry_secure_headers(api: Api) -> None:
    page = await api.client.get("/ack/tdt_unknown", headers={"Accept": "text/html"})
    problem = await api.client.get("/api/v1/cases/1")
    for resp in (page, problem):
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["X-Frame-Options"] == "DENY"
    assert problem.headers["Cache-Control"] == "no-store"


async def test_a_token_over_its_rate_gets_429_with_retry_after(
    db_url: str, pool: asyncpg.Pool
) -> None:
    settings = make_settings(db_url, rate_limit_per_second=0.5, rate_limit_burst=3)
    async with running_api(settings, pool) as api:
        answers = [
            (await api.client.get("/api/v1/cases/1", headers=api.auth("hotline"))) for _ in range(4)
        ]
        other = await api.client.get("/api/v1/cases/1", headers=api.auth("scanner"))
        limited = answers[-1]
        body = await limited.json()
    assert [r.status for r in answers] == [404, 404, 404, 429]
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.content_type == "application/problem+json" and body["status"] == 429
    assert other.status == 404  # buckets are per token


async def test_failed_authentications_slow_down_the_address(
    db_url: str, pool: asyncpg.Pool
) -> None:
    settings = make_settings(db_url, login_rate_per_minute=3)
    async with running_api(settings, pool) as api:
        bad = {"Authorization": "Bearer tdt_guess"}
        guesses = [(await api.client.get("/api/v1/cases/1", headers=bad)).status for _ in range(4)]
        good = await api.client.get("/api/v1/cases/1", headers=api.auth("hotline"))
    assert guesses == [401, 401, 401, 429]
    assert good.status == 404  # a valid token is never refused for the address's failures


def test_token_bucket_refills_at_its_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert buckets.take("a") == 0.0 and buckets.take("b") == 0.0


async def test_secrets_never_reach_the_logs(
    db_url: str, pool: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(db_url)
    async with running_api(settings, pool) as api:
        for role in ("scanner", "hotline", "probe"):
            await api.client.post("/api/v1/reports", json={"reports": []}, headers=api.auth(role))
            await api.client.get("/api/v1/cases/999", headers=api.auth(role))
        secrets = list(api.tokens.values())
    created = await takedown(
        "-vv", "token", "create", "--role", "hotline", "--name", "log-test", db_url=db_url
    )
    new_secret = created.out.strip().splitlines()[0]
    assert new_secret.startswith("tdt_")
    logged = "\n".join(r.getMessage() for r in caplog.records) + created.err
    assert caplog.records  # something was logged at debug level
    for secret in [*secrets, new_secret]:
        assert secret not in logged


def test_insecure_settings_are_warned_about() -> None:
    from service.cli.ops import insecure_settings

    remote = Settings(smtp_host="mail.hotline.example", listen="0.0.0.0:8080")
    local = Settings(smtp_host="127.0.0.1")
    safe = Settings(
        smtp_host="mail.hotline.example",
        smtp_tls=SmtpTls.STARTTLS,
        smtp_username="takedown",
        public_url="https://tracker.example",
    )
    warnings = " | ".join(insecure_settings(remote))
    assert "without TLS" in warnings and "without authentication" in warnings
    assert "TLS proxy" in warnings
    assert insecure_settings(local) == [] and insecure_settings(safe) == []
