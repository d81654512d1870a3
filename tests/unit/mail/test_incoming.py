"""Incoming mail is told apart: bounces, automatic replies (with the ticket reference a help desk
gives) and people's replies; only text is kept, attachments as facts."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage, Message

import pytest

from service.notify.incoming import classify, ticket_of


def parse(message: EmailMessage) -> Message:
    return message_from_bytes(message.as_bytes(), policy=policy.default)


def mail(subject: str = "Re: notice", body: str = "hello", **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = headers.pop("From", "desk@hoster.example")
    message["To"] = "abuse-desk@hotline.example"
    message["Subject"] = subject
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


@pytest.mark.parametrize(
    ("headers", "subject"),
    [
        ({"Auto_Submitted": "auto-replied"}, "Re: notice"),
        ({"Auto_Submitted": "auto-generated"}, "Your report"),
        ({"X_Autoreply": "yes"}, "Re: notice"),
        ({"Precedence": "auto_reply"}, "Re: notice"),
        ({}, "Automatic reply: Removal request TT-N000001"),
        ({}, "Out of Office: back Monday"),
    ],
)
def test_automatic_replies_are_recognised(headers: dict[str, str], subject: str) -> None:
    assert classify(parse(mail(subject, **headers))).kind == "auto_reply"


def test_a_person_answering_is_a_reply_and_auto_submitted_no_is_a_person() -> None:
    assert classify(parse(mail(Auto_Submitted="no"))).kind == "reply"
    assert classify(parse(mail("Re: Removal request TT-N000001"))).kind == "reply"


def test_a_postmaster_answering_by_hand_is_a_reply_not_a_bounce() -> None:
    human = mail("Re: Removal request TT-N000001",
                 body="abuse@hoster.example forwarded your notice to me. The files are gone.",
                 From="postmaster@hoster.example", Return_Path="<postmaster@hoster.example>")  # fmt: skip
    assert classify(parse(human)).kind == "reply"
    notice = mail("Undelivered Mail Returned to Sender", From="postmaster@mx.example",
                  Return_Path="<>")  # fmt: skip
    assert classify(parse(notice)).kind == "bounce"


def test_a_daemons_failure_notice_is_a_bounce_even_when_auto_submitted() -> None:
    notice = mail("Mail delivery failed: returning message to sender",
                  From="Mail Delivery System <Mailer-Daemon@mx.example>",
                  Auto_Submitted="auto-replied", X_Failed_Recipients="abuse@hoster.example")  # fmt: skip
    assert classify(parse(notice)).kind == "bounce"


@pytest.mark.parametrize(
    ("subject", "headers", "ticket"),
    [
        ("[Ticket#2024120712345] Received: Removal request", {}, "2024120712345"),
        ("[rt.hoster.example #48151] AutoReply: Removal request", {}, "48151"),
        ("Your request has been received (Case: 00123987)", {}, "00123987"),
        ("Re: notice", {"X_OTRS_TicketNumber": "2024120710000041"}, "2024120710000041"),
        ("Thanks for your report", {}, None),
    ],
)
def test_ticket_references_are_kept(
    subject: str, headers: dict[str, str], ticket: str | None
) -> None:
    assert ticket_of(parse(mail(subject, **headers))) == ticket


def test_text_is_capped_and_attachments_are_facts_only() -> None:
    message = mail(body="x" * 5000)
    message.add_attachment(
        b"\x89PNG" + bytes(100), maintype="image", subtype="png", filename="a.png"
    )
    incoming = classify(parse(message), text_cap=1000)
    assert len(incoming.text) == 1000 and incoming.truncated
    (attachment,) = incoming.attachments
    assert (attachment.media_type, attachment.size) == ("image/png", 104)
    assert len(attachment.sha256) == 64 and not hasattr(attachment, "filename")
