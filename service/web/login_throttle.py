"""Throttling of analyst logins: per (client, account) and per account.

A client that guesses passwords for one account is slowed down at `login_rate_per_minute`
without touching anyone else: another analyst behind the same proxy, or the same analyst at
another address, still logs in. Guessing spread over many addresses against one account is
held by the account's own, larger budget (`login_account_failures_per_hour`); that one is a
soft lockout of the account while it lasts, the trade-off ASVS 2.2.1 accepts (a second factor
keeps a stolen password useless meanwhile). Only failures cost; a success forgets the client's
failures for that account.
"""

from __future__ import annotations

from aiohttp import web

from service.settings import Settings
from service.web.ratelimit import TokenBuckets


class LoginThrottle:
    """Failure buckets for logins; `wait` says how long before the next attempt is heard."""

    def __init__(self, settings: Settings) -> None:
        per_client = settings.login_rate_per_minute
        per_account = settings.login_account_failures_per_hour
        self._pairs = TokenBuckets(per_client / 60, max(3.0, per_client))
        self._accounts = TokenBuckets(per_account / 3600, max(3.0, per_account))

    def wait(self, client: str, username: str) -> float:
        return max(self._pairs.wait(_pair(client, username)), self._accounts.wait(username))

    def failed(self, client: str, username: str) -> None:
        self._pairs.take(_pair(client, username))
        self._accounts.take(username)

    def succeeded(self, client: str, username: str) -> None:
        self._pairs.forget(_pair(client, username))


def _pair(client: str, username: str) -> str:
    return f"{client}\x00{username}"


LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
