"""The scanner intake API, driven over HTTP against a fresh PostgreSQL database."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from service.settings import Settings
from tests.integration.api_client import Api, running_api


@pytest.fixture
async def api(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    async with running_api(settings, pool) as api:
        yield api


def report(n: int = 0, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "url": f"http://host{n % 7}.example.net/img/{n}.jpg",
        "hashes": {"sha256": hashlib.sha256(f"image-{n}".encode()).hexdigest()},
        "media_type": "image/jpeg",
        "detected_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "source_ref": f"scan-{n}",
    }
    base.update(changes)
    return base


async def post(api: Api, reports: list[dict[str, Any]], role: str = "scanner") -> Any:
    resp = await api.client.post(
        "/api/v1/reports", json={"reports": reports}, headers=api.auth(role)
    )
    return resp.status, await resp.json()


async def test_new_reports_create_cases_and_repeats_are_duplicates(api: Api) -> None:
    status, first = await post(api, [report(1), report(2)])
    again, second = await post(api, [report(2), report(1), report(3)])
    assert status == 202 and again == 202
    assert [r["status"] for r in first["results"]] == ["created", "created"]
    assert [r["status"] for r in second["results"]] == ["duplicate", "duplicate", "created"]
    assert second["results"][0]["case_id"] == first["results"][1]["case_id"]
    assert second["results"][1]["case_id"] == first["results"][0]["case_id"]


async def test_same_url_spelled_differently_with_overlapping_hash_is_a_duplicate(api: Api) -> None:
    original = report(5, url="http://Host.Example.NET:80/a/./b/../img.jpg#x")
    variant = report(
        5,
        url="HTTP://host.example.net/a/img.jpg",
        hashes={"sha256": original["hashes"]["sha256"], "md5": "0" * 32},
    )
    _, first = await post(api, [original])
    _, second = await post(api, [variant])
    assert second["results"][0] == {
        "index": 0,
        "status": "duplicate",
        "case_id": first["results"][0]["case_id"],
    }


async def test_same_url_with_another_image_is_a_new_case(api: Api) -> None:
    _, first = await post(api, [report(8)])
    other = report(8, hashes={"sha256": "f" * 64})
    _, second = await post(api, [other])
    assert second["results"][0]["status"] == "created"
    assert second["results"][0]["case_id"] != first["results"][0]["case_id"]


async def test_duplicates_inside_one_batch_point_to_one_case(api: Api) -> None:
    _, body = await post(api, [report(9), report(9), report(9)])
    assert [r["status"] for r in body["results"]] == ["created", "duplicate", "duplicate"]
    assert len({r["case_id"] for r in body["results"]}) == 1


async def test_concurrent_submitters_of_the_same_reports_get_one_case_each(
    api: Api, pool: asyncpg.Pool
) -> None:
    batch = [report(n) for n in range(200)]
    answers = await asyncio.gather(
        *(post(api, list(reversed(batch)) if i % 2 else batch) for i in range(8))
    )
    assert all(status == 202 for status, _ in answers)
    per_url: dict[str, set[int]] = {}
    for i, (_, body) in enumerate(answers):
        ordered = list(reversed(batch)) if i % 2 else batch
        for rep, result in zip(ordered, body["results"], strict=True):
            per_url.setdefault(rep["url"] + rep["hashes"]["sha256"], set()).add(result["case_id"])
    created = sum(r["status"] == "created" for _, b in answers for r in b["results"])
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM cases")
    assert stored == 200 and created == 200
    assert all(len(ids) == 1 for ids in per_url.values())


async def test_each_new_case_has_a_received_event_and_a_resolve_job(
    api: Api, pool: asyncpg.Pool
) -> None:
    _, body = await post(api, [report(11)])
    case_id = body["results"][0]["case_id"]
    async with pool.acquire() as conn:
        events = await conn.fetch(
            "SELECT kind, to_state, actor FROM case_events WHERE case_id = $1", case_id
        )
        jobs = await conn.fetch("SELECT kind FROM jobs WHERE case_id = $1", case_id)
    assert [(e["kind"], e["to_state"], e["actor"]) for e in events] == [
        ("received", "received", "scanner:scanner-a")
    ]
    assert [j["kind"] for j in jobs] == ["resolve"]


@pytest.mark.parametrize(
    ("change", "field", "reason_part"),
    [
        ({"url": "ftp://x.example/a"}, "url", "only http and https"),
        ({"url": "http://exa mple.com/"}, "url", "whitespace"),
        ({"url": "http://user:pw@example.com/"}, "url", "credentials"),
        ({"hashes": {}}, "hashes", "at least one hash"),
        ({"hashes": {"sha256": "abc"}}, "hashes.sha256", "64 hexadecimal"),
        ({"hashes": {"md5": "z" * 32}}, "hashes.md5", "32 hexadecimal"),
        ({"hashes": {"sha1": "a" * 41}}, "hashes.sha1", "40 hexadecimal"),
        ({"hashes": {"pdq": "a" * 10}}, "hashes.pdq", "64 hexadecimal"),
        ({"hashes": {"crc32": "abcd"}}, "hashes.crc32", "Extra inputs"),
        ({"detected_at": "2026-01-01T00:00:00"}, "detected_at", "timezone"),
        ({"detected_at": "2999-01-01T00:00:00Z"}, "detected_at", "future"),
        ({"media_type": "jpeg"}, "media_type", "type/subtype"),
        ({"source_ref": ""}, "source_ref", "at least 1"),
        ({"source_ref": "scan\x00-7"}, "source_ref", "control characters"),
        ({"classification": "csam\x00"}, "classification", "control characters"),
        ({"classification": "a\nb"}, "classification", "control characters"),
        ({"media_type": "image/jpeg\x00"}, "media_type", "type/subtype"),
        ({"url": "http://host.example.net/a\x00.jpg"}, "url", "control characters"),
        ({"unexpected": 1}, "unexpected", "Extra inputs"),
    ],
)
async def test_an_invalid_report_fails_alone_with_its_index_and_reason(
    api: Api, change: dict[str, Any], field: str, reason_part: str
) -> None:
    status, body = await post(api, [report(20), report(21, **change), report(22)])
    assert status == 202
    assert [r["status"] for r in body["results"]] == ["created", "rejected", "created"]
    problem = body["results"][1]["problem"]
    assert body["results"][1]["index"] == 1
    assert problem["status"] == 422 and problem["type"] == "/problems/invalid-report"
    assert any(e["field"] == field and reason_part in e["reason"] for e in problem["errors"]), (
        problem
    )


async def test_a_batch_with_only_invalid_reports_is_422_problem_json(api: Api) -> None:
    resp = await api.client.post(
        "/api/v1/reports", json={"reports": [report(1, url="nope")]}, headers=api.auth("scanner")
    )
    body = await resp.json(content_type=None)
    assert resp.status == 422
    assert resp.content_type == "application/problem+json"
    assert body["errors"][0]["index"] == 0


@pytest.mark.parametrize(
    ("payload", "status", "slug"),
    [
        (b"{not json", 400, "malformed-json"),
        (b'{"reports":' + b"[" * 100_000 + b"]" * 100_000 + b"}", 400, "malformed-json"),
        (b'{"reports": {}}', 400, "malformed"),
        (b"[]", 400, "malformed"),
        (b'{"reports": []}', 400, "batch-size"),
    ],
)
async def test_malformed_bodies_get_problem_json(
    api: Api, payload: bytes, status: int, slug: str
) -> None:
    resp = await api.client.post(
        "/api/v1/reports",
        data=payload,
        headers={**api.auth("scanner"), "Content-Type": "application/json"},
    )
    body = await resp.json(content_type=None)
    assert (resp.status, body["type"]) == (status, f"/problems/{slug}")


async def test_more_than_1000_reports_are_refused(api: Api) -> None:
    status, body = await post(api, [report(n) for n in range(1001)])
    assert status == 400 and body["limit"] == 1000


async def test_a_body_over_the_size_limit_is_413(db_url: str, pool: asyncpg.Pool) -> None:
    from tests.conftest import make_settings

    async with running_api(make_settings(db_url, max_body_bytes=2048), pool) as small:
        status, body = await post(small, [report(n) for n in range(50)])
    assert status == 413 and body["status"] == 413


async def test_wrong_content_type_is_415(api: Api) -> None:
    resp = await api.client.post(
        "/api/v1/reports", data=b"x", headers={**api.auth("scanner"), "Content-Type": "text/plain"}
    )
    assert resp.status == 415


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer tdt_forged"}, 401),
        ({"Authorization": "Basic abc"}, 401),
    ],
)
async def test_intake_needs_a_valid_token(api: Api, headers: dict[str, str], status: int) -> None:
    resp = await api.client.post("/api/v1/reports", json={"reports": [report(1)]}, headers=headers)
    assert resp.status == status
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await resp.json(content_type=None))["status"] == status


@pytest.mark.parametrize("role", ["hotline", "probe"])
async def test_intake_refuses_other_roles_with_403(api: Api, role: str) -> None:
    status, body = await post(api, [report(1)], role=role)
    assert status == 403 and body["type"] == "/problems/forbidden"


async def test_a_revoked_token_no_longer_works(api: Api, pool: asyncpg.Pool) -> None:
    from service.db.tokens import revoke_token

    async with pool.acquire() as conn:
        await revoke_token(conn, "scanner-a")
    status, _ = await post(api, [report(1)])
    assert status == 401


async def test_case_is_readable_by_hotline_and_its_scanner_only(api: Api) -> None:
    _, body = await post(api, [report(30)])
    case_id = body["results"][0]["case_id"]
    seen = {}
    for role in ("hotline", "scanner", "scanner-b", "probe"):
        resp = await api.client.get(f"/api/v1/cases/{case_id}", headers=api.auth(role))
        seen[role] = resp.status
    resp = await api.client.get(f"/api/v1/cases/{case_id}", headers=api.auth("hotline"))
    case = await resp.json()
    assert seen == {"hotline": 200, "scanner": 200, "scanner-b": 404, "probe": 403}
    assert case["state"] == "received" and case["scanner"] == "scanner-a"
    assert case["url"] == "http://host2.example.net/img/30.jpg"
    assert case["events"][0]["kind"] == "received"


async def test_numeric_host_spellings_are_one_ipv4_case_keeping_what_was_sent(
    api: Api, pool: asyncpg.Pool
) -> None:
    sent = ["http://2130706433/a.jpg", "http://0x7f.1/a.jpg", "http://127.1/a.jpg"]
    _, body = await post(api, [report(40, url=url) for url in sent])
    assert [r["status"] for r in body["results"]] == ["created", "duplicate", "duplicate"]
    async with pool.acquire() as conn:
        case = await conn.fetchrow(
            "SELECT url, host, url_original FROM cases WHERE id = $1", body["results"][0]["case_id"]
        )
    assert dict(case) == {
        "url": "http://127.0.0.1/a.jpg",
        "host": "127.0.0.1",
        "url_original": "http://2130706433/a.jpg",
    }


@pytest.mark.parametrize("path", ["/api/v1/cases/999999", "/api/v1/cases/abc", "/api/v1/cases/-1"])
async def test_unknown_case_is_404_problem(api: Api, path: str) -> None:
    resp = await api.client.get(path, headers=api.auth("hotline"))
    assert resp.status == 404
    assert resp.content_type == "application/problem+json"


async def test_openapi_document_describes_every_api_route(api: Api) -> None:
    resp = await api.client.get("/api/v1/openapi.json")
    doc = await resp.json()
    assert doc["openapi"].startswith("3.1")
    routes = {
        (r.method.lower(), r.resource.canonical)
        for r in api.client.server.app.router.routes()
        if r.resource is not None
        and r.resource.canonical.startswith("/api/v1/")
        and r.method != "HEAD"
        and not r.resource.canonical.endswith("openapi.json")
    }
    documented = {(m, p) for p, ops in doc["paths"].items() for m in ops}
    assert routes <= documented
    assert "ReportIn" in doc["components"]["schemas"]


async def test_health_and_readiness(api: Api) -> None:
    health = await api.client.get("/healthz")
    ready = await api.client.get("/readyz")
    assert health.status == 200 and ready.status == 200
    assert (await ready.json())["status"] == "ready"
