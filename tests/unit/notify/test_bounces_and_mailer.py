"""DSN parsing and SMTP reply classification."""

from __future__ import annotations

import aiosmtplib
import pytest

from service.notify.bounces import parse_bounce
from service.notify.mailer import DeliveryDeferred, DeliveryRefused, translate

DSN = (
    b"From: MAILER-DAEMON@mx.example\r\nIn-Reply-To: <other@x.example>\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
    b"--B\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
    b"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
    b"Final-Recipient: rfc822; <Abuse@Host.example>\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"Diagnostic-Code: smtp; 550 no such user\r\n\r\n"
    b"Final-Recipient: rfc822; late@host.example\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n"
    b"--B\r\nContent-Type: message/rfc822\r\n\r\nMessage-ID: <notice.1@hotline.example>\r\n"
    b"Subject: x\r\n\r\nbody\r\n--B--\r\n"
)


def test_dsn_yields_recipients_statuses_and_the_original_message_id() -> None:
    bounce = parse_bounce(DSN)
    assert bounce.message_ids == ["<notice.1@hotline.example>", "<other@x.example>"]
    assert [(r.address, r.status) for r in bounce.final] == [("abuse@host.example", "5.1.1")]
    assert len(bounce.recipients) == 2


def test_non_dsn_mail_yields_nothing() -> None:
    bounce = parse_bounce(b"From: a@b.example\r\nSubject: hello\r\n\r\nhi\r\n")
    assert bounce.message_ids == [] and bounce.recipients == []


@pytest.mark.parametrize(
    "garbage",
    [
        DSN.replace(b"<notice.1@hotline.example>", b"<<<>>>"),  # in the returned message
        DSN.replace(b"<notice.1@hotline.example>", b"<<<>>>").replace(
            b"message/rfc822", b"text/rfc822-headers"
        ),
    ],
)
def test_a_message_id_the_email_package_chokes_on_is_skipped_and_the_rest_still_read(
    garbage: bytes,
) -> None:
    bounce = parse_bounce(garbage)
    assert bounce.message_ids == ["<other@x.example>"]  # from the report's own In-Reply-To
    assert [r.address for r in bounce.final] == ["abuse@host.example"]


def test_smtp_replies_are_transient_or_permanent_per_recipient() -> None:
    refused = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(550, "no such user", "a@b.example")]
    )
    assert isinstance(translate(refused, "a@b.example"), DeliveryRefused)
    full = aiosmtplib.SMTPRecipientsRefused(
        [aiosmtplib.SMTPRecipientRefused(452, "mailbox full", "a@b.example")]
    )
    assert isinstance(translate(full, "a@b.example"), DeliveryDeferred)
    assert isinstance(
        translate(aiosmtplib.SMTPDataError(554, "spam"), "a@b.example"), DeliveryRefused
    )
    login = aiosmtplib.SMTPAuthenticationError(535, "bad credentials")
    assert isinstance(translate(login, "a@b.example"), DeliveryDeferred)  # our fault, not theirs
    assert translate(aiosmtplib.SMTPServerDisconnected("gone"), "a@b.example").transient
