"""Whatever arrives in the mailbox is taken in without an error (an error would leave it in the
inbox, retried forever): real bounces and auto-replies from many systems, NUL bytes, garbage."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from service.usecases.mail import take_in
from tests.integration.mail.conftest import Sent

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "bounce-corpus" / "eml"
NASTY = [
    b"",
    b"\x00\x01\x02 not a mail at all",
    b"From: a\x00b@hoster.example\r\nSubject: nul\x00here\r\nMessage-ID: <x\x00y@h>\r\n"
    b"In-Reply-To: <\x00>\r\n\r\nbody with a \x00 byte\r\n",
    b"From: " + b"x" * 5000 + b"@hoster.example\r\nSubject: long\r\n\r\nhi\r\n",
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/html; '
    b"charset=no-such-charset\r\n\r\n<p>\xff\xfe</p>\r\n--b\r\nContent-Type: image/png\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n--b--\r\n",
    b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered\r\nContent-Type: multipart/report; "
    b'report-type=delivery-status; boundary="q"\r\n\r\n--q\r\nContent-Type: message/delivery-'
    b"status\r\n\r\nFinal-Recipient: rfc822; a\x00@b\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"Diagnostic-Code: smtp; 550 \x00\x07 gone\r\n--q--\r\n",
]


async def test_garbage_and_nul_bytes_are_taken_in(pool: asyncpg.Pool, sent: Sent) -> None:
    for raw in NASTY:
        summary = await take_in(pool, sent.settings, raw)
        assert summary["action"] in ("recorded", "ignored", "rerouted", "duplicate"), summary


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"bounce corpus not found at {CORPUS}")
async def test_every_corpus_mail_is_taken_in(pool: asyncpg.Pool, sent: Sent) -> None:
    kinds: dict[str, int] = {}
    for path in sorted(CORPUS.glob("*.eml")):
        summary = await take_in(pool, sent.settings, path.read_bytes())
        kinds[summary["kind"]] = kinds.get(summary["kind"], 0) + 1
    assert kinds.get("bounce", 0) == 149 and kinds.get("auto_reply", 0) == 6, kinds
