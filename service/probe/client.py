"""The tracker's side of a remote probe: with `TAKEDOWN_PROBE_URL` set, checks run in another
process (another network, another region) and only hashes and metadata come back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext

import aiohttp

from service.errors import TransientLookupError
from service.probe.runner import LocalProbe, Prober, ProbeResult, algorithms_for
from service.settings import Settings


class RemoteProbe:
    """Calls `POST {probe_url}/probe` with the shared probe token."""

    def __init__(self, settings: Settings) -> None:
        assert settings.probe_url is not None
        self.endpoint = settings.probe_url.rstrip("/") + "/probe"
        token = settings.probe_token.get_secret_value() if settings.probe_token else ""
        self.headers = {"Authorization": f"Bearer {token}"}
        # The remote probe has its own total time limit; allow for it plus the round trip.
        self.timeout = aiohttp.ClientTimeout(total=settings.probe_timeout * 3 + 10)

    async def close(self) -> None:
        """Nothing to release: one short-lived session per call."""

    def hold(self) -> AbstractAsyncContextManager[object]:
        return nullcontext()

    async def check(
        self, url: str, expected: Mapping[str, str], *, addresses: Sequence[str] = ()
    ) -> ProbeResult:
        body = {
            "url": url,
            "expected": dict(expected),
            # PDQ is not named: the probe computes it anyway when an exact hash fails to match.
            "algorithms": sorted(algorithms_for(expected) - {"pdq"}),
        } | ({"addresses": list(addresses)} if addresses else {})
        try:
            async with (
                aiohttp.ClientSession(timeout=self.timeout) as session,
                session.post(self.endpoint, json=body, headers=self.headers) as resp,
            ):
                if resp.status != 200:
                    raise TransientLookupError(f"remote probe answered {resp.status}", 60)
                return ProbeResult.from_json(await resp.json())
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
            raise TransientLookupError(f"remote probe failed: {type(exc).__name__}") from exc


def make_prober(settings: Settings) -> Prober:
    """The remote probe when `probe_url` is set, else the in-process one."""
    if settings.probe_url:
        return RemoteProbe(settings)
    return LocalProbe(settings)
