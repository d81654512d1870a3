"""Attacks the review found already failing safely, kept in the suite so that they stay so:
tokens hashed at rest, SQL injection through filters, reflected script, open redirect after
login, forms without their CSRF token. Each against a running service (real server, real
PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.db.tokens import hash_secret
from service.web.app import create_app
from tests.conftest import make_settings
from tests.integration.api_client import Api, running_api
from tests.integration.oversight.pages import analyst, csrf_of
from tests.security.test_analysts import login


@pytest.fixture
async def api(db_url: str, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    settings = make_settings(db_url, login_rate_per_minute=1000)
    async with running_api(settings, pool) as running:
        yield running


@pytest.fixture
async def pages(db_url: str, pool: asyncpg.Pool) -> AsyncIterator[TestClient]:
    async with pool.acquire() as conn:
        await analyst(conn, "alice")
    settings = make_settings(db_url, login_rate_per_minute=1000)
    async with TestClient(TestServer(create_app(settings, pool))) as client:
        yield client


async def test_tokens_are_stored_only_as_digests(api: Api, pool: asyncpg.Pool) -> None:
    secret = api.tokens["scanner"]
    async with pool.acquire() as conn:
        rows = [tuple(map(str, r.values())) for r in await conn.fetch("SELECT * FROM tokens")]
        stored = await conn.fetchval(
            "SELECT count(*) FROM tokens WHERE secret_sha256 = $1", hash_secret(secret)
        )
    assert stored == 1 and not any(secret in cell for row in rows for cell in row)


@pytest.mark.parametrize(
    "value", ["' OR 1=1 --", "x'; DROP TABLE cases; --", "%' UNION SELECT 1 --", "\\"]
)
async def test_filters_are_parameters_not_sql(api: Api, pool: asyncpg.Pool, value: str) -> None:
    for name in ("q", "hoster", "country", "asn"):
        resp = await api.client.get(
            "/api/v1/oversight/queues/overdue", params={name: value}, headers=api.auth("hotline")
        )
        assert resp.status in (200, 400, 422), (name, resp.status)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT to_regclass('cases') IS NOT NULL")


async def test_a_reflected_script_is_escaped_and_the_csp_forbids_scripts(
    pages: TestClient,
) -> None:
    resp = await pages.get("/oversight/login", params={"next": '/oversight/"><script>x()</script>'})
    html = await resp.text()
    assert "<script>x()" not in html
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp


async def test_login_never_redirects_off_site(pages: TestClient) -> None:
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/oversight//x"):
        form = await pages.get("/oversight/login")
        resp = await pages.post(
            "/oversight/login",
            data={
                "username": "alice",
                "password": "correct horse battery",
                "csrf": csrf_of(await form.text()),
                "next": target,
            },
            allow_redirects=False,
        )
        assert resp.status == 303 and resp.headers["Location"] == "/oversight/", target
        pages.session.cookie_jar.clear()


async def test_forms_without_their_csrf_token_are_refused(pages: TestClient) -> None:
    no_token = await pages.post(
        "/oversight/login",
        data={"username": "alice", "password": "correct horse battery"},
        allow_redirects=False,
    )
    assert no_token.status == 403
    assert (await login(pages, "alice")).status == 303
    for path in ("/oversight/logout", "/oversight/account/totp"):
        resp = await pages.post(path, data={"csrf": "forged"}, allow_redirects=False)
        assert resp.status == 403, path
    assert (await pages.get("/oversight/holds", allow_redirects=False)).status == 200
