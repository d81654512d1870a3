"""A scanner's webhook receiver on loopback, for the demo: checks each message's Standard
Webhooks signature the way a scanner would (the spec's algorithm, written out here, not the
tracker's own signing code) and keeps the outcomes it took, in arrival order."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_TOLERANCE = 300  # seconds: older or newer timestamps are refused (replays)


def verified(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """True when `webhook-signature` holds a v1 HMAC-SHA256 of "id.timestamp.body"."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    if not msg_id or not stamp.isdecimal() or abs(time.time() - int(stamp)) > _TOLERANCE:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(mac).decode()
    return any(
        hmac.compare_digest(expected, s) for s in headers.get("webhook-signature", "").split()
    )


@dataclass
class WebhookReceiver:
    """Run with `async with`; `url` is where to point the webhook, `secret` is set after."""

    secret: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    forged: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/takedown-outcomes"

    async def __aenter__(self) -> WebhookReceiver:
        app = web.Application()
        app.router.add_post("/takedown-outcomes", self._take)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _take(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not verified(self.secret, body, headers):
            self.forged += 1
            return web.Response(status=401)
        if headers["webhook-id"] not in self.seen:  # at least once: duplicates are dropped
            self.seen.add(headers["webhook-id"])
            self.messages.append(json.loads(body))
        return web.Response(status=204)

    def summary(self) -> str:
        counts = Counter(m["data"]["outcome"] for m in self.messages)
        cases = len({m["data"]["case_id"] for m in self.messages})
        words = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        return (
            f"webhook receiver: {len(self.messages)} signed outcomes about {cases} cases"
            f" ({words or 'none'}); {self.forged} refused as forged"
        )

    def last(self, n: int) -> list[str]:
        return [
            f"  {m['data']['at'][:19]}  case {m['data']['case_id']:<5} {m['type']}"
            for m in self.messages[-n:]
        ]
