"""Sends signed webhook messages to scanners' receivers, through the outbound-address guard.

A receiver URL is given by a scanner operator, so it is treated like any URL from outside:
every connection is checked by the same guard as the probe's (service/netguard.py), so a
receiver cannot point the tracker at its own database or a neighbour on the private network
(loopback only with TAKEDOWN_ALLOW_PRIVATE_TARGETS). Redirects are not followed.
"""

from __future__ import annotations

import time
from types import TracebackType

import aiohttp
from aiohttp.abc import AbstractResolver

from service.domain.webhooks import Message
from service.netguard import AddressGuard, GuardedConnector, TargetRefused

USER_AGENT = "TakedownTracker-Webhooks/0.1"
_ANSWER_BYTES = 4096


class DeliveryFailed(Exception):
    """The receiver did not take the message (refused, unreachable, timeout, not 2xx)."""


class WebhookSender:
    """One HTTP session for a worker's deliveries; use as an async context manager."""

    def __init__(
        self, *, allow_private: bool, timeout: float, resolver: AbstractResolver | None = None
    ) -> None:
        self.guard = AddressGuard(allow_private)
        self.timeout = timeout
        self.resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> WebhookSender:
        kwargs = {"resolver": self.resolver} if self.resolver else {}
        connector = GuardedConnector(self.guard, set(), limit=0, **kwargs)
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, url: str, message: Message, secret: str) -> None:
        """POST the message, signed now; DeliveryFailed unless a 2xx answer came back."""
        assert self._session is not None, "use the sender as an async context manager"
        headers = message.headers(secret, int(time.time()))
        try:
            async with self._session.post(
                url, data=message.body, headers=headers, allow_redirects=False
            ) as resp:
                await resp.content.read(_ANSWER_BYTES)  # drained a little, never kept
                if not 200 <= resp.status < 300:
                    raise DeliveryFailed(f"HTTP {resp.status}")
        except TimeoutError as exc:
            raise DeliveryFailed(f"no answer within {self.timeout:g} s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryFailed(_reason(exc)) from exc


def _reason(exc: BaseException) -> str:
    """Why a connection failed; the guard's refusal said plainly (aiohttp wraps it)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, TargetRefused):
            return f"refused by the outbound-address guard: {cause}"
        cause = getattr(cause, "os_error", None) or cause.__cause__
    return f"{type(exc).__name__}: {exc}"
