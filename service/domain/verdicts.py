"""What a re-check concludes (design.md §3), decided from hashes of the bytes served.

Pure: the probe hands in an `Observation` (status, hashes of the decoded body, PDQ, or the
reason nothing could be fetched) and `decide` returns present / gone / inconclusive. A
hash match wins over any status code: a 404 that still serves the file is *present*.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

EXACT_ALGORITHMS = ("sha256", "sha1", "md5")
ALGORITHMS = (*EXACT_ALGORITHMS, "pdq")
GONE_STATUSES = frozenset({404, 410, 451})
# 401/403/407/429 may be cloaking or rate limiting; 408/425 are transport trouble.
SUSPECT_STATUSES = frozenset({401, 403, 407, 408, 425, 429})


class Verdict(StrEnum):
    PRESENT = "present"
    GONE = "gone"
    INCONCLUSIVE = "inconclusive"


class Failure(StrEnum):
    """Why no complete response could be hashed. Only NXDOMAIN proves anything."""

    NXDOMAIN = "nxdomain"
    NO_ADDRESS = "no_address"
    TIMEOUT = "timeout"
    CONNECT = "connect"
    RESET = "reset"
    TLS = "tls"
    REFUSED_TARGET = "refused_target"  # SSRF guard: the address is not a public one
    TOO_LARGE = "too_large"
    TOO_MANY_PIXELS = "too_many_pixels"
    DECOMPRESSION = "decompression"  # ratio cap (gzip bomb) or a corrupt stream
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_REDIRECT = "bad_redirect"
    HEADERS = "headers"  # header section too large or malformed
    PROTOCOL = "protocol"
    REMOTE_PROBE = "remote_probe"


GONE_FAILURES = frozenset({Failure.NXDOMAIN})


@dataclass(frozen=True)
class Observation:
    """What one fetch saw: final status and hashes of the decoded body, or a failure."""

    status: int | None = None
    hashes: Mapping[str, str] = field(default_factory=dict)
    pdq: str | None = None
    failure: Failure | None = None


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    matched: str | None = None
    pdq_distance: int | None = None


def pdq_distance(a: str, b: str) -> int:
    """Hamming distance between two 256-bit PDQ hashes in hex."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def match(expected: Mapping[str, str], obs: Observation, threshold: int) -> Decision | None:
    """A present decision if any exact hash is equal or PDQ is within `threshold`."""
    for name in EXACT_ALGORITHMS:
        want, got = expected.get(name), obs.hashes.get(name)
        if want and got and want.lower() == got.lower():
            return Decision(Verdict.PRESENT, f"{name} match", matched=name)
    want_pdq = expected.get("pdq")
    if want_pdq and obs.pdq:
        distance = pdq_distance(want_pdq, obs.pdq)
        if distance <= threshold:
            return Decision(Verdict.PRESENT, "pdq match", "pdq", pdq_distance=distance)
    return None


def decide(expected: Mapping[str, str], obs: Observation, threshold: int) -> Decision:
    """present / gone / inconclusive for one observation (design.md §3)."""
    if obs.failure is not None:
        verdict = Verdict.GONE if obs.failure in GONE_FAILURES else Verdict.INCONCLUSIVE
        return Decision(verdict, obs.failure.value)
    found = match(expected, obs, threshold)
    if found is not None:
        return found
    distance = pdq_distance(expected["pdq"], obs.pdq) if expected.get("pdq") and obs.pdq else None
    return _by_status(obs.status, distance)


def _by_status(status: int | None, distance: int | None) -> Decision:
    if status is None:
        return Decision(Verdict.INCONCLUSIVE, "no status", pdq_distance=distance)
    if status in GONE_STATUSES:
        return Decision(Verdict.GONE, f"status {status}", pdq_distance=distance)
    if status in SUSPECT_STATUSES or status >= 500 or 300 <= status < 400:
        return Decision(Verdict.INCONCLUSIVE, f"status {status}", pdq_distance=distance)
    if 200 <= status < 300:
        # Something was served and none of its hashes is ours: placeholder, soft 404, other image.
        what = "another image" if distance is not None else "other content"
        return Decision(Verdict.GONE, f"{what} served", pdq_distance=distance)
    return Decision(Verdict.INCONCLUSIVE, f"status {status}", pdq_distance=distance)


def combine(decisions: list[Decision]) -> Decision:
    """Several profiles looked (cloaking check): any present wins, then any gone."""
    for wanted in (Verdict.PRESENT, Verdict.GONE):
        for decision in decisions:
            if decision.verdict is wanted:
                return decision
    return decisions[-1]
