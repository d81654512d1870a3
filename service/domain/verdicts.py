"""What a re-check concludes (design.md §3), decided from hashes of the bytes served.

Pure: the probe hands in an `Observation` (status, hashes of the decoded body, PDQ, or the
reason nothing could be fetched) and `decide` returns present / gone / inconclusive. A
hash match wins over any status code: a 404 that still serves the file is *present*.

Besides the verdict a decision says *what was seen* (`Why`) whenever something other than
the content answered, so that statistics can tell a removal from a page that hides it.
Which of them count as removal, and why, is written down in docs/verdicts.md.
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


class Why(StrEnum):
    """What was seen instead of the content (docs/verdicts.md)."""

    HTTP_GONE = "http_gone"  # 404 / 410 / 451
    DNS_GONE = "dns_gone"  # NXDOMAIN
    PLACEHOLDER = "placeholder"  # the host's learned "removed" bytes (service/usecases/verdicts.py)
    REDIRECTED_AWAY = "redirected_away"  # a redirect to another page that serves something else
    LOGIN_WALL = "login_wall"  # a form (or 401) asking for credentials: hidden, maybe only from us
    OTHER_CONTENT = "other_content"  # a soft 404, another image, any other page


# A login wall may hide the file from the prober alone (a file host that asks anonymous
# visitors to sign in): it never counts toward a removal. Every other reason does.
REMOVAL_WHYS = frozenset(set(Why) - {Why.LOGIN_WALL})
# A host needs to serve the same bytes for this many removed URLs before they are its placeholder.
PLACEHOLDER_MIN_URLS = 2


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
    redirected: bool = False  # the answer came from another page than the one asked for
    login_form: bool = False  # the page served asks for a password


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: str
    matched: str | None = None
    pdq_distance: int | None = None
    why: Why | None = None


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
        if obs.failure in GONE_FAILURES:
            return Decision(Verdict.GONE, obs.failure.value, why=Why.DNS_GONE)
        return Decision(Verdict.INCONCLUSIVE, obs.failure.value)
    found = match(expected, obs, threshold)
    if found is not None:
        return found
    distance = pdq_distance(expected["pdq"], obs.pdq) if expected.get("pdq") and obs.pdq else None
    return _by_status(obs, distance)


def _by_status(obs: Observation, distance: int | None) -> Decision:
    status = obs.status
    if status is None:
        return Decision(Verdict.INCONCLUSIVE, "no status", pdq_distance=distance)
    if status in GONE_STATUSES:
        return Decision(Verdict.GONE, f"status {status}", pdq_distance=distance, why=Why.HTTP_GONE)
    if status == 401 or (obs.login_form and 200 <= status < 300):
        return Decision(
            Verdict.INCONCLUSIVE, "login wall", pdq_distance=distance, why=Why.LOGIN_WALL
        )
    if status in SUSPECT_STATUSES or status >= 500 or 300 <= status < 400:
        return Decision(Verdict.INCONCLUSIVE, f"status {status}", pdq_distance=distance)
    if 200 <= status < 300:
        return _served_else(obs, distance)
    return Decision(Verdict.INCONCLUSIVE, f"status {status}", pdq_distance=distance)


def _served_else(obs: Observation, distance: int | None) -> Decision:
    """Something was served and none of its hashes is ours: soft 404, other image, front page."""
    if obs.redirected:
        return Decision(
            Verdict.GONE, "redirected away", pdq_distance=distance, why=Why.REDIRECTED_AWAY
        )
    what = "another image" if distance is not None else "other content"
    return Decision(Verdict.GONE, f"{what} served", pdq_distance=distance, why=Why.OTHER_CONTENT)


def as_placeholder(decision: Decision) -> Decision:
    """`decision` re-read once the bytes served are known as the host's placeholder."""
    if decision.why is not Why.OTHER_CONTENT:
        return decision
    return Decision(
        Verdict.GONE, "the host's placeholder served", decision.matched, decision.pdq_distance,
        why=Why.PLACEHOLDER,
    )  # fmt: skip


def combine(decisions: list[Decision]) -> Decision:
    """Several profiles looked (cloaking check): any present wins, then any gone."""
    for wanted in (Verdict.PRESENT, Verdict.GONE):
        for decision in decisions:
            if decision.verdict is wanted:
                return decision
    return decisions[-1]
