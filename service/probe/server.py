"""`takedown probe-server`: the probe alone as an HTTP service.

Authentication: a shared secret, `TAKEDOWN_PROBE_TOKEN`, sent as `Authorization: Bearer …`.
We chose it over the tokens table so the probe needs no database: it can run in another
network or region with nothing but its settings (the LIBRA "remote analysis" principle).

`POST /probe {url, expected: {sha256?, sha1?, md5?, pdq?}, algorithms?: [...]}` →
`{verdict, reason, matched, pdq_distance, hashes, status, hops, timings, profile}`.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from service.domain.verdicts import ALGORITHMS
from service.errors import ConfigurationError
from service.probe.verdict import LocalProbe
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
        return web.json_response({"error": "unauthorised"}, status=401)
    try:
        url, expected, algorithms = _parse(await request.json())
    except (ValueError, TypeError, KeyError) as exc:
        return web.json_response({"error": f"invalid request: {exc}"}, status=400)
    report = await request.app[PROBE_KEY].check(url, expected, algorithms)
    return web.json_response(report.to_json())


def _authorised(request: web.Request) -> bool:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    expected = request.app[TOKEN_KEY]
    return scheme.lower() == "bearer" and hmac.compare_digest(secret.encode(), expected.encode())


def _parse(body: Any) -> tuple[str, dict[str, str], list[str]]:
    url = body["url"]
    if not isinstance(url, str) or not re.match(r"^https?://", url) or len(url) > 8192:
        raise ValueError("url must be an http(s) URL")
    expected = {k: v.lower() for k, v in dict(body.get("expected") or {}).items() if v}
    for name, value in expected.items():
        if name not in _HEX or not re.fullmatch(rf"[0-9a-f]{{{_HEX[name]}}}", value):
            raise ValueError(f"bad expected hash {name}")
    algorithms = [a for a in body.get("algorithms") or [] if a in ALGORITHMS]
    if not expected:
        raise ValueError("at least one expected hash is needed")
    return url, expected, algorithms
