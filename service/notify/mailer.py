"""Sending notices over SMTP (aiosmtplib), with its errors translated once into ours.

4xx replies, timeouts and lost connections are transient (retry with backoff); a 5xx reply to
the recipient or the message is permanent for that recipient. A refused login or sender is
our own configuration, never the recipient's fault: it is retried, not held against them.
"""

from __future__ import annotations

import logging
from email.message import Message

import aiosmtplib

from service.errors import PermanentLookupError, TransientLookupError
from service.settings import Settings, SmtpTls

log = logging.getLogger(__name__)


class DeliveryDeferred(TransientLookupError):
    """The mail server (or the way to it) failed for now; try again later."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class DeliveryRefused(PermanentLookupError):
    """The mail server refused this recipient or message for good (5xx)."""

    def __init__(self, message: str, recipient: str, code: int) -> None:
        super().__init__(message)
        self.recipient = recipient
        self.code = code


class Mailer:
    """Delivers one message per SMTP transaction to the configured relay."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_tls is SmtpTls.TLS,
            start_tls=s.smtp_tls is SmtpTls.STARTTLS,
            timeout=s.smtp_timeout,
        )

    async def send(self, message: Message, recipient: str) -> str:
        """Deliver `message` to `recipient`; the server's acceptance reply."""
        try:
            async with self._client() as client:
                _errors, reply = await client.send_message(
                    message, sender=self.settings.mail_from, recipients=[recipient]
                )
                return reply
        except aiosmtplib.SMTPException as exc:
            raise translate(exc, recipient) from exc
        except OSError as exc:
            raise DeliveryDeferred(f"mail server unreachable: {exc}") from exc


def translate(exc: aiosmtplib.SMTPException, recipient: str) -> Exception:
    """Our error for an aiosmtplib error."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        first = exc.recipients[0]
        return _by_code(first.code, first.message, recipient)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError | aiosmtplib.SMTPSenderRefused):
        log.error("the mail relay refused our login or sender: %s", exc)
        return DeliveryDeferred(f"relay refused our credentials/sender: {exc}", exc.code)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _by_code(exc.code, exc.message, recipient)
    return DeliveryDeferred(f"{type(exc).__name__}: {exc}")


def _by_code(code: int, text: str, recipient: str) -> Exception:
    detail = f"{code} {text}".strip()
    if 500 <= code < 600:
        return DeliveryRefused(detail, recipient, code)
    return DeliveryDeferred(detail, code)
