"""Item 1: one client's failures never lock anyone else out.

Failed authentications are counted per client — the peer, or the address a trusted proxy
forwarded for — and a valid credential is served even from an address over its failure
limit. Acknowledgment pages are limited per link, not per client address.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from service.web.app import create_app
from tests.conftest import make_settings
from tests.integration.api_client import Api, running_api
from tests.integration.notify.conftest import LINK, Smtp, add_case, deliver, notice_settings
from tests.integration.oversight.pages import analyst, csrf_of
from tests.integration.test_intake_api import report

BAD = {"Authorization": "Bearer tdt_guessed-token"}


def _via(client: str) -> dict[str, str]:
    return {"X-Forwarded-For": f"{client}, 10.9.9.9"}


@pytest.fixture
async def api(db_url: str, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    # The test client connects from 127.0.0.1, as a local TLS proxy would, which got the
    # request from an inner proxy in 10/8: both are trusted, the hop before them is the client.
    trusted = ["127.0.0.0/8", "10.0.0.0/8"]
    settings = make_settings(db_url, login_rate_per_minute=3, trusted_proxies=trusted)
    async with running_api(settings, pool) as running:
        yield running


async def _guess(api: Api, times: int, headers: dict[str, str] | None = None) -> list[int]:
    statuses = []
    for _ in range(times):
        resp = await api.client.get("/api/v1/cases/1", headers=BAD | (headers or {}))
        statuses.append(resp.status)
    return statuses


async def test_a_valid_token_is_served_after_ten_bad_ones_from_its_address(
    db_url: str, pool: asyncpg.Pool
) -> None:
    settings = make_settings(db_url, login_rate_per_minute=3)
    async with running_api(settings, pool) as api:
        guesses = await _guess(api, 10)
        body = {"reports": [report(1)]}
        good = await api.client.post("/api/v1/reports", json=body, headers=api.auth("scanner"))
        again = await _guess(api, 1)
    assert guesses[:3] == [401, 401, 401] and guesses[-1] == 429
    assert good.status in (200, 201, 202), good.status
    assert again == [429]  # the guessing client itself stays slowed down


async def test_behind_a_trusted_proxy_each_client_has_its_own_failures(api: Api) -> None:
    assert (await _guess(api, 4, _via("198.51.100.7")))[-1] == 429
    assert await _guess(api, 1, _via("203.0.113.5")) == [401]  # another client, not locked
    no_token = await api.client.get("/api/v1/cases/1", headers=_via("203.0.113.5"))
    assert no_token.status == 401


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(
    db_url: str, pool: asyncpg.Pool
) -> None:
    settings = make_settings(db_url, login_rate_per_minute=3, trusted_proxies=["192.0.2.0/24"])
    async with running_api(settings, pool) as api:
        statuses = [
            (await api.client.get("/api/v1/cases/1", headers=BAD | _via(f"198.51.100.{n}"))).status
            for n in range(4)
        ]
    assert statuses[-1] == 429  # a new X-Forwarded-For each time does not escape the limit


async def test_rfc7239_forwarded_header_names_the_client(api: Api) -> None:
    first = {"Forwarded": 'for="[2001:db8::7]:4711";proto=https'}
    second = {"Forwarded": "for=192.0.2.60;proto=https"}
    assert (await _guess(api, 4, first))[-1] == 429
    assert await _guess(api, 1, second) == [401]


# --- acknowledgment links --------------------------------------------------------------------


@dataclass
class Links:
    client: TestClient
    paths: list[str]


@pytest.fixture
async def links(pool: asyncpg.Pool, db_url: str, smtp: Smtp) -> AsyncIterator[Links]:
    settings = notice_settings(db_url, smtp.port)
    async with pool.acquire() as conn:
        for n in range(2):
            await add_case(conn, f"https://h{n}.example/", [{"address": f"abuse@h{n}.example"}])
    await deliver(pool, settings)
    texts = [m.message.get_body(("plain",)).get_content() for m in smtp.sink.messages]
    paths = sorted(LINK.search(text).group(1) for text in texts)  # type: ignore[union-attr]
    async with TestClient(TestServer(create_app(settings, pool))) as client:
        yield Links(client, paths)


async def test_the_ack_limit_is_per_link(links: Links) -> None:
    first, second = links.paths
    busy = [(await links.client.get(first)).status for _ in range(35)]
    other = await links.client.get(second)
    assert busy[0] == 200 and busy[-1] == 429
    assert other.status == 200  # another hoster's link, same client address


async def test_guessing_links_does_not_lock_out_a_real_one(links: Links) -> None:
    guesses = [(await links.client.get(f"/ack/tdt_guess{n:040d}")).status for n in range(125)]
    real = await links.client.get(links.paths[0])
    assert guesses[0] == 404 and guesses[-1] == 429
    assert real.status == 200


# --- analyst logins --------------------------------------------------------------------------


async def _login(client: TestClient, name: str, password: str, **headers: str) -> Any:
    form = await client.get("/oversight/login")
    token = csrf_of(await form.text())
    return await client.post(
        "/oversight/login",
        data={"username": name, "password": password, "csrf": token, "next": "/oversight/"},
        headers=headers,
        allow_redirects=False,
    )


async def test_failed_logins_lock_neither_other_accounts_nor_other_clients(
    db_url: str, pool: asyncpg.Pool
) -> None:
    settings = make_settings(db_url, login_rate_per_minute=3, trusted_proxies=["127.0.0.0/8"])
    async with pool.acquire() as conn:
        await analyst(conn, "alice")
        await analyst(conn, "bob")
    attacker = {"X-Forwarded-For": "198.51.100.66"}
    async with TestClient(TestServer(create_app(settings, pool))) as client:
        tries = [
            (await _login(client, "alice", "wrong password", **attacker)).status for _ in range(4)
        ]
        bob_same_client = await _login(client, "bob", "correct horse battery", **attacker)
        client.session.cookie_jar.clear()
        alice_elsewhere = await _login(
            client, "alice", "correct horse battery", **{"X-Forwarded-For": "203.0.113.9"}
        )
    assert tries[:3] == [401, 401, 401] and tries[-1] == 429
    assert bob_same_client.status == 303
    assert alice_elsewhere.status == 303


def test_the_link_pattern_still_matches_notices() -> None:
    assert re.fullmatch(LINK.pattern, "http://127.0.0.1:9/ack/abc_-1")
