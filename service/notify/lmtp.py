"""`takedown mail-in --lmtp`: an LMTP server (RFC 2033, aiosmtpd) for deployments whose MTA
delivers the hotline's mail (and the VERP return paths' domain) to it.

Each delivered mail is handed to the handler with its envelope recipients. LMTP answers once
per recipient: 250 when the mail was taken in, 451 (the MTA keeps it and retries) when it
could not be, so a mail is never lost to a database outage; 554 (permanent) for a mail the
handler set aside after repeated failures, which the MTA then returns to its sender. Nothing
of a mail is written anywhere by this module: aiosmtpd holds it in memory for the handler.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from service.notify.mailbox import SetAside

log = logging.getLogger(__name__)
Handler = Callable[[bytes, Sequence[str]], Awaitable[object]]
MAX_MESSAGE_BYTES = 50 * 1024 * 1024


class _Delivery:
    """The aiosmtpd handler: every recipient accepted, the mail handed over at DATA."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # As a delivery agent does (RFC 5321 4.4): the envelope sender, `<>` for notices.
        return_path = f"Return-Path: <{envelope.mail_from or ''}>\r\n".encode()
        raw = return_path + bytes(envelope.original_content or b"")
        recipients = [str(r) for r in envelope.rcpt_tos]
        try:
            await self.handler(raw, recipients)
        except SetAside as exc:  # recorded by the handler; the MTA stops retrying
            log.warning("mail-in: an LMTP delivery was %s; 554 to the MTA", exc)
            reply = f"554 5.6.0 Not taken in after {exc.attempts} attempts, set aside"
        except Exception as exc:  # the MTA keeps the mail and tries again later
            # the error's class only: its message may quote the mail
            log.warning("mail-in: an LMTP delivery not taken in (%s); 451", type(exc).__name__)
            reply = "451 4.3.0 Not taken in, try again later"
        else:
            reply = "250 2.0.0 Taken in"
        return "\r\n".join([reply] * max(1, len(recipients)))


class LmtpServer:
    """The listener on host:port; port 0 picks a free one (`port` says which)."""

    def __init__(self, handler: Handler, host: str, port: int) -> None:
        self.handler, self.host, self.port = handler, host, port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        delivery = _Delivery(self.handler)

        def protocol() -> LMTP:
            return LMTP(delivery, data_size_limit=MAX_MESSAGE_BYTES, hostname="takedown-mail-in")

        self._server = await loop.create_server(protocol, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("mail-in: LMTP listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
