"""In-process token-bucket rate limits for the API, acknowledgment pages and logins.

Three buckets, all answered with 429 problem JSON and `Retry-After`:
- per bearer token (keyed by a digest of the secret, never the secret) on `/api/` and `/ack/`;
- per client address for requests without a token on those paths;
- per client address for failed authentications (401 answers) and login attempts, at the
  much lower `login_rate_per_minute`, so that guessing tokens or passwords is slow.

Limits are per process: with N API processes a client gets up to N times the rate, which
is fine for abuse protection (not a billing quota). Behind a reverse proxy every client
shares the proxy's address; put the proxy's own limits in front in that case.
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
from service.web.problems import HttpProblem, problem_response

_MAX_KEYS = 50_000
_LIMITED_PREFIXES = ("/api/", "/ack/")


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
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        digest = hashlib.sha256(secret.strip().encode()).hexdigest()[:24]
        return "token", f"token:{digest}"
    return "address", f"address:{request.remote}"


def _is_login(request: web.Request) -> bool:
    return request.method == "POST" and request.path.rstrip("/").endswith("/login")


def rate_limit_middleware(settings: Settings) -> Middleware:
    """A middleware with its own buckets, sized from settings."""
    requests = TokenBuckets(settings.rate_limit_per_second, settings.rate_limit_burst)
    login_rate = settings.login_rate_per_minute / 60
    failures = TokenBuckets(login_rate, max(3.0, settings.login_rate_per_minute))

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        limited = request.path.startswith(_LIMITED_PREFIXES)
        address = f"address:{request.remote}"
        if (limited or _is_login(request)) and (wait := failures.wait(address)) > 0:
            return _too_many(wait, "login")
        if limited:
            bucket, key = _client_key(request)
            if (wait := requests.take(key)) > 0:
                return _too_many(wait, bucket)
        response = await handler(request)
        if response.status == 401 or _is_login(request):
            failures.take(address)  # every failed authentication costs the address
        return response

    return rate_limit
