"""CSV downloads of the oversight tables, safe to open in a spreadsheet.

Cells that a spreadsheet would run as a formula (=, +, -, @, tab, carriage return at the
start) are prefixed with an apostrophe (OWASP CSV injection advice); numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from service.web.middlewares import add_secure_headers

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return round(value.total_seconds(), 3)
    text = str(value)
    return "'" + text if text.startswith(_TRIGGERS) else text


def render(
    columns: Sequence[tuple[str, str]], rows: Iterable[Mapping[str, Any]], *, header: bool = True
) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow([label for _, label in columns])
    for row in rows:
        writer.writerow([cell(row.get(key)) for key, _ in columns])
    return out.getvalue()


def _disposition(filename: str) -> str:
    safe = "".join(ch for ch in filename if ch.isalnum() or ch in "-_") or "export"
    return f'attachment; filename="{safe}.csv"'


def response(
    filename: str, columns: Sequence[tuple[str, str]], rows: Iterable[Mapping[str, Any]]
) -> web.Response:
    return web.Response(
        text=render(columns, rows),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": _disposition(filename)},
    )


async def stream(
    request: web.Request,
    filename: str,
    columns: Sequence[tuple[str, str]],
    chunks: AsyncIterator[Sequence[Mapping[str, Any]]],
) -> web.StreamResponse:
    """Every row the chunks yield, written as they come (chunked transfer): memory stays at
    one chunk however long the table. A failure after the first byte aborts the transfer,
    so a client sees an incomplete download rather than a silently short file."""
    response = web.StreamResponse(headers={"Content-Disposition": _disposition(filename)})
    response.content_type = "text/csv"
    response.charset = "utf-8"
    add_secure_headers(response)  # the middleware would set them after the head is sent
    await response.prepare(request)
    await response.write(render(columns, []).encode("utf-8"))
    async for rows in chunks:
        await response.write(render(columns, rows, header=False).encode("utf-8"))
    await response.write_eof()
    return response
