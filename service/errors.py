"""One exception root. Subclasses carry data and say whether a failure is transient.

Third-party errors are translated into these once, at the edge that calls the library.
"""

from __future__ import annotations


class TakedownError(Exception):
    """Root of every error the service raises on purpose."""

    transient: bool = False


class ConfigurationError(TakedownError):
    """The settings cannot work (bad DSN, unreadable data dir, …)."""


class SchemaNotCurrent(ConfigurationError):
    """The database has no schema yet, or misses migrations this code needs."""


class DatabaseUnavailable(TakedownError):
    """PostgreSQL cannot be reached right now; the caller should retry later."""

    transient = True


class NotFound(TakedownError):
    """A referenced object does not exist (or the caller may not know it exists)."""


class InvalidInput(TakedownError):
    """Input that fails validation; `problems` lists what is wrong."""

    def __init__(self, message: str, problems: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class TransientLookupError(TakedownError):
    """A DNS/RDAP/SMTP peer failed in a way that may pass: retry with backoff."""

    transient = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentLookupError(TakedownError):
    """A peer answered definitively (NXDOMAIN, 5xx SMTP reply, …)."""
