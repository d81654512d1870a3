"""Adding, listing and removing webhooks: `takedown webhook …` and /api/v1/webhooks (hotline);
parked deliveries shown to analysts over /api/v1/oversight/webhooks/parked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from service.settings import Settings
from tests.integration.api_client import Api, running_api
from tests.integration.cli_runner import takedown


@pytest.fixture
async def api(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    async with running_api(settings, pool) as api:
        yield api


async def test_the_cli_adds_lists_and_removes_a_webhook(db_url: str, api: Api) -> None:
    added = await takedown(
        "webhook",
        "add",
        "--scanner",
        "scanner-a",
        "--url",
        "https://hooks.example.org/t",
        db_url=db_url,
    )
    assert added.code == 0, added.err
    secret = added.out.strip()
    assert secret.startswith("whsec_") and "not shown again" in added.err
    listed = await takedown("webhook", "list", db_url=db_url)
    assert "scanner-a" in listed.out and "https://hooks.example.org/t" in listed.out
    assert secret not in listed.out  # shown once only
    webhook_id = listed.out.split()[0]
    removed = await takedown("webhook", "remove", webhook_id, db_url=db_url)
    assert removed.code == 0
    assert "hooks.example.org" not in (await takedown("webhook", "list", db_url=db_url)).out
    again = await takedown("webhook", "remove", webhook_id, db_url=db_url)
    assert again.code == 1 and "no live webhook" in again.err and "Traceback" not in again.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scanner", "nobody", "--url", "https://h.example/x"), "no live scanner token"),
        (("--scanner", "scanner-a", "--url", "ftp://h.example/x"), "http:// or https://"),
        (("--scanner", "scanner-a", "--url", "https://u:p@h.example/"), "credentials"),
    ],
)
async def test_the_cli_refuses_bad_webhooks_readably(
    db_url: str, api: Api, args: tuple[str, ...], message: str
) -> None:
    result = await takedown("webhook", "add", *args, db_url=db_url)
    assert result.code == 1 and message in result.err and "Traceback" not in result.err


async def test_hotline_tokens_manage_webhooks_over_the_api(api: Api) -> None:
    hotline = api.auth("hotline")
    resp = await api.client.post(
        "/api/v1/webhooks",
        json={"scanner": "scanner-a", "url": "https://hooks.example.org/t"},
        headers=hotline,
    )
    assert resp.status == 201
    created = await resp.json()
    assert created["secret"].startswith("whsec_") and created["scanner"] == "scanner-a"
    listing = await (await api.client.get("/api/v1/webhooks", headers=hotline)).json()
    [row] = listing["webhooks"]
    assert row["id"] == created["id"] and "secret" not in row and row["parked"] == 0
    resp = await api.client.delete(f"/api/v1/webhooks/{created['id']}", headers=hotline)
    assert resp.status == 204
    resp = await api.client.delete(f"/api/v1/webhooks/{created['id']}", headers=hotline)
    assert resp.status == 404
    assert (await (await api.client.get("/api/v1/webhooks", headers=hotline)).json()) == {
        "webhooks": []
    }


async def test_the_api_refuses_bad_webhooks_and_other_roles(api: Api) -> None:
    resp = await api.client.post(
        "/api/v1/webhooks",
        json={"scanner": "scanner-a", "url": "gopher://x"},
        headers=api.auth("hotline"),
    )
    assert resp.status == 422 and resp.content_type == "application/problem+json"
    resp = await api.client.post(
        "/api/v1/webhooks",
        json={"scanner": "probe-1", "url": "https://h.example/"},
        headers=api.auth("hotline"),
    )
    assert resp.status == 422 and "no live scanner token" in (await resp.json())["detail"]
    for role in ("scanner", "probe"):
        resp = await api.client.get("/api/v1/webhooks", headers=api.auth(role))
        assert resp.status == 403
    resp = await api.client.get("/api/v1/oversight/webhooks/parked", headers=api.auth("scanner"))
    assert resp.status == 403
