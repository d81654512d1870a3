"""The served OpenAPI document describes every route a client or an operator scripts against:
the JSON API, the health and metrics probes and the acknowledgment page with its form."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.conftest import make_settings
from tests.integration.api_client import Api, running_api


@pytest.fixture
async def api(db_url: str, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    async with running_api(make_settings(db_url), pool) as api:
        yield api


async def _document(api: Api) -> dict[str, Any]:
    resp = await api.client.get("/api/v1/openapi.json")
    assert resp.status == 200
    document: dict[str, Any] = await resp.json()
    return document


def _media(operation: dict[str, Any], status: int) -> set[str]:
    return set(operation["responses"][str(status)]["content"])


async def test_every_route_outside_the_analyst_pages_is_documented(api: Api) -> None:
    document = await _document(api)
    routes = {
        (route.method.lower(), route.resource.canonical)
        for route in api.client.server.app.router.routes()
        if route.resource is not None
        and route.method not in ("HEAD", "OPTIONS")
        and not route.resource.canonical.startswith("/oversight/")  # HTML for analysts
        and route.resource.canonical != "/api/v1/openapi.json"
    }
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert routes - documented == set()
    assert {("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics")} <= documented
    assert {("get", "/ack/{token}"), ("post", "/ack/{token}")} <= documented


async def test_probes_are_described_with_their_answers(api: Api) -> None:
    paths = (await _document(api))["paths"]
    health, ready, metrics = (
        paths["/healthz"]["get"],
        paths["/readyz"]["get"],
        paths["/metrics"]["get"],
    )
    assert _media(health, 200) == {"application/json"}
    # Readiness says why it is not ready in its own JSON, which load balancers read.
    assert _media(ready, 200) == _media(ready, 503) == {"application/json"}
    assert _media(metrics, 200) == {"text/plain"}
    assert _media(metrics, 401) == _media(metrics, 403) == {"application/problem+json"}
    assert {} in metrics["security"] and {"bearer": []} in metrics["security"]


async def test_ack_page_and_form_are_described(api: Api) -> None:
    document = await _document(api)
    page, form = document["paths"]["/ack/{token}"]["get"], document["paths"]["/ack/{token}"]["post"]
    assert [p["name"] for p in page["parameters"]] == ["token"]
    assert "security" not in page and "security" not in form  # the token in the path is the key
    for status in (200, 404, 410):
        assert _media(page, status) == {"text/html"}
        assert _media(form, status) == {"text/html"}
    assert _media(form, 403) == _media(form, 400) == {"text/html"}
    assert "application/problem+json" in _media(form, 429)
    body = form["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    schema = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert {"csrf_token", "answer", "scope"} <= set(schema["required"])
    assert set(schema["properties"]["answer"]["enum"]) == {
        "received",
        "removed",
        "not_ours",
        "dispute",
    }
