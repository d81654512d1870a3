"""One re-check fetch: GET (through the probe proxy when set), follow redirects hop by hop,
stream the body through the hashes, drop it.

Limits: total time, body bytes, decoded pixels, header line size and count, redirects,
decompression ratio. Redirects are followed here (`allow_redirects=False`) so that every hop
is recorded and goes through the SSRF guard again. aiohttp errors are translated here, once,
into `Failure` kinds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType

import aiohttp
from yarl import URL

from service.domain.verdicts import EXACT_ALGORITHMS, Failure, Observation
from service.probe.decodes import DecodeGate
from service.probe.digest import BodyDigest, BodyLimit, Limits, decode_cost, pdq_of
from service.probe.guard import (
    AddressGuard,
    DnsResolver,
    GuardedConnector,
    NameNotFound,
    NoAddress,
    TargetRefused,
    endpoint,
    is_ip_literal,
)
from service.probe.login import LoginFormSniffer, is_html
from service.settings import Settings

REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Hop:
    url: str
    status: int


@dataclass
class FetchResult:
    """What one fetch saw. Holds hashes and metadata only, never body bytes."""

    status: int | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    pdq: str | None = None
    pdq_quality: int | None = None
    failure: Failure | None = None
    detail: str = ""
    hops: list[Hop] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    body_bytes: int = 0
    login_form: bool = False

    def observation(self) -> Observation:
        return Observation(
            self.status, self.hashes, self.pdq, self.failure, self.redirected, self.login_form
        )

    @property
    def redirected(self) -> bool:
        """The final answer came from another page (host or path) than the URL asked for;
        http → https of the same page is no move."""
        if len(self.hops) < 2:
            return False
        first, last = URL(self.hops[0].url), URL(self.hops[-1].url)
        return (first.host, first.path) != (last.host, last.path)


@dataclass(frozen=True)
class _Wanted:
    """What a fetch computes: these algorithms; PDQ is skipped when `skip_pdq_on` matched.
    `address`: every request to the URL's own host goes to this one address (a re-check of
    each address of a host whose records sit in several networks)."""

    algorithms: set[str]
    skip_pdq_on: Mapping[str, str] | None
    host: str = ""
    address: str | None = None


class Fetcher:
    """Fetches and hashes URLs; every fetch runs in its own guarded HTTP session."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.guard = AddressGuard(settings.allow_private_targets)
        self.resolver = DnsResolver(settings.dns_nameservers, settings.dns_timeout)
        self.proxy = URL(settings.probe_proxy) if settings.probe_proxy else None
        self.limits = Limits(
            settings.probe_max_bytes,
            settings.probe_max_decompression_ratio,
            settings.probe_max_pixels,
        )
        self.decodes = DecodeGate(
            settings.probe_decode_concurrency, settings.probe_decode_budget_bytes
        )
        self._session: aiohttp.ClientSession | None = None
        self._users = 0

    async def close(self) -> None:
        """Nothing to release: the last fetch in flight closes the shared session."""

    def session_lease(self) -> _SessionLease:
        """One session shared by the fetches in flight (keep-alive pays: about 3x the rate);
        the last one out closes it, so nothing is left open when a worker stops. A caller
        may hold a lease around several fetches (the claim loop holds one while it runs)."""
        return _SessionLease(self)

    def _enter(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = self._new_session()
        self._users += 1
        return self._session

    async def _leave(self, session: aiohttp.ClientSession) -> None:
        self._users -= 1
        if self._users == 0 and self._session is session:
            self._session = None
            await asyncio.shield(session.close())

    def _new_session(self) -> aiohttp.ClientSession:
        """No cookies (a dummy jar); connections are checked by the guard when opened."""
        exempt = endpoint(str(self.proxy)) if self.proxy else set()
        connector = GuardedConnector(self.guard, exempt, resolver=self.resolver, limit=0)
        return aiohttp.ClientSession(
            connector=connector,
            # Our own agent's headers are the session's: a request with them merges nothing.
            headers={
                "User-Agent": self.settings.probe_user_agent,
                "Accept": "*/*",
                "Accept-Encoding": "gzip, deflate",
            },
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            max_line_size=self.settings.probe_max_header_bytes,
            max_field_size=self.settings.probe_max_header_bytes,
            max_headers=self.settings.probe_max_headers,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.settings.probe_timeout),
        )

    async def fetch(
        self,
        url: str,
        algorithms: set[str],
        user_agent: str | None = None,
        expected: Mapping[str, str] | None = None,
        address: str | None = None,
    ) -> FetchResult:
        """GET `url` and hash what it serves; failures come back as `FetchResult.failure`.

        With `expected`, PDQ is computed only when no exact hash matched: an exact match
        already decides "present", and decoding costs about 100x the hashing. With `address`,
        the URL's host is reached at that address only (checked by the same guard)."""
        result = FetchResult()
        wanted = _Wanted(algorithms, expected, (URL(url).host or "").lower(), address)
        started = time.monotonic()
        try:
            async with (
                asyncio.timeout(self.settings.probe_timeout),
                self.session_lease() as session,
            ):
                await self._follow(session, URL(url), wanted, user_agent, result, started)
        except TimeoutError:
            _fail(result, Failure.TIMEOUT, "total time limit")
        except BodyLimit as exc:
            _fail(result, exc.failure, str(exc))
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            _fail(result, *_translate(exc))
        result.timings["total_ms"] = _ms_since(started)
        return result

    async def _follow(
        self,
        session: aiohttp.ClientSession,
        url: URL,
        wanted: _Wanted,
        ua: str | None,
        result: FetchResult,
        started: float,
    ) -> None:
        for _hop in range(self.settings.probe_max_redirects + 1):
            if url.scheme not in ("http", "https") or not url.host:
                raise BodyLimit(Failure.BAD_REDIRECT, "redirect to a non-web URL")
            pin = wanted.address if (url.host or "").lower() == wanted.host else None
            target = await self._check_target(url, pin)
            headers = {} if ua is None else {"User-Agent": ua}  # a cloaking-check profile
            request_url, server_hostname = url, None
            if target is not None and (url.scheme == "https" or pin is not None):
                request_url, server_hostname = _pinned(url, target, headers)
                server_hostname = server_hostname if url.scheme == "https" else None
            async with session.get(
                request_url,
                allow_redirects=False,
                proxy=self.proxy,
                headers=headers or None,
                server_hostname=server_hostname,
            ) as resp:
                result.hops.append(Hop(str(url), resp.status))
                location = resp.headers.get("Location")
                if resp.status in REDIRECTS and location:
                    url = url.join(URL(location))
                    continue
                result.timings["first_byte_ms"] = _ms_since(started)
                self._check_peer(resp)
                await self._read(resp, wanted, result)
                return
        raise BodyLimit(Failure.TOO_MANY_REDIRECTS, "redirect limit reached")

    async def _check_target(self, url: URL, pin: str | None = None) -> str | None:
        """With a proxy the connector never sees the target: resolve and check it here, and
        return the checked address to connect to (None without a proxy or a guard). A pinned
        address is checked and returned whatever the setup (the connector checks it again)."""
        if pin is not None:
            self.guard.check([pin], url.host or "")
            return pin
        if self.proxy is None or self.guard.allow_private:
            return None
        host = url.host or ""
        addresses = (
            [host.strip("[]")] if is_ip_literal(host) else await self.resolver.addresses(host)
        )
        self.guard.check(addresses, host)
        return addresses[0]

    def _check_peer(self, resp: aiohttp.ClientResponse) -> None:
        """Defence in depth: the socket's peer must be allowed (or be the proxy)."""
        if self.proxy is not None or resp.connection is None or resp.connection.transport is None:
            return
        peer = resp.connection.transport.get_extra_info("peername")
        if peer and not self.guard.allows(peer[0]):
            raise TargetRefused("connected to a non-public address")

    async def _read(
        self, resp: aiohttp.ClientResponse, wanted: _Wanted, result: FetchResult
    ) -> None:
        encoding = resp.headers.get("Content-Encoding", "").strip().lower() or None
        if encoding not in (None, "identity", "gzip", "deflate", "x-gzip"):
            raise BodyLimit(Failure.PROTOCOL, "unsupported content encoding")
        encoding = "gzip" if encoding == "x-gzip" else encoding
        sniffer = LoginFormSniffer() if is_html(resp.headers.get("Content-Type", "")) else None
        digest = BodyDigest(
            wanted.algorithms, encoding, self.limits, sniffer.feed if sniffer else None
        )
        # Whatever has arrived, in one piece per read (at most the read buffer, 64 KiB):
        # fewer awaits and checks than fixed-size chunks.
        read = resp.content.readany
        while chunk := await read():
            digest.feed(chunk)
        result.status = resp.status
        result.hashes = digest.hexdigests()
        result.body_bytes = digest.body_bytes
        result.login_form = sniffer is not None and sniffer.found
        image = digest.take_image()
        if image is not None and not _exact_match(wanted.skip_pdq_on, result.hashes):
            pdq = await self._pdq(image)
            del image  # the only copy of content bytes: gone before anything is recorded
            result.pdq, result.pdq_quality = pdq if pdq else (None, None)

    async def _pdq(self, image: bytes) -> tuple[str, int] | None:
        """PDQ off the event loop, once the decode fits the gate (count and memory)."""
        cost = decode_cost(image, self.limits.max_pixels)
        if cost is None:
            return None
        async with self.decodes.reserve(cost):
            return await asyncio.to_thread(pdq_of, image, self.limits.max_pixels)


class _SessionLease:
    """`Fetcher.session_lease()`: a plain class, cheaper per fetch than a generator-based one."""

    def __init__(self, fetcher: Fetcher) -> None:
        self._fetcher = fetcher
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> aiohttp.ClientSession:
        self._session = self._fetcher._enter()
        return self._session

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        await self._fetcher._leave(self._session)


def _pinned(url: URL, address: str, headers: dict[str, str]) -> tuple[URL, str]:
    """An https request through the proxy goes to the address we checked: the proxy is asked
    to CONNECT to the IP literal, so a name answering differently for the proxy's own lookup
    (DNS rebinding) cannot move the request to another host. Inside the tunnel TLS still
    sends SNI and checks the certificate for the name, and Host names it, so the origin sees
    the same request as before. (Plain http cannot be pinned this way; see guard.py.)

    A re-check of one address of a host (`Fetcher.fetch(address=…)`) pins plain http too:
    without a proxy the connection is opened to the address and Host names the host; through
    a proxy the request names the address (`GET http://[2001:db8::1]/f.jpg`, Host: the
    name), so the proxy must pass Host on as sent (an https URL needs nothing of the kind)."""
    host = url.host or ""
    headers["Host"] = host if url.is_default_port() else f"{host}:{url.port}"
    return url.with_host(address), host.rstrip(".")


def _exact_match(expected: Mapping[str, str] | None, hashes: Mapping[str, str]) -> bool:
    if not expected:
        return False
    return any(
        (want := expected.get(name)) and want.lower() == hashes.get(name)
        for name in EXACT_ALGORITHMS
    )


def _fail(result: FetchResult, failure: Failure, detail: str) -> None:
    result.failure = failure
    result.detail = detail
    result.status = None


def _translate(exc: BaseException) -> tuple[Failure, str]:
    """aiohttp/socket errors → Failure kinds (only NXDOMAIN will count as gone)."""
    cause = getattr(exc, "os_error", None) or exc
    if isinstance(cause, NameNotFound):
        return Failure.NXDOMAIN, str(cause)
    if isinstance(cause, TargetRefused):
        return Failure.REFUSED_TARGET, str(cause)
    if isinstance(cause, NoAddress):
        return Failure.NO_ADDRESS, str(cause)
    return _translate_transport(exc), type(exc).__name__


def _translate_transport(exc: BaseException) -> Failure:
    if isinstance(exc, aiohttp.ClientSSLError):
        return Failure.TLS
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return Failure.TIMEOUT
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Failure.CONNECT
    if isinstance(exc, aiohttp.ClientResponseError):
        return Failure.HEADERS  # the response head could not be parsed (too large, malformed)
    if isinstance(exc, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | OSError):
        return Failure.RESET
    return Failure.PROTOCOL


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 1)
