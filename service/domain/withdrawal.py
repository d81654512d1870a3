"""Withdrawals: the hotline takes reports back. Pure rules and words.

A case is withdrawn when an analyst confirms a hoster's dispute, or when a supervisor
withdraws a hash (every case carrying it stops, later reports of it are refused), or when the
scanner that reported a case takes it back (`SCANNER_WITHDRAWN`). The scanner
learns *that* and why in a fixed word (`DISPUTE_CONFIRMED`, `HASH_WITHDRAWN`); the
supervisor's free-text reason goes to the reporting scanner only as the answer to a new
report of the withdrawn hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.domain.reports import HASH_LENGTHS

DISPUTE_CONFIRMED = "dispute_confirmed"
HASH_WITHDRAWN = "hash_withdrawn"
SCANNER_WITHDRAWN = "scanner_withdrawn"  # the reporting scanner took its report back
_SPEC = re.compile(r"^(sha256|sha1|md5|pdq):([0-9a-f]+)$")


class InvalidHashSpec(ValueError):
    """Not `algorithm:hex` with a known algorithm and the right length."""


@dataclass(frozen=True)
class HashSpec:
    """One content hash, e.g. sha256:9f86d0…"""

    algorithm: str
    digest: str

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.digest}"


def parse_hash_spec(text: str) -> HashSpec:
    """`sha256:<64 hex>` (also sha1, md5, pdq), case-insensitive, surrounding blanks ignored."""
    match = _SPEC.fullmatch(text.strip().lower())
    if match is None:
        raise InvalidHashSpec(
            f"{text.strip()[:80]!r} is not ALGORITHM:HEX (sha256, sha1, md5 or pdq)"
        )
    algorithm, digest = match.groups()
    if len(digest) != HASH_LENGTHS[algorithm]:
        raise InvalidHashSpec(
            f"a {algorithm} hash has {HASH_LENGTHS[algorithm]} hex digits, not {len(digest)}"
        )
    return HashSpec(algorithm, digest)


def clean_reason(text: str, limit: int = 2000) -> str:
    """A reason as stored: control characters blanked, whitespace collapsed, bounded."""
    visible = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text)
    return " ".join(visible.split())[:limit]
