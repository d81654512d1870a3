"""A scanner's webhook receiver on loopback: a real HTTP server that verifies every message
with the official `standardwebhooks` package and records what it took, in arrival order.

Its behaviour can be switched while it runs: answer 500 for the next N requests, answer only
after a delay, or be down (the port closed) and come back on the same port.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Receiver:
    secret: str = ""
    fail_next: int = 0  # answer 500 to this many requests
    delay: float = 0.0  # seconds before answering
    taken: list[dict[str, Any]] = field(default_factory=list)  # verified, 2xx answered
    ids: list[str] = field(default_factory=list)  # webhook-id of every request, in order
    refused: int = 0  # requests answered 500 on purpose
    bad_signatures: int = 0
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/takedown"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/takedown", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if not self.port:
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.ids.append(request.headers.get("webhook-id", ""))
        if self.delay:
            await asyncio.sleep(self.delay)
        try:
            payload = Webhook(self.secret).verify(body, dict(request.headers))
        except WebhookVerificationError:
            self.bad_signatures += 1
            return web.Response(status=401)
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            return web.Response(status=500)
        assert payload == json.loads(body)
        self.taken.append({"id": request.headers["webhook-id"], **payload})
        return web.Response(status=204)

    def outcomes(self, case_id: int) -> list[str]:
        """The outcomes taken for a case, duplicates (at-least-once) dropped by message id."""
        seen: set[str] = set()
        out = []
        for message in self.taken:
            if message["data"]["case_id"] == case_id and message["id"] not in seen:
                seen.add(message["id"])
                out.append(message["data"]["outcome"])
        return out
