"""A DNS server on loopback, UDP and TCP on one port, answering from a world.

Faults are injected at runtime per name (a name also covers everything below it) or
globally with "*": `timeout` drops the query (the client sees a timeout, as with a dead
server), `servfail` answers SERVFAIL. A rule may apply to the next `count` queries only.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import Counter
from dataclasses import dataclass
from typing import Literal, cast

from dnslib import EDNS0, QTYPE, RCODE, DNSRecord

from service.sim.dnszone import CymruOrigin, ZoneData, Zones
from service.sim.world import World

log = logging.getLogger(__name__)
DnsFaultKind = Literal["timeout", "servfail"]


@dataclass
class _Rule:
    kind: DnsFaultKind
    remaining: int | None


class DnsFaults:
    """Runtime fault rules, keyed by name ("*" = every query)."""

    def __init__(self) -> None:
        self._rules: dict[str, _Rule] = {}

    def set(
        self, name: str = "*", kind: DnsFaultKind = "timeout", count: int | None = None
    ) -> None:
        self._rules[name.lower().rstrip(".")] = _Rule(kind, count)

    def clear(self, name: str | None = None) -> None:
        if name is None:
            self._rules.clear()
        else:
            self._rules.pop(name.lower().rstrip("."), None)

    def take(self, qname: str) -> DnsFaultKind | None:
        """The fault for this query, consuming one use of a counted rule."""
        name = qname.lower().rstrip(".")
        for key, rule in list(self._rules.items()):
            if key == "*" or name == key or name.endswith("." + key):
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        del self._rules[key]
                return rule.kind
        return None


class DnsServer:
    """Authoritative-for-everything DNS server of the simulated internet."""

    def __init__(
        self,
        world: World,
        zones: Zones | None = None,
        extra_origins: list[CymruOrigin] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self.data = ZoneData(world, zones or Zones(), extra_origins or [])
        self.faults = DnsFaults()
        self.queries: Counter[str] = Counter()  # by "UDP"/"TCP" and by qtype
        self.host = host
        self.port = 0
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._conns: dict[asyncio.StreamReader, asyncio.Task[None]] = {}

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # [::1]:5353
        return f"{host}:{self.port}"

    async def start(self, port: int = 0) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(20):  # the UDP port picked by the OS may be taken for TCP: retry
            self._udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self.host, port)
            )
            self.port = self._udp.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port)
                log.info("sim dns listening on %s (udp+tcp)", self.address)
                return
            except OSError:
                self._udp.close()
                if port:
                    raise
        raise OSError("no free port for DNS on both UDP and TCP")

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            # Idle TCP clients would keep their handlers waiting: end their reads, then
            # let the handlers finish normally before the loop goes away.
            for reader in self._conns:
                reader.feed_eof()
            await asyncio.gather(*self._conns.values(), return_exceptions=True)
            await self._tcp.wait_closed()

    def respond(self, data: bytes, transport: str) -> bytes | None:
        """The wire answer to a wire query; None means "drop it" (timeout fault)."""
        try:
            request = DNSRecord.parse(data)
        except Exception:  # a garbled packet is dropped, like a real server would
            log.warning("sim dns: unparsable query dropped")
            return None
        qname, qtype = str(request.q.qname), QTYPE.get(request.q.qtype)
        self.queries[transport] += 1
        self.queries[str(qtype)] += 1
        fault = self.faults.take(qname)
        if fault == "timeout":
            return None
        reply = request.reply()
        if fault == "servfail":
            reply.header.rcode = RCODE.SERVFAIL
            return reply.pack()
        rcode, answers, authority = self.data.answer(qname, str(qtype))
        reply.header.rcode = rcode
        for rr in answers:
            reply.add_answer(rr)
        for rr in authority:
            reply.add_auth(rr)
        return self._sized(request, reply, transport)

    def _sized(self, request: DNSRecord, reply: DNSRecord, transport: str) -> bytes:
        limit = 65535 if transport == "TCP" else _udp_limit(request)
        if limit > 512:
            reply.add_ar(EDNS0(udp_len=limit))
        packed = reply.pack()
        if len(packed) <= limit:
            return packed
        # Too big for UDP: empty answer with TC set, the client retries over TCP.
        truncated = request.reply()
        truncated.header.tc = 1
        truncated.header.rcode = reply.header.rcode
        return truncated.pack()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns[reader] = task
        try:
            while True:
                size = struct.unpack("!H", await reader.readexactly(2))[0]
                answer = self.respond(await reader.readexactly(size), "TCP")
                if answer is None:
                    continue  # a timeout fault: keep the connection, send nothing
                writer.write(struct.pack("!H", len(answer)) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._conns.pop(reader, None)
            writer.close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        answer = self.server.respond(data, "UDP")
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


def _udp_limit(request: DNSRecord) -> int:
    for rr in request.ar:
        if rr.rtype == QTYPE.OPT:
            return max(512, min(int(rr.rclass), 4096))
    return 512
