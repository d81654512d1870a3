"""`takedown import FILE.ndjson`: the same intake as the API, for bulk files."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import click
from tqdm import tqdm

from service.domain.reports import RejectedReport, ValidReport, validate_report
from service.settings import Settings
from service.usecases.intake import submit_reports
from service.usecases.store import pool_for
from service.usecases.tokens import live_token

MAX_SHOWN_REJECTIONS = 50


@dataclass
class ImportSummary:
    created: int = 0
    duplicate: int = 0
    reopened: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def render(self) -> str:
        reopened = f", reopened {self.reopened}" if self.reopened else ""
        lines = [
            f"created {self.created}, duplicate {self.duplicate}{reopened},"
            f" rejected {len(self.rejected)}"
        ]
        for line_no, reason in self.rejected[:MAX_SHOWN_REJECTIONS]:
            lines.append(f"  line {line_no}: {reason}")
        if len(self.rejected) > MAX_SHOWN_REJECTIONS:
            lines.append(f"  … and {len(self.rejected) - MAX_SHOWN_REJECTIONS} more")
        return "\n".join(lines)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def _check_line(number: int, line: str, now: datetime, settings: Settings) -> ValidReport | str:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg}"
    checked = validate_report(number, raw, now=now, max_skew=settings.max_clock_skew)
    if isinstance(checked, RejectedReport):
        return "; ".join(f"{p['field']}: {p['reason']}" for p in checked.problems)
    return checked


async def import_file(
    dsn: str, settings: Settings, path: Path, scanner: str, batch_size: int, progress: bool
) -> ImportSummary:
    summary = ImportSummary()
    async with pool_for(dsn, min_size=1, max_size=2, retry_for=settings.db_connect_timeout) as pool:
        token = await live_token(pool, scanner)
        if token is None or token.role != "scanner":
            raise click.ClickException(f"no live scanner token named {scanner!r}")
        bar = tqdm(unit=" lines", disable=not progress, file=sys.stderr)
        batch: list[ValidReport] = []
        for number, line in _lines(path):
            checked = _check_line(number, line, datetime.now(UTC), settings)
            if isinstance(checked, str):
                summary.rejected.append((number, checked))
            else:
                batch.append(checked)
            if len(batch) >= batch_size:
                await _store(pool, batch, token.id, scanner, summary)
                bar.update(len(batch))
                batch = []
        await _store(pool, batch, token.id, scanner, summary)
        bar.update(len(batch))
        bar.close()
    return summary


async def _store(
    pool: asyncpg.Pool,
    batch: list[ValidReport],
    scanner_id: int,
    scanner: str,
    summary: ImportSummary,
) -> None:
    if not batch:
        return
    submitted = await submit_reports(
        pool, batch, scanner_id=scanner_id, actor=f"scanner:{scanner}", via="import"
    )
    results = submitted.stored
    summary.created += sum(1 for r in results if r.status == "created")
    summary.duplicate += sum(1 for r in results if r.status == "duplicate")
    summary.reopened += sum(1 for r in results if r.status == "reopened")
    summary.rejected += [(r.index, f"hash withdrawn: {r.reason}") for r in submitted.refused]
