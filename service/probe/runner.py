"""A complete re-check: fetch with our own user agent, look again with browser-like profiles
when the content is not seen (cloaking), and decide. `ProbeResult` is all that leaves the
probe: verdict, hashes, status, hops, timings — never content.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from service.domain.verdicts import ALGORITHMS, Decision, Verdict, Why, combine, decide
from service.probe.fetch import Fetcher, FetchResult
from service.settings import Settings


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of one re-check, as stored and as sent by the remote probe."""

    verdict: Verdict
    reason: str
    matched: str | None = None
    pdq_distance: int | None = None
    status: int | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    hops: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    profile: str = "own"
    why: Why | None = None  # what was seen instead of the content (domain/verdicts.py)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"verdict": self.verdict.value, "why": _value(self.why)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProbeResult:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        why = Why(data["why"]) if data.get("why") in set(Why) else None
        return cls(**(known | {"verdict": Verdict(data["verdict"]), "why": why}))

    def decision(self) -> Decision:
        return Decision(self.verdict, self.reason, self.matched, self.pdq_distance, self.why)

    def with_decision(self, decision: Decision) -> ProbeResult:
        """The same observation re-read (a learned placeholder)."""
        return replace(self, verdict=decision.verdict, reason=decision.reason, why=decision.why)


class Prober(Protocol):
    """Local or remote: checks a URL against the expected hashes (at each of `addresses`
    when given: a host whose records sit in several networks)."""

    async def check(
        self, url: str, expected: Mapping[str, str], *, addresses: Sequence[str] = ()
    ) -> ProbeResult: ...

    def hold(self) -> AbstractAsyncContextManager[object]:
        """Keep shared resources (the HTTP session) open while a job is being handled."""
        ...

    async def close(self) -> None: ...


def algorithms_for(expected: Mapping[str, str], requested: list[str] | None = None) -> set[str]:
    """Compute every algorithm we have a reference for (and any the caller asks for), and
    always sha256: what a host serves instead is learned by it (its placeholder)."""
    wanted = {"sha256"} | {name for name in ALGORITHMS if expected.get(name)}
    return wanted | {name for name in requested or [] if name in ALGORITHMS}


def probe_result_of(fetched: FetchResult, decision: Decision, profile: str) -> ProbeResult:
    hashes = dict(fetched.hashes) | ({"pdq": fetched.pdq} if fetched.pdq else {})
    return ProbeResult(
        verdict=decision.verdict,
        reason=decision.reason if not fetched.detail else f"{decision.reason}: {fetched.detail}",
        matched=decision.matched,
        pdq_distance=decision.pdq_distance,
        status=fetched.status,
        hashes=hashes,
        hops=[{"url": hop.url, "status": hop.status} for hop in fetched.hops],
        timings=fetched.timings,
        profile=profile,
        why=decision.why,
    )


class LocalProbe:
    """Runs the fetch in this process (the bytes pass through this process's memory only)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fetcher = Fetcher(settings)

    async def close(self) -> None:
        await self.fetcher.close()

    def hold(self) -> AbstractAsyncContextManager[object]:
        return self.fetcher.session_lease()

    async def check(
        self,
        url: str,
        expected: Mapping[str, str],
        requested: list[str] | None = None,
        *,
        addresses: Sequence[str] = (),
    ) -> ProbeResult:
        """One check of `url`; with `addresses`, one at each address, combined: the content is
        gone only when no address serves it any more."""
        if not addresses:
            return await self._check_at(url, expected, None, requested)
        results = [await self._check_at(url, expected, a, requested) for a in addresses]
        return across_addresses(list(addresses), results)

    async def _check_at(
        self,
        url: str,
        expected: Mapping[str, str],
        address: str | None,
        requested: list[str] | None = None,
    ) -> ProbeResult:
        algorithms = algorithms_for(expected, requested)
        # PDQ only when no exact hash matched, unless the caller asked for it by name.
        skip_pdq_on = None if "pdq" in (requested or []) else expected
        look = _Look(url, expected, algorithms, skip_pdq_on, address)
        probed = await self._look(look, None, "own")
        if probed.verdict is Verdict.PRESENT or probed.status is None:
            return probed  # seen, or no HTTP answer at all: a user agent changes nothing
        results = [probed]
        for index, agent in enumerate(self.settings.probe_cloak_profiles):
            results.append(await self._look(look, agent, f"profile{index}"))
            if results[-1].verdict is Verdict.PRESENT:
                break
        return _combined(results)

    async def _look(self, look: _Look, agent: str | None, profile: str) -> ProbeResult:
        fetched = await self.fetcher.fetch(
            look.url, look.algorithms, agent, look.skip_pdq_on, look.address
        )
        decision = decide(look.expected, fetched.observation(), self.settings.pdq_threshold)
        return probe_result_of(fetched, decision, profile)


@dataclass(frozen=True)
class _Look:
    """One fetch's parameters, the same for every user-agent profile."""

    url: str
    expected: Mapping[str, str]
    algorithms: set[str]
    skip_pdq_on: Mapping[str, str] | None
    address: str | None


def across_addresses(addresses: list[str], results: list[ProbeResult]) -> ProbeResult:
    """The checks of each address of a host as one: present where any address serves the
    content; gone only when every address is gone; otherwise inconclusive (an address that
    could not be checked may still serve it). The reason names each address's verdict."""
    verdicts = {r.verdict for r in results}
    if Verdict.PRESENT in verdicts:
        chosen = next(r for r in results if r.verdict is Verdict.PRESENT)
    elif verdicts == {Verdict.GONE}:
        chosen = results[0]
    else:
        chosen = next(r for r in results if r.verdict is Verdict.INCONCLUSIVE)
    each = "; ".join(
        f"{a} {r.verdict.value}" + (f" ({r.why.value})" if r.why else "")
        for a, r in zip(addresses, results, strict=True)
    )
    return replace(chosen, reason=f"{chosen.reason} [per address: {each}]"[:300])


def _combined(results: list[ProbeResult]) -> ProbeResult:
    decisions = [r.decision() for r in results]
    chosen = combine(decisions)
    return results[decisions.index(chosen)]


def _value(why: Why | None) -> str | None:
    return why.value if why is not None else None
