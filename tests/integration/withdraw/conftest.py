"""Fixtures for withdrawal and reopening tests: the notice tests' loopback SMTP server."""

from __future__ import annotations

from tests.integration.notify.conftest import smtp

__all__ = ["smtp"]
