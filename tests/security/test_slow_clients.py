"""Item 7: slow clients are timed out by the server; a client that hangs up is not logged
as a database outage. Raw sockets against the runner `serve` uses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp import web

from service.web.app import create_app, runner_for
from tests.conftest import make_settings

IDLE, BODY = 0.5, 1.0


@pytest.fixture
async def port(db_url: str, pool: asyncpg.Pool) -> AsyncIterator[int]:
    settings = make_settings(db_url, http_idle_timeout=IDLE, http_body_timeout=BODY)
    runner = runner_for(create_app(settings, pool), settings)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sent until it closed the connection (TimeoutError if it did not)."""
    return await asyncio.wait_for(reader.read(), timeout=seconds)


async def test_an_idle_connection_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await _closed_within(reader, IDLE + 3) == b""
    writer.close()


async def test_headers_a_line_at_a_time_are_cut_off(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")

    async def drip() -> None:
        for n in range(100):  # the attack: a header line every 100 ms, never the blank line
            writer.write(b"X-Slow-%d: 1\r\n" % n)
            await asyncio.sleep(0.1)

    dripping = asyncio.create_task(drip())
    try:
        await _closed_within(reader, IDLE + 3)
    finally:
        dripping.cancel()
        writer.close()


async def test_a_body_a_byte_at_a_time_is_cut_off(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )

    async def drip() -> None:
        for _ in range(1000):
            writer.write(b" ")
            await asyncio.sleep(0.1)

    dripping = asyncio.create_task(drip())
    try:
        answer = await _closed_within(reader, BODY + 5)
    finally:
        dripping.cancel()
        writer.close()
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.client_gone = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if "client went away" in record.getMessage():
            self.client_gone.set()


async def test_a_client_that_hangs_up_is_not_a_database_outage(port: int) -> None:
    records = _Records()
    logger = logging.getLogger("service.web.middlewares")
    logger.addHandler(records)
    previous = logger.level
    logger.setLevel(logging.INFO)
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"reports": ['
        )
        await writer.drain()
        writer.close()  # hangs up halfway through the body
        await asyncio.wait_for(records.client_gone.wait(), timeout=BODY + 5)
    finally:
        logger.removeHandler(records)
        logger.setLevel(previous)
    messages = [r.getMessage() for r in records.records]
    assert not any("database unavailable" in m for m in messages), messages
