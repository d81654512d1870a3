"""A reply can carry the very material: no byte of an attachment may reach the database, the
logs or any file. A sentinel is sent as attachments (binary, an inline image, a text file, one
inside a forwarded message) through the real `takedown -vv mail-in` process, over LMTP and from
a real IMAP mailbox, and then searched for everywhere it could have gone."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import smtplib
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import asyncpg
import pytest

from tests.integration.mail.conftest import Sent, mail
from tests.integration.mail.dovecot import (
    PASSWORD,
    USER,
    Dovecot,
    requires_dovecot,
    running_dovecot,
)

TOKEN = "SENTINEL" + secrets.token_hex(16)
CONTENT = (TOKEN + "\n").encode() * 64


def forms() -> list[bytes]:
    """Every form in which the attachment could show up: as is, and base64 from its start
    (the transfer encoding), and the hex of its bytes."""
    return [TOKEN.encode(), base64.b64encode(CONTENT[:48]), CONTENT[:24].hex().encode()]


def reply(sent: Sent) -> EmailMessage:
    message = mail("Removed. See the attachments.", In_Reply_To=sent.message_id,
                   Message_ID="<sentinel-reply@hoster.example>")  # fmt: skip
    message.add_attachment(CONTENT, maintype="application", subtype="octet-stream",
                           filename=f"{TOKEN}.bin")  # fmt: skip
    message.add_attachment(CONTENT, maintype="image", subtype="png", disposition="inline")
    message.add_attachment(CONTENT.decode(), subtype="plain", filename="notes.txt")
    forwarded = EmailMessage()
    forwarded["Subject"] = "the file"
    forwarded.set_content("forwarded")
    forwarded.add_attachment(CONTENT, maintype="image", subtype="jpeg", filename="x.jpg")
    message.add_attachment(forwarded)
    return message


def env(db_url: str, folder: Path, sent: Sent) -> dict[str, str]:
    return {
        **os.environ,
        "TAKEDOWN_DATABASE_URL": db_url,
        "TAKEDOWN_VERP_DOMAIN": str(sent.settings.verp_domain),
        "TAKEDOWN_VERP_SECRET": "mail-in-tests",
        "HOME": str(folder),
        "TMPDIR": str(folder),
    }


async def _run_lmtp(db_url: str, folder: Path, sent: Sent) -> bytes:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "-vv", "mail-in", "--lmtp", "127.0.0.1:0",
        env=env(db_url, folder, sent), cwd=folder,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None and process.stdout is not None
    logs = b""
    async with asyncio.timeout(60):
        while b"LMTP on" not in logs:
            line = await process.stderr.readline()
            assert line, logs.decode(errors="replace")
            logs += line
    port = int(logs.split(b"LMTP on 127.0.0.1:")[1].split()[0])

    def hand_over() -> None:
        with smtplib.LMTP("127.0.0.1", port, timeout=10) as client:
            client.sendmail(
                "jane@hoster.example", ["desk@hotline.example"], reply(sent).as_bytes(policy=SMTP)
            )

    await asyncio.to_thread(hand_over)
    process.send_signal(signal.SIGTERM)
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    return logs + out + err


async def _run_imap(db_url: str, folder: Path, sent: Sent, dovecot: Dovecot) -> bytes:
    await asyncio.to_thread(dovecot.append, reply(sent).as_bytes())
    imap = {"TAKEDOWN_IMAP_HOST": "127.0.0.1", "TAKEDOWN_IMAP_PORT": str(dovecot.imap_port),
            "TAKEDOWN_IMAP_TLS": "none", "TAKEDOWN_IMAP_USERNAME": USER,
            "TAKEDOWN_IMAP_PASSWORD": PASSWORD}  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "-vv", "mail-in", "--once",
        env=env(db_url, folder, sent) | imap, cwd=folder,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode(errors="replace")
    assert await asyncio.to_thread(dovecot.count, "Processed") == 1
    return out + err


async def _database_text(pool: asyncpg.Pool) -> bytes:
    """Every row of every table, as text."""
    async with pool.acquire() as conn:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        texts = [
            await conn.fetchval(
                f"SELECT coalesce(string_agg(t::text, E'\\n'), '') FROM \"{t['tablename']}\" t"
            )
            for t in tables
        ]
    return "\n".join(texts).encode()


def _files_written_since(start: float, roots: list[Path], skip: Path | None) -> Iterator[Path]:
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            if skip is not None and Path(dirpath).is_relative_to(skip):
                continue
            for name in files:
                path = Path(dirpath) / name
                try:
                    if (
                        path.is_file()
                        and path.stat().st_mtime >= start
                        and path.stat().st_size < 64 << 20
                    ):
                        yield path
                except OSError:
                    continue  # gone meanwhile (another process's temporary file)


@pytest.mark.parametrize("transport", ["lmtp", pytest.param("imap", marks=requires_dovecot())])
async def test_no_attachment_byte_reaches_the_database_the_logs_or_a_file(
    pool: asyncpg.Pool, db_url: str, sent: Sent, tmp_path: Path, transport: str
) -> None:
    start = time.time() - 1
    folder = tmp_path / "home"
    folder.mkdir()
    dovecot_folder = None
    if transport == "lmtp":
        logs = await _run_lmtp(db_url, folder, sent)
    else:
        with running_dovecot() as dovecot:
            dovecot_folder = dovecot.folder  # the mailbox itself holds the mail: not ours
            logs = await _run_imap(db_url, folder, sent, dovecot)
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT kind, attachments, body_text FROM inbound_mail")
    # the reply was taken in, its attachments recorded by type, size and hash only
    assert row["kind"] == "reply" and "Removed. See the attachments." in row["body_text"]
    assert sorted(a["media_type"] for a in row["attachments"]) == [
        "application/octet-stream", "image/jpeg", "image/png", "text/plain"]  # fmt: skip
    # (the text file travels with CRLF line ends: one more byte per line)
    assert {a["size"] for a in row["attachments"]} <= {len(CONTENT), len(CONTENT) + 64}
    assert b"DEBUG" in logs  # -vv really logged at debug level
    database = await _database_text(pool)
    files = list(_files_written_since(start, [folder, Path(os.environ.get("TMPDIR", "/tmp"))],
                                      dovecot_folder))  # fmt: skip
    for form in forms():
        assert form not in logs, "an attachment reached the logs"
        assert form not in database, "an attachment reached the database"
    for path in files:
        content = _read(path)
        assert not any(form in content for form in forms()), f"an attachment reached {path}"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # another process's temporary file, gone since it was listed
        return b""
