"""In-process token-bucket rate limits for the API, acknowledgment pages and logins.

Buckets answered with 429 problem JSON and `Retry-After`:
- per bearer token (keyed by a digest of the secret, never the secret) on `/api/`;
- per acknowledgment link on `/ack/{token}` (its own page limits and counts unknown links);
- per client address for API requests without a token;
- per client address for failed authentications (401 answers), at the much lower
  `login_rate_per_minute`, so that guessing tokens is slow. A request with a valid token is
  still served when its address is over that limit: others' failures never lock it out.

The client address is the peer's, or what a proxy in `TAKEDOWN_TRUSTED_PROXIES` forwarded
for (web.clients). Limits are per process: with N API processes a client gets up to N times
the rate, which is fine for abuse protection (not a billing quota).
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from service import observability
from service.settings import Settings
from service.web.auth import current_token
from service.web.clients import client_address
from service.web.problems import HttpProblem, problem_response

_MAX_KEYS = 50_000
_API_PREFIX = "/api/"


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """Buckets of `burst` tokens refilled at `rate` per second, one per key."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, key: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_KEYS:
                self._evict_full(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def _evict_full(self, now: float) -> None:
        # A bucket that has refilled completely carries no information: forget it.
        full_after = self.burst / self.rate
        stale = [k for k, b in self._buckets.items() if now - b.updated >= full_after]
        for key in stale or list(self._buckets)[: _MAX_KEYS // 10]:
            del self._buckets[key]

    def take(self, key: str) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is available."""
        bucket = self._refilled(key)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def forget(self, key: str) -> None:
        self._buckets.pop(key, None)

    def wait(self, key: str) -> float:
        """Seconds until `key` has a token, without taking one."""
        bucket = self._refilled(key)
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate


def _too_many(wait: float, bucket: str) -> web.Response:
    observability.RATE_LIMITED.labels(bucket=bucket).inc()
    seconds = str(max(1, math.ceil(wait)))
    return problem_response(
        HttpProblem(
            429,
            "Too many requests",
            f"Slow down; retry in {seconds} s.",
            slug="rate-limited",
            headers={"Retry-After": seconds},
        )
    )


def _client_key(request: web.Request) -> tuple[str, str]:
    """Which request bucket: the bearer token's, the acknowledgment link's, else the client's."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        return "token", f"token:{_digest(secret.strip())}"
    if request.path.startswith("/ack/"):
        # Per link: every hoster behind one proxy (or one big provider) gets its own bucket.
        return "link", f"link:{_digest(request.path)}"
    return "address", f"address:{client_address(request)}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()[:24]


async def _holds_valid_token(request: web.Request) -> bool:
    """A valid bearer token is never refused because of failures from its address."""
    return await current_token(request) is not None


def rate_limit_middleware(settings: Settings) -> Middleware:
    """A middleware with its own buckets, sized from settings."""
    requests = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
    login_rate = settings.login_rate_per_minute / 60
    failures = TokenBuckets(login_rate, max(3.0, settings.login_rate_per_minute))

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(_API_PREFIX):
            # /ack/ pages limit per link and count unknown links themselves (web.ack); the
            # login form counts per account and client (usecases.analysts).
            if request.path.startswith("/ack/"):
                bucket, key = _client_key(request)
                if (wait := requests.take(key)) > 0:
                    return _too_many(wait, bucket)
            return await handler(request)
        address = f"address:{client_address(request)}"
        bucket, key = _client_key(request)
        if (wait := requests.take(key)) > 0:
            return _too_many(wait, bucket)
        wait = failures.wait(address)
        if wait > 0 and not await _holds_valid_token(request):
            return _too_many(wait, "login")
        response = await handler(request)
        if response.status == 401:
            failures.take(address)  # every failed authentication costs the client
        return response

    return rate_limit
