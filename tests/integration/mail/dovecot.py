"""A real Dovecot (Debian's dovecot-imapd) for the mailbox tests: its own generated config in a
temporary folder, IMAP and LMTP on free loopback ports, one user, started in the foreground as
a process of its own and stopped by its pid. Nothing of the system's Dovecot is used or
touched (its own base_dir, state_dir, instance name and log file)."""

from __future__ import annotations

import imaplib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

DOVECOT = shutil.which("dovecot") or (
    "/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None
)
USER, PASSWORD = "hotline", "mailbox-secret"


def requires_dovecot() -> pytest.MarkDecorator:
    """Skip without Dovecot on a developer's machine, never in CI: `.ci/run` installs it, so a
    missing one there is a failure to see, not a silent skip."""
    missing = DOVECOT is None and os.environ.get("CI", "").lower() != "true"
    return pytest.mark.skipif(
        missing, reason="dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
    )


@dataclass
class Dovecot:
    folder: Path
    imap_port: int
    lmtp_port: int
    process: subprocess.Popen[bytes]
    imaps_port: int = 0  # with TLS: IMAP over TLS (IMAP on imap_port then offers STARTTLS)

    @property
    def certificate(self) -> Path:
        """The self-signed certificate (for localhost) a client must trust, with TLS."""
        return self.folder / "cert.pem"

    def imap(self) -> imaplib.IMAP4:
        """A plain client of the test user (to put mail in and look at folders)."""
        client = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=10)
        client.login(USER, PASSWORD)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.imap()
        try:
            status, _ = client.append(folder, "", imaplib.Time2Internaldate(time.time()), raw)
            assert status == "OK"
        finally:
            client.logout()

    def count(self, folder: str) -> int:
        client = self.imap()
        try:
            status, data = client.select(folder, readonly=True)
            return int(data[0]) if status == "OK" and data[0] else 0
        finally:
            client.logout()

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tls(folder: Path) -> str:
    """A self-signed certificate for localhost (openssl comes with dovecot-core's ssl-cert)."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem"),
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return f"ssl = yes\nssl_cert = <{folder}/cert.pem\nssl_key = <{folder}/key.pem\n"


def _config(folder: Path, imap_port: int, lmtp_port: int, imaps_port: int, tls: str) -> str:
    nobody = 65534
    return f"""
instance_name = takedown-test-{imap_port}
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
{tls or "ssl = no"}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{folder}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={nobody} gid={nobody} home={folder}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0600
  }}
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
protocol lmtp {{
  auth_username_format = %n
}}
"""


def _wait_listening(port: int, process: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = (
                (folder / "dovecot.log").read_text(errors="replace")
                if (folder / "dovecot.log").exists()
                else ""
            )
            raise RuntimeError(f"dovecot exited with {process.returncode}: {log[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)  # polling a port that is not up yet: no event to wait on
    raise RuntimeError("dovecot did not start listening")


@contextmanager
def running_dovecot(*, tls: bool = False) -> Iterator[Dovecot]:
    if DOVECOT is None:
        pytest.fail("dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)")
    folder = Path(tempfile.mkdtemp(prefix="takedown-dovecot-"))
    folder.chmod(0o755)  # the mail user (nobody) must reach its maildir
    (folder / "mail").mkdir(mode=0o777)
    (folder / "mail").chmod(0o777)
    (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    imap_port, lmtp_port = _free_port(), _free_port()
    imaps_port = _free_port() if tls else 0
    config = folder / "dovecot.conf"
    config.write_text(
        _config(folder, imap_port, lmtp_port, imaps_port, _tls(folder) if tls else "")
    )
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_listening(imap_port, process, folder)
        _wait_listening(lmtp_port, process, folder)
        if tls:
            _wait_listening(imaps_port, process, folder)
        yield Dovecot(folder, imap_port, lmtp_port, process, imaps_port)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(folder, ignore_errors=True)
