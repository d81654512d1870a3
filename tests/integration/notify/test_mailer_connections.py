"""The mailer keeps SMTP connections for later notices and replaces ones the server dropped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from service.notify.mailer import DeliveryRefused, Mailer
from service.settings import Settings


class Counting:
    def __init__(self) -> None:
        self.connections = 0
        self.accepted: list[str] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.accepted.extend(envelope.rcpt_tos)
        return "250 2.0.0 queued"


@pytest.fixture
async def relay() -> AsyncIterator[tuple[Counting, asyncio.Server, int]]:
    handler = Counting()

    def factory() -> SMTP:
        handler.connections += 1
        return SMTP(handler, hostname="relay.test")

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield handler, server, port
    server.close()


def _message(n: int) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"notice {n}"
    message.set_content("text")
    return message


async def test_many_notices_share_a_few_connections(
    relay: tuple[Counting, asyncio.Server, int],
) -> None:
    handler, _server, port = relay
    mailer = Mailer(Settings(smtp_host="127.0.0.1", smtp_port=port), keep=4)
    senders = asyncio.Semaphore(4)  # a notify worker with concurrency 4

    async def send(n: int) -> None:
        async with senders:
            await mailer.send(_message(n), f"abuse{n}@host.test")

    await asyncio.gather(*(send(n) for n in range(40)))
    await mailer.aclose()
    assert len(handler.accepted) == 40
    assert handler.connections <= 4


async def test_a_refused_recipient_does_not_spoil_the_connection(
    relay: tuple[Counting, asyncio.Server, int],
) -> None:
    handler, _server, port = relay
    mailer = Mailer(Settings(smtp_host="127.0.0.1", smtp_port=port), keep=1)
    await mailer.send(_message(1), "abuse@a.test")
    with pytest.raises(DeliveryRefused):
        await mailer.send(_message(2), "gone@b.test")
    await mailer.send(_message(3), "abuse@c.test")
    await mailer.aclose()
    assert handler.accepted == ["abuse@a.test", "abuse@c.test"]
    assert handler.connections == 1


async def test_a_connection_the_server_dropped_is_replaced(
    relay: tuple[Counting, asyncio.Server, int],
) -> None:
    handler, _server, port = relay
    mailer = Mailer(Settings(smtp_host="127.0.0.1", smtp_port=port), keep=1)
    await mailer.send(_message(1), "abuse@a.test")
    [(_since, kept)] = mailer._idle
    assert kept.transport is not None
    kept.transport.abort()  # the connection dies while kept, as after a relay's idle timeout
    await mailer.send(_message(2), "abuse@b.test")
    await mailer.aclose()
    assert handler.accepted == ["abuse@a.test", "abuse@b.test"]
    assert handler.connections == 2
