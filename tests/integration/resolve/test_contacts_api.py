"""The contact book and partner hotlines managed over the API, and the resolver obeying them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from service.db import resolve_repo
from service.settings import Settings
from tests.integration.api_client import Api, running_api


@pytest.fixture
async def api(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    async with running_api(settings, pool) as api:
        yield api


async def test_a_rule_added_over_the_api_is_stored_listed_and_removable(
    api: Api, pool: asyncpg.Pool
) -> None:
    rule = {
        "domain": "Files.Example.NET",
        "address": "Desk@Example.NET",
        "language": "DE",
        "cc": ["Legal@Example.NET"],
        "note": "asked by the hoster",
    }
    created = await api.client.post("/api/v1/contacts", json=rule, headers=api.auth("hotline"))
    created_body = await created.json(content_type=None)
    assert created.status == 201, created_body
    rule_id = created_body["id"]
    listed = await (await api.client.get("/api/v1/contacts", headers=api.auth("hotline"))).json()
    async with pool.acquire() as conn:
        [stored] = await resolve_repo.all_rules(conn)
    removed = await api.client.delete(f"/api/v1/contacts/{rule_id}", headers=api.auth("hotline"))
    again = await api.client.delete(f"/api/v1/contacts/{rule_id}", headers=api.auth("hotline"))
    assert created.status == 201
    assert [r["id"] for r in listed["rules"]] == [rule_id]
    assert (stored["domain"], stored["address"], stored["language"], stored["cc"]) == (
        "files.example.net",
        "desk@example.net",
        "de",
        ["legal@example.net"],
    )
    assert stored["created_by"] == "hotline:analyst"
    assert (removed.status, again.status) == (204, 404)


@pytest.mark.parametrize(
    ("rule", "reason"),
    [
        ({"address": "a@b.example"}, "exactly one of"),
        ({"cidr": "10.0.0.0/8", "asn": 5, "address": "a@b.example"}, "exactly one of"),
        ({"cidr": "not-a-net", "address": "a@b.example"}, "does not appear to be"),
        ({"domain": "exa mple", "address": "a@b.example"}, "DNS name"),
        ({"asn": 5}, "needs an effect"),
        ({"hoster": "X", "address": "no-at-sign"}, "should match pattern"),
        ({"hoster": "X", "via_hotline": "NLD"}, "should match pattern"),
        ({"hoster": "X", "address": "a@b.example", "extra": 1}, "Extra inputs"),
    ],
)
async def test_invalid_rules_are_422_with_the_reason(
    api: Api, rule: dict[str, Any], reason: str
) -> None:
    response = await api.client.post("/api/v1/contacts", json=rule, headers=api.auth("hotline"))
    body = await response.json(content_type=None)
    assert response.status == 422
    assert any(reason in e["reason"] for e in body["errors"]), body


async def test_hotlines_set_list_and_remove(api: Api) -> None:
    put = await api.client.put(
        "/api/v1/hotlines/nl",
        json={
            "name": "Offlimits",
            "address": "meldpunt@offlimits.example",
            "language": "nl",
            "policy": "both",
        },
        headers=api.auth("hotline"),
    )
    unreachable = await api.client.put(
        "/api/v1/hotlines/de", json={"name": "X", "policy": "hotline"}, headers=api.auth("hotline")
    )
    listed = await (await api.client.get("/api/v1/hotlines", headers=api.auth("hotline"))).json()
    removed = await api.client.delete("/api/v1/hotlines/NL", headers=api.auth("hotline"))
    assert (put.status, unreachable.status, removed.status) == (204, 422, 204)
    assert [(h["country"], h["policy"]) for h in listed["hotlines"]] == [("NL", "both")]


@pytest.mark.parametrize("role", ["scanner", "probe"])
async def test_only_hotline_tokens_manage_the_contact_book(api: Api, role: str) -> None:
    forbidden = await api.client.get("/api/v1/contacts", headers=api.auth(role))
    anonymous = await api.client.post("/api/v1/contacts", json={})
    assert (forbidden.status, anonymous.status) == (403, 401)
