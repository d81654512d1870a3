"""`takedown probe-server`: the probe alone as an HTTP service.

Authentication: a shared secret, `TAKEDOWN_PROBE_TOKEN`, sent as `Authorization: Bearer …`.
We chose it over the tokens table so the probe needs no database: it can run in another
network or region with nothing but its settings (the LIBRA "remote analysis" principle).

`POST /probe {url, expected: {sha256?, sha1?, md5?, pdq?}, algorithms?: [...]}` →
`{verdict, reason, matched, pdq_distance, hashes, status, hops, timings, profile}`.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from service.domain.verdicts import ALGORITHMS
from service.errors import ConfigurationError
from service.probe.runner import LocalProbe
from service.settings import Settings

PROBE_KEY = web.AppKey("probe", LocalProbe)
TOKEN_KEY = web.AppKey("token", str)
_HEX = {"sha256": 64, "sha1": 40, "md5": 32, "pdq": 64}


def create_app(settings: Settings) -> web.Application:
    """The probe service; refuses to start without a token."""
    if settings.probe_token is None or not settings.probe_token.get_secret_value():
        raise ConfigurationError("the probe server needs TAKEDOWN_PROBE_TOKEN")
    app = web.Application(client_max_size=64 * 1024)
    app[TOKEN_KEY] = settings.probe_token.get_secret_value()
    app.router.add_post("/probe", probe)
    app.router.add_get("/health", health)

    async def prober(app: web.Application) -> AsyncIterator[None]:
        app[PROBE_KEY] = LocalProbe(settings)
        yield
        await app[PROBE_KEY].close()

    app.cleanup_ctx.append(prober)
    return app


async def health(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def probe(request: web.Request) -> web.Response:
    if not _authorised(request):
        return _problem(401, "Unauthorised", "Send 'Authorization: Bearer <probe token>'.")
    try:
        body = await request.json()
        url, expected, algorithms = _parse(body)
        addresses = _addresses(body.get("addresses"))
    except RecursionError:  # JSON nested deeper than the parser's stack
        return _problem(400, "Invalid request", "The JSON is nested too deeply.")
    except ValueError as exc:  # json.JSONDecodeError included
        return _problem(400, "Invalid request", str(exc))
    report = await request.app[PROBE_KEY].check(url, expected, algorithms, addresses=addresses)
    return web.json_response(report.to_json())


def _problem(status: int, title: str, detail: str) -> web.Response:
    """RFC 9457 problem JSON, like the tracker's API (whose helpers live a layer above)."""
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return web.json_response(body, status=status, content_type="application/problem+json")


def _authorised(request: web.Request) -> bool:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    expected = request.app[TOKEN_KEY]
    return scheme.lower() == "bearer" and hmac.compare_digest(secret.encode(), expected.encode())


def _parse(body: Any) -> tuple[str, dict[str, str], list[str]]:
    """The checked request; ValueError (said for the client) for anything else."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    url = body.get("url")
    if not isinstance(url, str) or not re.match(r"^https?://", url) or len(url) > 8192:
        raise ValueError("url must be an http(s) URL")
    expected = _expected_hashes(body.get("expected") or {})
    if not expected:
        raise ValueError("at least one expected hash is needed")
    algorithms = body.get("algorithms") or []
    if not isinstance(algorithms, list):
        raise ValueError("algorithms must be a list of names")
    return url, expected, [a for a in algorithms if isinstance(a, str) and a in ALGORITHMS]


def _addresses(raw: object) -> list[str]:
    """The addresses to check the URL's host at (each through the guard); at most 16."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 16 or not all(isinstance(a, str) for a in raw):
        raise ValueError("addresses must be a list of at most 16 IP addresses")
    try:
        return [str(ipaddress.ip_address(a)) for a in raw]
    except ValueError:
        raise ValueError("addresses must be IP addresses") from None


def _expected_hashes(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ValueError("expected must be an object of algorithm: hex digest")
    expected: dict[str, str] = {}
    for name, value in raw.items():
        if value is None or value == "":
            continue  # an algorithm the caller has no hash for
        if name not in _HEX:
            raise ValueError(f"bad expected hash {name}: known are {', '.join(_HEX)}")
        if not isinstance(value, str):
            raise ValueError(f"bad expected hash {name}: a hex string is needed")
        if not re.fullmatch(rf"[0-9a-f]{{{_HEX[name]}}}", value.lower()):
            raise ValueError(f"bad expected hash {name}: {_HEX[name]} hex digits are needed")
        expected[name] = value.lower()
    return expected
