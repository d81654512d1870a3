"""The world's mail server (aiosmtpd, in-process on loopback): accepts notices for the
world's abuse mailboxes, keeps every message for inspection, and fails on request.

Failures are per address (or "*" for all): 550 (mailbox unavailable, a bounce), 452
(mailbox full) or 421 (service not available). `stop()`/`start()` take the whole server
down and up on the same port ("SMTP down for minutes").
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)
FAILURE_REPLIES = {
    550: "550 5.2.1 Mailbox unavailable",
    552: "552 5.2.2 Mailbox full, message rejected",
    452: "452 4.2.2 Mailbox full, try again later",
    421: "421 4.3.2 Service not available, try again later",
}


@dataclass
class ReceivedMail:
    """One accepted message with its envelope; `received_at` is simulated seconds."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    received_at: float

    @property
    def subject(self) -> str:
        return str(self.message.get("Subject", ""))


class MailSink:
    """The aiosmtpd handler: recipient checks, failure injection, storage."""

    def __init__(self, mailboxes: set[str], now: Callable[[], float]) -> None:
        self.mailboxes = {m.lower() for m in mailboxes}
        self.accept_all = False
        self.messages: list[ReceivedMail] = []
        self.rejected: list[tuple[str, int]] = []
        self.on_message: Callable[[ReceivedMail], None] | None = None
        self._failures: dict[str, int] = {}
        self._now = now
        self._arrived = asyncio.Condition()

    def fail(self, address: str, code: int) -> None:
        """Answer RCPT for `address` ("*" = everyone) with a 550/552/452/421 failure."""
        if code not in FAILURE_REPLIES:
            raise ValueError(f"unsupported failure code {code}")
        self._failures[address.lower()] = code

    def clear_failures(self) -> None:
        self._failures.clear()

    async def wait_for(self, count: int) -> list[ReceivedMail]:
        """Wait until at least `count` messages arrived (tests: wrap in asyncio.timeout)."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.messages) >= count)
        return self.messages

    # --- aiosmtpd hooks ------------------------------------------------------------------------
    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        code = self._failures.get(address.lower(), self._failures.get("*"))
        if code is not None:
            self.rejected.append((address, code))
            return FAILURE_REPLIES[code]
        if not self.accept_all and address.lower() not in self.mailboxes:
            self.rejected.append((address, 550))
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        data = raw if isinstance(raw, bytes) else raw.encode()
        message = email.message_from_bytes(data, policy=email.policy.default)
        mail = ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), message, self._now())
        self.messages.append(mail)
        # Logged without any content: only who and how many.
        log.info("sim smtp: message for %d recipient(s) accepted", len(mail.rcpt_tos))
        if self.on_message is not None:
            self.on_message(mail)  # notices are recorded before the client sees 250
        async with self._arrived:
            self._arrived.notify_all()
        return "250 2.0.0 Message accepted for delivery"


class SmtpServer:
    """Runs a `MailSink` on a loopback port; can be stopped and restarted on that port."""

    def __init__(self, sink: MailSink, host: str = "127.0.0.1") -> None:
        self.sink, self.host = sink, host
        self.port = 0
        self._server: asyncio.Server | None = None
        self._sessions: set[SMTP] = set()

    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("sim smtp listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for session in list(self._sessions):  # drop open sessions too: the host is down
            if session.transport is not None:
                session.transport.close()
        await server.wait_closed()

    def _protocol(self) -> SMTP:
        proto = _TrackedSMTP(self.sink, hostname="mx.sim.invalid", ident="sim-smtpd")
        proto.registry = self._sessions
        return proto


class _TrackedSMTP(SMTP):
    """An SMTP session that registers itself so that stop() can close it."""

    registry: set[SMTP]

    def connection_made(self, transport: Any) -> None:
        self.registry.add(self)
        super().connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.registry.discard(self)
        super().connection_lost(exc)
