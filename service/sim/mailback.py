"""What the simulated hosters' mail systems send back to the hotline: a person's reply, a
ticket system's automatic acknowledgment, or a delivery status notification (the MX accepted
the notice, the mailbox behind it refused it). Written as those systems write them, and handed
to the hotline's LMTP listener (`takedown mail-in --lmtp`) as its MTA would."""

from __future__ import annotations

import asyncio
import itertools
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from service.sim.world import Hoster

_TICKETS = itertools.count(2024120700001)


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "hoster.sim.invalid"


def _base(notice: Message, sender: str, subject: str) -> EmailMessage:
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = str(notice.get("Reply-To") or notice.get("From", ""))
    reply["Subject"] = subject
    reply["Date"] = format_datetime(datetime.now(UTC))
    reply["Message-ID"] = make_msgid(domain=_domain(sender))
    if notice_id := notice.get("Message-ID"):
        reply["In-Reply-To"] = str(notice_id)
        reply["References"] = str(notice_id)
    return reply


def person_reply(notice: Message, hoster: Hoster, desk: str) -> EmailMessage:
    reply = _base(notice, desk, f"Re: {notice.get('Subject', '')}")
    reply.set_content(
        f"Hello,\n\nthank you for your report. We have taken the listed content down and "
        f"suspended the account.\n\nRegards,\n{hoster.org_name or hoster.name} abuse team\n"
    )
    return reply


def ticket_acknowledgment(notice: Message, hoster: Hoster, desk: str) -> EmailMessage:
    ticket = next(_TICKETS)
    reply = _base(notice, desk, f"[Ticket#{ticket}] Received: {notice.get('Subject', '')}")
    reply["Auto-Submitted"] = "auto-replied"
    reply["X-Auto-Response-Suppress"] = "All"
    reply.set_content(
        f"This is an automatic message. Your report has been received and ticket {ticket} was "
        f"opened. Please keep [Ticket#{ticket}] in the subject of any further mail.\n"
    )
    return reply


def delivery_failure(notice: Message, return_path: str, recipient: str) -> bytes:
    """An RFC 3464 DSN from the hoster's MX, as Postfix writes one: the mailbox does not
    exist (5.1.1). Written out by hand: the email package cannot build a delivery-status part."""
    mx = f"mx.{_domain(recipient)}"
    returned = "".join(
        f"{name}: {notice[name]}\r\n"
        for name in ("Message-ID", "From", "To", "Subject")
        if notice[name]
    )
    text = (
        f"From: Mail Delivery System <MAILER-DAEMON@{mx}>\r\n"
        f"To: {return_path}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(datetime.now(UTC))}\r\n"
        f"Message-ID: {make_msgid(domain=mx)}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="dsn"\r\n\r\n'
        "--dsn\r\nContent-Type: text/plain\r\n\r\n"
        f"This is the mail system at host {mx}.\r\n\r\nI'm sorry to have to inform you that "
        "your message could not be delivered.\r\n\r\n"
        f"<{recipient}>: host said: 550 5.1.1 User unknown\r\n\r\n"
        "--dsn\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; {mx}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        f"--dsn\r\nContent-Type: text/rfc822-headers\r\n\r\n{returned}\r\n"
        "--dsn--\r\n"
    )
    return text.encode("utf-8")


def _bytes(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=SMTP)


async def hand_over(
    host: str, port: int, sender: str, recipients: list[str], message: EmailMessage | bytes
) -> None:
    """Deliver over LMTP, as the hotline's MTA would (smtplib's client, in a thread)."""
    raw = message if isinstance(message, bytes) else _bytes(message)

    def deliver() -> None:
        with smtplib.LMTP(host, port, timeout=30) as client:
            client.sendmail(sender, recipients, raw)

    await asyncio.to_thread(deliver)


def retry_later(exc: Exception) -> bool:
    """Whether an MTA keeps the mail for another try: a 4xx answer or no answer at all; a
    5xx answer is final (the mail goes back to its sender)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code < 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code < 500
    return isinstance(exc, OSError | smtplib.SMTPServerDisconnected)
