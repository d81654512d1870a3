"""Analyst password hashing: argon2id with OWASP's current parameters; old scrypt still read.

New hashes are argon2id (argon2-cffi, PHC string `$argon2id$v=19$m=…,t=…,p=…$salt$hash`)
with the OWASP Password Storage Cheat Sheet's first recommended set: 19 MiB of memory,
2 iterations, 1 lane. Hashes from before (`scrypt$n$r$p$salt_hex$key_hex`, N=2^14) are
still verified and reported as needing a rehash, which the login does with the password it
just checked. `verify` is CPU work of tens of milliseconds: callers run it off the event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_SCRYPT_MAXMEM = 64 * 1024 * 1024


class WeakPassword(ValueError):
    """A password too short to protect a hotline account."""


@dataclass(frozen=True)
class Verified:
    """The outcome of a check: right or not, and whether the stored hash is outdated."""

    ok: bool
    needs_rehash: bool = False


def hash_password(password: str) -> str:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    return _HASHER.hash(password)


def rehash(password: str) -> str:
    """A current hash of a password that was just verified (no length rule: it is in use)."""
    return _HASHER.hash(password)


def verify(password: str, stored: str | None) -> Verified:
    """Check `password` against `stored`; with None (no such user) the same work is done
    against a dummy hash and the answer is no, so timing does not tell who exists."""
    if stored is None:
        _verify_argon2(password, dummy_hash())
        return Verified(ok=False)
    if stored.startswith("scrypt$"):
        return Verified(ok=_verify_scrypt(password, stored), needs_rehash=True)
    ok = _verify_argon2(password, stored)
    return Verified(ok=ok, needs_rehash=ok and _HASHER.check_needs_rehash(stored))


def verify_password(password: str, stored: str) -> bool:
    return verify(password, stored).ok


@cache
def dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(24))


def _verify_argon2(password: str, stored: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _verify_scrypt(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_hex, key_hex = stored.split("$")
        key = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt_hex),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_SCRYPT_MAXMEM,
            dklen=len(key_hex) // 2,
        )
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(key, bytes.fromhex(key_hex))


def scrypt_hash(password: str, n: int = 2**14) -> str:
    """The old format (for tests of the rehash at login)."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=8, p=1, maxmem=_SCRYPT_MAXMEM, dklen=32
    )
    return f"scrypt${n}$8$1${salt.hex()}${key.hex()}"
