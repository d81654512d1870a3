"""Schemathesis against the served OpenAPI document: generated requests never get a 5xx.

The server runs in a thread with its own event loop (schemathesis drives it synchronously);
each operation is called with a token of a role it accepts, so generation reaches handlers.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import asyncpg
import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings

from service.db.tokens import create_token
from service.web.app import create_app
from service.web.openapi import OPERATIONS, build_document
from tests.conftest import ADMIN_DSN, _dsn_for, make_settings

schema = schemathesis.openapi.from_dict(build_document())


@schemathesis.serializer("message/rfc822")
def _rfc822(ctx: object, value: object) -> bytes:
    # Bounce reports are raw mail: send generated strings as the message bytes.
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


@dataclass
class Served:
    base: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    ready: threading.Event = field(default_factory=threading.Event)
    stop: asyncio.Event | None = None
    loop: asyncio.AbstractEventLoop | None = None


async def _serve(served: Served, template: str) -> None:
    name = f"takedown_st_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    dsn = _dsn_for(name)
    conn = await asyncpg.connect(dsn)
    for role in ("scanner", "hotline", "supervisor", "probe"):
        served.tokens[role] = (await create_token(conn, f"st-{role}", role))[1]
    await conn.close()
    app = create_app(make_settings(dsn, rate_limit_burst=100_000, login_rate_per_minute=100_000))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    served.base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    served.stop = asyncio.Event()
    served.ready.set()
    await served.stop.wait()
    await runner.cleanup()
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="module")
def served(template_db: str) -> Iterator[Served]:
    result = Served()
    loop = asyncio.new_event_loop()
    result.loop = loop
    thread = threading.Thread(target=loop.run_until_complete, args=(_serve(result, template_db),))
    thread.start()
    assert result.ready.wait(30)
    yield result
    assert result.stop is not None
    loop.call_soon_threadsafe(result.stop.set)
    thread.join(30)
    loop.close()


def _role_for(method: str, path: str) -> str | None:
    for op in OPERATIONS:
        if op.method.upper() == method.upper() and op.path == path and op.roles:
            return op.roles[0]
    return None


# Found by this test in code still being written (issue-8 report to the lead); remove when fixed.
KNOWN_SERVER_ERRORS: dict[tuple[str, str], str] = {}


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_never_get_a_server_error(
    case: schemathesis.Case, served: Served
) -> None:
    role = _role_for(case.method, case.path)
    headers = {"Authorization": f"Bearer {served.tokens[role]}"} if role else {}
    response = case.call(base_url=served.base, headers=headers, timeout=30)
    known = KNOWN_SERVER_ERRORS.get((case.method.upper(), case.path))
    if known and response.status_code >= 500:
        pytest.xfail(known)
    assert response.status_code < 500, (case.method, case.path, response.text[:500])


# The probes and the acknowledgment page are answered as documented (status, media type and,
# for JSON, the schema), not only without a 5xx.
PAGES_AND_PROBES = schema.include(path_regex=r"^/(healthz|readyz|metrics|ack/\{token\})$")


@PAGES_AND_PROBES.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_probes_and_ack_page_answer_as_documented(case: schemathesis.Case, served: Served) -> None:
    case.call_and_validate(base_url=served.base, timeout=30)
