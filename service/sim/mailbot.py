"""Hosters' reactions to a notice: start the removal clock of every URL of theirs the
message names, and answer on the acknowledgment page per their behaviour.

URLs are read from every MIME part (text, HTML, CSV/JSON attachments); human text may be
defanged (`hxxp://`, `[.]`), so it is refanged first. The acknowledgment link is only
followed when it points at a loopback address: nothing in the sim leaves the machine.
"""

from __future__ import annotations

import asyncio
import html
import ipaddress
import logging
import re
import smtplib
from collections.abc import Coroutine
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import aiohttp
from yarl import URL

from service.sim import mailback
from service.sim.behaviour import AckRecord, WorldState
from service.sim.smtp import ReceivedMail
from service.sim.world import AckAnswer, Hoster, MailReaction

log = logging.getLogger(__name__)
_URL = re.compile(r"https?://[^\s<>\"',]+", re.IGNORECASE)  # matched after refanging
_ACK = re.compile(r"https?://[^\s<>\"']+/ack/[A-Za-z0-9_.~%-]+")
# How an MTA treats a deferred hand-over to the hotline: tries and the pause before the next
MAIL_BACK_ATTEMPTS = 5
MAIL_BACK_RETRY_PAUSE = 0.5
NOTES = {
    AckAnswer.RECEIVED: "Thank you, we are looking into it.",
    AckAnswer.REMOVED: "The content has been removed.",
    AckAnswer.NOT_OURS: "This address is not in our network.",
    AckAnswer.DISPUTE: "We dispute this report.",
}


def refang(text: str) -> str:
    text = re.sub(r"hxxp", "http", text, flags=re.IGNORECASE)
    for fanged, plain in (("[.]", "."), ("(.)", "."), ("[:]", ":"), ("[://]", "://")):
        text = text.replace(fanged, plain)
    return text


def message_texts(message: EmailMessage) -> list[str]:
    """The decoded text of every leaf part (attachments included), HTML unescaped."""
    texts = []
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        charset = part.get_content_charset() or "utf-8"
        text = payload.decode(charset, errors="replace")
        texts.append(html.unescape(text) if part.get_content_subtype() == "html" else text)
    return texts


def urls_in(message: EmailMessage) -> set[str]:
    found = set()
    for text in message_texts(message):
        for match in _URL.findall(refang(text)):
            found.add(match.rstrip(".;:)]>"))
    return found


def ack_link(message: EmailMessage) -> str | None:
    for text in message_texts(message):
        match = _ACK.search(html.unescape(text))
        if match:
            return match.group(0).rstrip(".,;:)")
    return None


def is_loopback(url: str) -> bool:
    host = (URL(url).host or "").strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _HiddenInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "input":
            a = dict(attrs)
            if a.get("name"):
                self.values[str(a["name"])] = a.get("value") or ""


class MailBot:
    """Acts for every hoster whose mailbox received a notice."""

    def __init__(self, state: WorldState, timeout: float = 10.0) -> None:
        self.state, self.timeout = state, timeout
        self._tasks: set[asyncio.Task[None]] = set()
        # The hotline's LMTP listener (host, port) that replies and bounces are handed to;
        # None: the hosters' mail systems send nothing back.
        self.mail_back: tuple[str, int] | None = None
        self.sent_back: dict[MailReaction, int] = dict.fromkeys(MailReaction, 0)
        # Mail on its way back to the hotline (a summary that counts what came back waits for it)
        self._mail_tasks: set[asyncio.Task[None]] = set()
        self.mail_attempts, self.retry_pause = MAIL_BACK_ATTEMPTS, MAIL_BACK_RETRY_PAUSE
        self.not_delivered = 0

    def on_message(self, mail: ReceivedMail) -> None:
        urls = urls_in(mail.message)
        link = ack_link(mail.message)
        for hoster in self._hosters(mail.rcpt_tos):
            if hoster.behaviour.mail is MailReaction.BOUNCE and self.mail_back is not None:
                # the mailbox behind the MX does not exist: the notice never reaches anyone
                self._spawn(self._send_back(hoster, mail, self.mail_back), mail_back=True)
                continue
            mine = self._claim(hoster, urls)
            for url in mine:
                self.state.notify(url, hoster=hoster.name)
            if hoster.behaviour.ack is not None and mine:
                self._spawn(self._acknowledge(hoster, link, mine[0]))
            if hoster.behaviour.mail is not None and mine and self.mail_back is not None:
                self._spawn(self._send_back(hoster, mail, self.mail_back), mail_back=True)

    def _spawn(self, work: Coroutine[Any, Any, None], *, mail_back: bool = False) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if mail_back:
            self._mail_tasks.add(task)
            task.add_done_callback(self._mail_tasks.discard)

    async def _send_back(self, hoster: Hoster, mail: ReceivedMail, to: tuple[str, int]) -> None:
        """The hoster's mail system answers the notice through the hotline's LMTP listener."""
        reaction = hoster.behaviour.mail
        desk = next(
            (r for r in mail.rcpt_tos if hoster in self.state.world.hosters_by_mailbox(r)), ""
        )
        message: bytes | EmailMessage
        if reaction is MailReaction.BOUNCE:
            sender, rcpts = "", [mail.mail_from]  # a DSN goes to the envelope sender (VERP)
            message = mailback.delivery_failure(mail.message, mail.mail_from, desk)
        else:
            write = (
                mailback.person_reply
                if reaction is MailReaction.REPLY
                else mailback.ticket_acknowledgment
            )
            message = write(mail.message, hoster, desk)
            sender, rcpts = (
                ("" if reaction is MailReaction.AUTO_REPLY else desk),
                [str(message["To"])],
            )
        if await self._deliver(to, hoster, sender, rcpts, message) and reaction is not None:
            self.sent_back[reaction] += 1

    async def _deliver(
        self,
        to: tuple[str, int],
        hoster: Hoster,
        sender: str,
        rcpts: list[str],
        message: bytes | EmailMessage,
    ) -> bool:
        """Hand the mail to the hotline's LMTP listener as an MTA does: a 4xx answer (or no
        answer) keeps the mail in the queue for another try, a 5xx answer ends it."""
        for attempt in range(1, self.mail_attempts + 1):
            try:
                await mailback.hand_over(*to, sender, rcpts, message)
                return True
            except (OSError, smtplib.SMTPException) as exc:
                if not mailback.retry_later(exc) or attempt == self.mail_attempts:
                    log.warning(
                        "sim mailbot: %s could not mail the hotline back: %s", hoster.name, exc
                    )
                    self.not_delivered += 1
                    return False
            # an MTA's queue run: the next try of a deferred mail, not a synchronisation
            await asyncio.sleep(self.retry_pause * attempt)
        return False

    async def mail_delivered(self) -> None:
        """Wait until every mail on its way back to the hotline was delivered (or refused for
        good): what the hotline's mail-in counts afterwards includes it."""
        while self._mail_tasks:
            await asyncio.gather(*self._mail_tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every acknowledgment in flight is done."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _hosters(self, rcpts: list[str]) -> list[Hoster]:
        seen: dict[str, Hoster] = {}
        for rcpt in rcpts:
            for h in self.state.world.hosters_by_mailbox(rcpt):
                seen[h.name] = h
        return list(seen.values())

    def _claim(self, hoster: Hoster, urls: set[str]) -> list[str]:
        """The URLs named in the message that this hoster serves (as origin or CDN)."""
        world, mine = self.state.world, []
        for url in sorted(urls):
            entry = world.url_entry(url)
            if entry is None:
                continue
            front = world.front_of(entry)
            serving = {h.name for h in world.hosters_at(entry.host)}  # a split host: each
            if (
                entry.hoster == hoster.name
                or hoster.name in serving
                or (front is not None and front.name == hoster.name)
            ):
                mine.append(entry.url)
        return mine

    async def _acknowledge(self, hoster: Hoster, link: str | None, url: str) -> None:
        answer = hoster.behaviour.ack
        assert answer is not None
        if hoster.behaviour.ack_delay:
            await self.state.clock.sleep(hoster.behaviour.ack_delay)
        if link is None or not is_loopback(link):
            self._record(hoster, url, answer, None, "no loopback acknowledgment link")
            return
        try:
            status = await self._submit(link, answer)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            # The ack page may not exist yet: note it and carry on, like a busy desk would.
            self._record(hoster, url, answer, None, type(exc).__name__)
            return
        self._record(hoster, url, answer, status, None)

    async def _submit(self, link: str, answer: AckAnswer) -> int:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        jar = aiohttp.CookieJar(unsafe=True)  # keep CSRF cookies set by an IP-address host
        async with aiohttp.ClientSession(timeout=timeout, cookie_jar=jar) as session:
            async with session.get(link) as page:
                page.raise_for_status()
                parser = _HiddenInputs()
                parser.feed(await page.text())
            form = {
                "csrf_token": parser.values.get("csrf_token", ""),
                "answer": answer.value,
                "scope": "all",
                "note": NOTES[answer],
            }
            async with session.post(link, data=form) as result:
                return result.status

    def _record(
        self, hoster: Hoster, url: str, answer: AckAnswer, status: int | None, error: str | None
    ) -> None:
        if error:
            log.warning("sim mailbot: %s could not acknowledge: %s", hoster.name, error)
        self.state.acks.append(AckRecord(hoster.name, url, answer, status, error))
