"""Reading the hotline's mailbox over IMAP (aioimaplib): every mail handed to a handler, then
moved to the done folder.

Never lost on a crash: a mail leaves the watched folder only after the handler returned, by
UID MOVE (or COPY + \\Deleted + UID EXPUNGE where MOVE is missing). A crash in between leaves
it where it was, and it is handed over again at the next start (the handler recognises a mail
taken in before). A handler failure leaves the mail in place to be retried at the next poll;
a mail the handler gives up on (`SetAside`, after repeated failures) is moved to the
quarantine folder, where a person can look at it: never deleted, never retried forever.
Between polls the reader waits in IDLE when the server offers it (new mail wakes it at once),
else for TAKEDOWN_IMAP_POLL_INTERVAL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aioimaplib

from service.errors import TakedownError
from service.settings import ImapTls, Settings

log = logging.getLogger(__name__)
# (raw mail, envelope recipients): IMAP knows none, the mail's headers tell them
Handler = Callable[[bytes, Sequence[str]], Awaitable[object]]
IDLE_RENEW = 25 * 60.0  # RFC 2177: re-issue IDLE before the server's 30-minute timeout


class MailboxError(TakedownError):
    """The mailbox cannot be reached or refused a command (the reader retries later)."""

    transient = True


class SetAside(TakedownError):
    """Raised by a handler that gave up on a mail after repeated failures: the reader moves it
    to the quarantine folder (IMAP) or refuses it for good (LMTP) instead of retrying it."""

    def __init__(self, attempts: int) -> None:
        super().__init__(f"set aside after {attempts} failed attempts")
        self.attempts = attempts


@dataclass
class Batch:
    """What one pass over the folder did."""

    handled: int = 0
    failed: int = 0
    set_aside: int = 0


class Mailbox:
    """One IMAP session on the watched folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client: aioimaplib.IMAP4 | None = None

    async def open(self) -> None:
        s = self.settings
        if not s.imap_host:
            raise MailboxError("TAKEDOWN_IMAP_HOST is not set")
        tls = s.imap_tls is ImapTls.TLS
        port = s.imap_port or (993 if tls else 143)
        try:
            if tls:
                self.client = aioimaplib.IMAP4_SSL(host=s.imap_host, port=port, timeout=30)
            else:
                self.client = aioimaplib.IMAP4(host=s.imap_host, port=port, timeout=30)
            await self.client.wait_hello_from_server()
            if s.imap_tls is ImapTls.STARTTLS:
                await self._starttls(s.imap_host)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise MailboxError(f"IMAP server {s.imap_host}:{port} unreachable: {exc}") from exc
        password = s.imap_password.get_secret_value() if s.imap_password else ""
        await self._ok(self.client.login(s.imap_username or "", password), "LOGIN")
        await self._ensure_folder(s.imap_done_folder)
        await self._ensure_folder(s.imap_quarantine_folder)
        await self._ok(self.client.select(s.imap_folder), f"SELECT {s.imap_folder}")

    async def _starttls(self, host: str) -> None:
        """RFC 3501 STARTTLS: aioimaplib sends the command; the transport is upgraded here."""
        assert self.client is not None
        protocol = self.client.protocol
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        await self._ok(protocol.execute(command), "STARTTLS")
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        loop = asyncio.get_running_loop()
        transport = await loop.start_tls(
            protocol.transport, protocol, context, server_hostname=host
        )
        protocol.transport = transport
        await protocol.capability()  # the capabilities may change after TLS

    async def close(self) -> None:
        if self.client is None:
            return
        client, self.client = self.client, None
        if client.get_state() in ("AUTH", "SELECTED"):
            with contextlib.suppress(OSError, TimeoutError, aioimaplib.AioImapException):
                await asyncio.wait_for(client.logout(), timeout=5)  # may be gone already
        transport = getattr(client.protocol, "transport", None)
        if transport is not None:  # e.g. a failed TLS handshake: no LOGOUT to wait for
            transport.close()

    async def process(self, handler: Handler) -> Batch:
        """Hand every mail of the folder to `handler`; move each one handled."""
        assert self.client is not None
        batch = Batch()
        for uid in await self._uids():
            raw = await self._fetch(uid)
            if raw is None:
                continue
            try:
                await handler(raw, ())
            except SetAside as exc:  # a person looks at it there; it is not retried
                log.warning("mail-in: uid %s %s; moved to the quarantine folder", uid, exc)
                await self._move(uid, self.settings.imap_quarantine_folder)
                batch.set_aside += 1
                continue
            except Exception as exc:  # left in place: retried at the next poll, never lost
                # the error's class only: its message may quote the mail
                log.warning("mail-in: uid %s not taken in (%s); kept", uid, type(exc).__name__)
                batch.failed += 1
                continue
            await self._move(uid, self.settings.imap_done_folder)
            batch.handled += 1
        return batch

    async def wait_for_mail(self, stop: asyncio.Event) -> None:
        """Until new mail may be there: IDLE when offered (a new mail wakes it at once), else
        the poll interval. IDLE too ends after the poll interval: a mail that arrived between
        the last search and the start of IDLE is announced by no push, and waits at most that
        long."""
        assert self.client is not None
        if not self.client.has_capability("IDLE"):
            await _wait(stop, self.settings.imap_poll_interval)
            return
        renew = min(IDLE_RENEW, self.settings.imap_poll_interval)
        idle = await self.client.idle_start(timeout=renew)
        try:
            push = asyncio.ensure_future(self.client.wait_server_push(timeout=renew + 60))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({push, stopped}, return_when=asyncio.FIRST_COMPLETED)
            for task in (push, stopped):
                task.cancel()
        finally:
            self.client.idle_done()
            await asyncio.wait_for(idle, timeout=30)

    async def _uids(self) -> list[str]:
        assert self.client is not None
        response = await self._ok(self.client.uid_search("ALL", charset=None), "UID SEARCH")
        words = b" ".join(line for line in response.lines[:-1] if isinstance(line, bytes))
        return [w.decode() for w in words.split() if w.isdigit()]

    async def _fetch(self, uid: str) -> bytes | None:
        """The whole mail (BODY.PEEK: fetching does not mark it read)."""
        assert self.client is not None
        response = await self._ok(self.client.uid("fetch", uid, "(BODY.PEEK[])"), "UID FETCH")
        literals = [line for line in response.lines if isinstance(line, bytearray)]
        return bytes(literals[0]) if literals else None  # gone meanwhile (another reader)

    async def _move(self, uid: str, done: str) -> None:
        assert self.client is not None
        if self.client.has_capability("MOVE"):
            await self._ok(self.client.uid("move", uid, done), "UID MOVE")
            return
        await self._ok(self.client.uid("copy", uid, done), "UID COPY")
        await self._ok(self.client.uid("store", uid, "+FLAGS", r"(\Deleted)"), "UID STORE")
        if self.client.has_capability("UIDPLUS"):
            await self._ok(self.client.uid("expunge", uid), "UID EXPUNGE")
        else:
            await self._ok(self.client.expunge(), "EXPUNGE")

    async def _ensure_folder(self, name: str) -> None:
        assert self.client is not None
        response = await self.client.create(name)
        if response.result != "OK" and b"exists" not in b" ".join(_texts(response)).lower():
            raise MailboxError(f"IMAP CREATE {name} refused: {_said(response)}")

    async def _ok(self, command: Awaitable[aioimaplib.Response], what: str) -> aioimaplib.Response:
        try:
            response = await command
        except (OSError, TimeoutError, aioimaplib.AioImapException) as exc:
            raise MailboxError(f"IMAP {what} failed: {exc}") from exc
        if response.result != "OK":
            raise MailboxError(f"IMAP {what} refused: {_said(response)}")
        return response


def _texts(response: aioimaplib.Response) -> list[bytes]:
    return [bytes(line) for line in response.lines if isinstance(line, bytes | bytearray)]


def _said(response: aioimaplib.Response) -> str:
    return " ".join(t.decode("ascii", "replace") for t in _texts(response))[:300]


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def read_mailbox(
    settings: Settings, handler: Handler, stop: asyncio.Event, *, once: bool = False
) -> Batch:
    """Read the mailbox until `stop` is set (or one pass with `once`); reconnect after
    errors with the poll interval as pause. The total of what was done."""
    total = Batch()
    while not stop.is_set():
        mailbox = Mailbox(settings)
        try:
            await mailbox.open()
            while not stop.is_set():
                batch = await mailbox.process(handler)
                total.handled += batch.handled
                total.failed += batch.failed
                total.set_aside += batch.set_aside
                if once:
                    return total
                if batch.handled == 0:  # mail that came meanwhile is read by another pass
                    await mailbox.wait_for_mail(stop)
        except MailboxError as exc:
            if once:
                raise
            log.warning("mail-in: %s; retrying in %.0f s", exc, settings.imap_poll_interval)
            await _wait(stop, settings.imap_poll_interval)
        finally:
            await mailbox.close()
    return total
