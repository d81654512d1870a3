"""Sending notices over SMTP (aiosmtplib), with its errors translated once into ours.

4xx replies, timeouts and lost connections are transient (retry with backoff); a 5xx reply to
the recipient or the message is permanent for that recipient. A refused login or sender is
our own configuration, never the recipient's fault: it is retried, not held against them.

Copies (Cc) are envelope recipients of the same transaction, named after the main recipient:
when the main recipient is refused the transaction is reset before DATA (no copy of a notice
that did not reach its addressee); a refused copy is reported back, it never fails the send.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Delivery:
    """The server's reply to an accepted message, and the copies it refused: {address: reply}."""

    reply: str
    cc_refused: dict[str, str] = field(default_factory=dict)

    @property
    def cc_refused_for_good(self) -> dict[str, str]:
        """The refusals that were 5xx replies (the address does not take mail)."""
        return {a: r for a, r in self.cc_refused.items() if r.startswith("5")}


class Mailer:
    """Delivers one message per SMTP transaction to the configured relay.

    Connections are kept and reused for later messages (a relay takes hundreds of messages on
    one connection; a new TCP + EHLO (+ TLS + AUTH) per notice costs more than the notice). A
    kept connection the server has meanwhile closed is noticed on use and replaced once.
    """

    def __init__(self, settings: Settings, *, keep: int = 8, idle_for: float = 30.0) -> None:
        self.settings = settings
        self.keep = keep
        self.idle_for = idle_for
        self._idle: list[tuple[float, aiosmtplib.SMTP]] = []

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

    async def send(
        self,
        message: Message | bytes,
        recipient: str,
        cc: Sequence[str] = (),
        *,
        sender: str | None = None,
    ) -> Delivery:
        """Deliver `message` (or a serialised message) to `recipient`, copies to `cc`, from
        the envelope sender `sender` (a notice's VERP return path; else TAKEDOWN_MAIL_FROM)."""
        envelope = sender or self.settings.mail_from
        try:
            client, reused = await self._checkout()
            try:
                delivery = await self._transaction(client, message, recipient, cc, envelope)
            except aiosmtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                client, _ = await self._fresh()  # the kept connection had gone stale
                delivery = await self._transaction(client, message, recipient, cc, envelope)
        except aiosmtplib.SMTPException as exc:
            raise translate(exc, recipient) from exc
        except OSError as exc:
            raise DeliveryDeferred(f"mail server unreachable: {exc}") from exc
        self._checkin(client)
        return delivery

    async def _transaction(
        self,
        client: aiosmtplib.SMTP,
        message: Message | bytes,
        recipient: str,
        cc: Sequence[str],
        sender: str,
    ) -> Delivery:
        recipients = [recipient]
        try:
            if cc:
                return await _with_copies(client, sender, _as_bytes(message), recipient, cc)
            if isinstance(message, bytes):
                _errors, reply = await client.sendmail(sender, recipients, message)
            else:
                _errors, reply = await client.send_message(
                    message, sender=sender, recipients=recipients
                )
        except (aiosmtplib.SMTPRecipientsRefused, aiosmtplib.SMTPRecipientRefused):
            await _reset(client)  # the connection stays usable for the next message
            self._checkin(client)
            raise
        except BaseException:
            client.close()
            raise
        return Delivery(reply)

    async def _checkout(self) -> tuple[aiosmtplib.SMTP, bool]:
        now = time.monotonic()
        while self._idle:
            since, client = self._idle.pop()
            if client.is_connected and now - since < self.idle_for:
                return client, True
            client.close()
        return await self._fresh()

    async def _fresh(self) -> tuple[aiosmtplib.SMTP, bool]:
        client = self._client()
        await client.connect()
        return client, False

    def _checkin(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected and len(self._idle) < self.keep:
            self._idle.append((time.monotonic(), client))
        else:
            client.close()

    async def aclose(self) -> None:
        """Say goodbye on every kept connection."""
        idle, self._idle = self._idle, []
        for _since, client in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()


async def _with_copies(
    client: aiosmtplib.SMTP, sender: str, message: bytes, recipient: str, cc: Sequence[str]
) -> Delivery:
    """One transaction for the main recipient and its copies: the main recipient's RCPT
    first (a refusal raises before any copy is named), each copy's refusal collected."""
    await client.mail(sender)
    await client.rcpt(recipient)
    refused: dict[str, str] = {}
    for address in cc:
        try:
            await client.rcpt(address)
        except aiosmtplib.SMTPRecipientRefused as exc:
            refused[address] = f"{exc.code} {exc.message}".strip()
    response = await client.data(message)
    return Delivery(response.message, refused)


def _as_bytes(message: Message | bytes) -> bytes:
    if isinstance(message, bytes):
        return message
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


async def _reset(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await client.rset()


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
