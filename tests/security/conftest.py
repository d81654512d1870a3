"""The security suite: each attack of the review (issue 16) against a running service.

Servers are real (aiohttp on loopback, real PostgreSQL); the notice fixtures are the notify
tests' own.
"""

from __future__ import annotations

from tests.integration.notify.conftest import smtp

__all__ = ["smtp"]
