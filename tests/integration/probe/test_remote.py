"""The remote probe service: token required, hashes and verdicts only come back."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from pydantic import SecretStr

from service.domain.verdicts import Verdict
from service.errors import ConfigurationError, TransientLookupError
from service.probe.client import RemoteProbe
from service.probe.server import create_app
from tests.conftest import make_settings
from tests.integration.probe.conftest import Web
from tests.integration.probe.peers import expected_hashes, serve

TOKEN = "remote-probe-token"


@pytest.fixture
async def probe_base() -> AsyncIterator[str]:
    settings = make_settings("postgresql://unused/db", probe_token=SecretStr(TOKEN))
    async for port in serve(create_app(settings)):
        yield f"http://127.0.0.1:{port}"


def client(base: str, token: str = TOKEN) -> RemoteProbe:
    return RemoteProbe(
        make_settings("postgresql://unused/db", probe_url=base, probe_token=SecretStr(token))
    )


async def test_remote_probe_answers_with_verdict_and_hashes(
    probe_base: str, web_origin: Web
) -> None:
    report = await client(probe_base).check(web_origin.url("reencoded"), expected_hashes())
    assert (report.verdict, report.matched, report.status) == (Verdict.PRESENT, "pdq", 200)
    assert set(report.hashes) == {"sha256", "pdq"} and report.hops[0]["status"] == 200
    assert report.timings["total_ms"] > 0


async def test_wrong_token_is_refused(probe_base: str, web_origin: Web) -> None:
    with pytest.raises(TransientLookupError):
        await client(probe_base, "wrong").check(web_origin.url("image"), expected_hashes())
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{probe_base}/probe", json={"url": web_origin.url("image")}) as resp,
    ):
        assert resp.status == 401
    assert web_origin.origin.hits == {}


async def test_bad_request_is_refused(probe_base: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{probe_base}/probe",
            json={"url": "file:///etc/passwd", "expected": {}},
            headers=headers,
        ) as resp,
    ):
        assert resp.status == 400


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"url": "http://x.example/a.jpg", "expected": {"sha256": 12345}}, "hex string"),
        ({"url": "http://x.example/a.jpg", "expected": {"sha1": "ab"}}, "40 hex digits"),
        ({"url": "http://x.example/a.jpg", "expected": {"crc": "ab"}}, "known are sha256"),
        ({"url": "http://x.example/a.jpg", "expected": ["sha256"]}, "expected must be"),
        (["http://x.example/a.jpg"], "must be a JSON object"),
        ({"url": 7, "expected": {"md5": "0" * 32}}, "url must be"),
    ],
)
async def test_a_malformed_request_is_a_400_problem_saying_what_is_wrong(
    probe_base: str, body: object, detail: str
) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{probe_base}/probe", json=body, headers=headers) as resp,
    ):
        problem = await resp.json(content_type=None)
        assert (resp.status, resp.content_type) == (400, "application/problem+json")
    assert problem["status"] == 400 and detail in problem["detail"]


async def test_json_nested_too_deeply_is_a_400_problem(probe_base: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{probe_base}/probe", data=b"[" * 30_000, headers=headers) as resp,
    ):
        assert (resp.status, resp.content_type) == (400, "application/problem+json")


def test_server_needs_a_token() -> None:
    with pytest.raises(ConfigurationError):
        create_app(make_settings("postgresql://unused/db"))


async def test_remote_probe_checks_each_address_it_is_given(
    probe_base: str, web_origin: Web
) -> None:
    report = await client(probe_base).check(
        web_origin.url("image"), expected_hashes(), addresses=["127.0.0.1"]
    )
    assert report.verdict is Verdict.PRESENT
    assert report.reason.endswith("[per address: 127.0.0.1 present]")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"url": web_origin.url("image"), "expected": expected_hashes(), "addresses": ["x"]}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{probe_base}/probe", json=body, headers=headers) as resp,
    ):
        assert resp.status == 400
        assert "IP addresses" in (await resp.json())["detail"]
