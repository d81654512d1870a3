"""Time-based one-time passwords (RFC 6238, via pyotp) and one-time recovery codes.

Codes are 6 digits over 30-second steps, HMAC-SHA1: what every authenticator app speaks.
One step either side is accepted (clock drift); the caller records the step it accepted
so that the same code is never accepted twice. Recovery codes are random, shown once, and
stored only as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp

STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def new_secret() -> str:
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=issuer)


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code is `code` (within the drift window), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    step = int(at.timestamp()) // STEP_SECONDS
    for candidate in range(step - DRIFT_STEPS, step + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


def recovery_codes() -> list[str]:
    """Fresh codes like `k3mf-9qzt-w7pe` (about 71 bits each)."""
    return [
        "-".join("".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(4)) for _ in range(3))
        for _ in range(RECOVERY_CODES)
    ]


def recovery_digest(code: str) -> bytes:
    normal = code.strip().lower().replace(" ", "").replace("-", "")
    return hashlib.sha256(normal.encode()).digest()


def looks_like_recovery_code(code: str) -> bool:
    return len(code.strip().replace("-", "").replace(" ", "")) == 12
