"""Analysts, notified cases in the past, and a logged-in HTTP client for page tests."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from service.db import cases, oversight_repo
from service.domain.passwords import hash_password
from service.domain.states import CaseState
from tests.integration.oversight.world import ROUTE, add_case

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def analyst(conn: asyncpg.Connection, name: str, role: str = "analyst") -> None:
    await oversight_repo.create_analyst(conn, name, hash_password(PASSWORD), role)


async def notified_case(
    conn: asyncpg.Connection,
    scanner_id: int,
    url: str,
    *,
    hours_ago: float,
    route: dict[str, Any] | None = None,
    sha256: str | None = None,
) -> int:
    """A case whose first notice was accepted `hours_ago`."""
    case_id = await add_case(conn, scanner_id, url, route=route or ROUTE, sha256=sha256)
    at = datetime.now(UTC) - timedelta(hours=hours_ago)
    await cases.transition(
        conn, case_id, CaseState.NOTIFIED, actor="test", stamp="first_notice_at", at=at
    )
    return case_id


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def log_in(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    form = await client.get("/oversight/login")
    token = csrf_of(await form.text())
    return await client.post(
        "/oversight/login",
        data={"username": name, "password": password, "csrf": token, "next": "/oversight/"},
        allow_redirects=False,
    )


async def enrol_totp(client: TestClient) -> str:
    """Enrol the logged-in analyst's second factor with a real TOTP code; the secret."""
    import pyotp

    csrf = csrf_of(await (await client.get("/oversight/holds")).text())
    started = await client.post("/oversight/account/totp", data={"csrf": csrf, "action": "start"})
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', await started.text())
    assert secret, "no TOTP secret on the enrolment page"
    code = pyotp.TOTP(secret.group(1)).now()
    done = await client.post(
        "/oversight/account/totp", data={"csrf": csrf, "action": "confirm", "code": code}
    )
    assert done.status == 200
    return secret.group(1)
