"""RDAP over aiohttp: fetch, follow redirects politely, complete entities, parse networks.

Redirects are followed by hand so that each hop to a registry is paced by the RegistryGate
(a bootstrap redirector itself is not a registry and is not paced). Registry failures are
translated once, here: 429/5xx/timeouts/garbage become TransientLookupError (with the
Retry-After), 404 means "no such object" (None), and nothing else leaks out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections import Counter
from collections.abc import Hashable
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp

from service import observability as obs
from service.errors import TransientLookupError
from service.netguard import TargetRefused
from service.resolve.bootstrap import REGISTRIES, Bootstrap, registry_of_url
from service.resolve.politeness import RegistryGate, parse_retry_after

log = logging.getLogger(__name__)
MAX_HOPS = 5
# Only encodings _capped_body can inflate with a bound (no br, zstd).
ACCEPT = {
    "Accept": "application/rdap+json, application/json;q=0.9",
    "Accept-Encoding": "gzip, deflate",
}
_READ_CHUNK = 64 * 1024


def _transient(url: str, label: str, exc: Exception) -> TransientLookupError:
    kind = "timeout" if isinstance(exc, TimeoutError) else "connection"
    obs.RDAP_ERRORS.labels(registry=label, kind=kind).inc()
    return TransientLookupError(f"RDAP {url}: {type(exc).__name__} {exc}")


class RdapClient:
    """Fetches RDAP documents; counts the queries it sent per registry."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        bootstrap: Bootstrap,
        gate: RegistryGate,
        timeout: float,
        concurrency: int = 16,
        max_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        self.session = session
        self.max_bytes = max_bytes
        self.bootstrap = bootstrap
        self.gate = gate
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.queries: Counter[str] = Counter()
        self._slots = asyncio.Semaphore(concurrency)

    async def ip(self, ip: str, ticket: Hashable | None = None) -> dict[str, Any] | None:
        """The network document of `ip`; `ticket` reserves a far registry slot (see
        RegistryGate.acquire)."""
        url = self.bootstrap.ip_url(ip)
        return await self.get(url, ticket) if url else None

    async def domain(self, name: str, ticket: Hashable | None = None) -> dict[str, Any] | None:
        url = self.bootstrap.domain_url(name)
        return await self.get(url, ticket) if url else None

    async def get(self, url: str, ticket: Hashable | None = None) -> dict[str, Any] | None:
        """The document at `url` after redirects; None on 404; transient errors raised."""
        for _hop in range(MAX_HOPS):
            status, location, body = await self._request(url, ticket)
            if location is None:
                return body if status == 200 else None
            url = urljoin(url, location)
        raise TransientLookupError(f"RDAP: too many redirects at {url}")

    async def _request(
        self, url: str, ticket: Hashable | None = None
    ) -> tuple[int, str | None, dict[str, Any] | None]:
        registry = self._registry(url)
        if registry is not None:
            await self.gate.acquire(registry, ticket)
        self.queries[registry or "redirector"] += 1
        label = metric_label(registry)
        async with self._slots:
            with obs.RDAP_LATENCY.labels(registry=label).time():
                try:
                    return await self._send(url, registry)
                except aiohttp.ClientConnectorError as exc:
                    if not isinstance(exc.os_error, TargetRefused):
                        raise _transient(url, label, exc) from exc
                    # A redirect or link to a non-public address: nothing to fetch there,
                    # now or later (the SSRF guard, see service/netguard.py).
                    log.warning("RDAP %s: not fetched, %s", url, exc.os_error)
                    obs.RDAP_ERRORS.labels(registry=label, kind="refused").inc()
                    return 404, None, None
                except (aiohttp.ClientError, TimeoutError) as exc:
                    raise _transient(url, label, exc) from exc

    async def _send(
        self, url: str, registry: str | None
    ) -> tuple[int, str | None, dict[str, Any] | None]:
        async with self.session.get(
            url, allow_redirects=False, timeout=self.timeout, headers=ACCEPT
        ) as resp:
            if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                return resp.status, resp.headers["Location"], None
            if resp.status == 404:
                return 404, None, None
            if resp.status == 429 or resp.status >= 500:
                _count_error(registry, "429" if resp.status == 429 else "5xx")
                raise self._refused(url, registry, resp)
            if resp.status != 200:
                _count_error(registry, "invalid")
                raise TransientLookupError(f"RDAP {url}: HTTP {resp.status}")
            try:
                raw = await _capped_body(resp, url, self.max_bytes, self.session.auto_decompress)
                return 200, None, _json(raw, url)
            except TransientLookupError:
                _count_error(registry, "invalid")
                raise

    def _refused(
        self, url: str, registry: str | None, resp: aiohttp.ClientResponse
    ) -> TransientLookupError:
        header = resp.headers.get("Retry-After")
        if resp.status == 429 or header:
            wait = parse_retry_after(header)
            if registry is not None:
                self.gate.back_off(registry, wait)
            return TransientLookupError(f"RDAP {url}: HTTP {resp.status}", retry_after=wait)
        return TransientLookupError(f"RDAP {url}: HTTP {resp.status}")

    def _registry(self, url: str) -> str | None:
        """The paced registry a URL belongs to; None for the bootstrap redirector itself."""
        redirector = self.bootstrap.redirector
        if (
            redirector
            and _same_base(url, redirector)
            and _first_segment(url, redirector)
            in (
                "ip",
                "domain",
                "autnum",
                "entity",
            )
        ):
            return None
        return registry_of_url(url)


def metric_label(registry: str | None) -> str:
    """A registry as a metric label: an RIR's name, "redirector", or "other" (a TLD's or a
    national registry's server: host names would make the series count open-ended)."""
    if registry is None:
        return "redirector"
    return registry if registry in REGISTRIES else "other"


def _count_error(registry: str | None, kind: str) -> None:
    obs.RDAP_ERRORS.labels(registry=metric_label(registry), kind=kind).inc()


async def _capped_body(
    resp: aiohttp.ClientResponse, url: str, cap: int, decompressed: bool
) -> bytes:
    """The body, inflated here step by step, refused beyond `cap` bytes (a registry's gzip
    answer of 597 KiB once inflated to 1.86 GiB when read whole). The session must not
    decompress (open_resolver: auto_decompress=False), or each chunk is inflated unbounded."""
    if resp.content_length is not None and resp.content_length > cap:
        raise _too_large(url, cap)
    encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    if decompressed or encoding in ("", "identity"):
        inflater = None
    elif encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(47)  # gzip or zlib header, detected
    else:
        raise TransientLookupError(f"RDAP {url}: unsupported content encoding {encoding!r}")
    body = bytearray()
    async for chunk in resp.content.iter_chunked(_READ_CHUNK):
        try:
            body += inflater.decompress(chunk, cap + 1 - len(body)) if inflater else chunk
        except zlib.error as exc:
            raise TransientLookupError(f"RDAP {url}: corrupt compressed answer") from exc
        if len(body) > cap:
            raise _too_large(url, cap)
    return bytes(body)


def _too_large(url: str, cap: int) -> TransientLookupError:
    return TransientLookupError(f"RDAP {url}: answer larger than {cap} bytes")


def _json(raw: bytes, url: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise TransientLookupError(f"RDAP {url}: unreadable answer") from exc
    if not isinstance(doc, dict):
        raise TransientLookupError(f"RDAP {url}: answer is not an object")
    return doc


def _same_base(url: str, base: str) -> bool:
    return urlsplit(url).netloc == urlsplit(base).netloc


def _first_segment(url: str, base: str) -> str:
    path = urlsplit(url).path[len(urlsplit(base).path.rstrip("/")) :]
    return path.strip("/").split("/", 1)[0]
