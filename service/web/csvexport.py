"""CSV downloads of the oversight tables, safe to open in a spreadsheet.

Cells that a spreadsheet would run as a formula (=, +, -, @, tab, carriage return at the
start) are prefixed with an apostrophe (OWASP CSV injection advice); numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

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


def render(columns: Sequence[tuple[str, str]], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([label for _, label in columns])
    for row in rows:
        writer.writerow([cell(row.get(key)) for key, _ in columns])
    return out.getvalue()


def response(
    filename: str, columns: Sequence[tuple[str, str]], rows: Iterable[Mapping[str, Any]]
) -> web.Response:
    safe = "".join(ch for ch in filename if ch.isalnum() or ch in "-_") or "export"
    return web.Response(
        text=render(columns, rows),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{safe}.csv"'},
    )
