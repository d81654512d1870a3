"""A case behind a CDN with an abuse-report API: file the report, read it back, tell the origin.

`report_case` is the 'cdn' stage's whole job for one case, each step in its own transaction
with its event:
- a case that needs a notice (resolved, or content back) gets a report filed through the
  channel of its CDN (`cdn_report`): the report counts as the first notice (notified,
  `first_notice_at`), its id is stored, a re-check is scheduled, and the report is read back
  after `cdn_report_read_after`;
- reading it back (`cdn_report_read`) records whether the CDN notified the origin host and,
  when the CDN names it, gives the origin host a route of its own and a notice;
- a report the API refuses for good (bad credentials, a refused report) falls back to e-mail
  to the CDN's abuse desk (`cdn_report_refused`); a busy API (429, 5xx) is retried with its
  Retry-After (the error propagates to the claim loop).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from service.db import cases, cdn_repo, jobs
from service.db.cdn_repo import CdnChannelSummary
from service.domain.states import CaseState
from service.errors import PermanentLookupError
from service.notify.cdn_api import CdnChannel, channel_for
from service.notify.outbox import NEEDS_NOTICE, place_cases, tell_other_routes
from service.settings import Settings

ACTOR = "worker:cdn"


@dataclass(frozen=True)
class Next:
    """When the case's 'cdn' job runs again (None: done)."""

    at: datetime | None


async def report_case(pool: asyncpg.Pool, settings: Settings, case_id: int) -> Next:
    async with pool.acquire() as conn, conn.transaction():
        case = await cdn_repo.case_for_report(conn, case_id)
    if case is None:
        return Next(None)
    channel = channel_for((case["cdn"] or {}).get("name"), settings)
    if CaseState(case["state"]) in NEEDS_NOTICE:
        if channel is None:  # credentials removed meanwhile: e-mail as before
            await _by_mail(pool, settings, case_id, "no API channel configured")
            return Next(None)
        return await _file(pool, settings, case, channel)
    if case["report_row"] is not None and case["read_at"] is None and channel is not None:
        return await _read(pool, settings, case, channel)
    return Next(None)


async def _file(
    pool: asyncpg.Pool, settings: Settings, case: dict[str, object], channel: CdnChannel
) -> Next:
    case_id = int(str(case["id"]))
    try:
        filed = await channel.file([str(case["url"])], _justification(settings, case_id))
    except PermanentLookupError as exc:
        await _by_mail(pool, settings, case_id, str(exc))
        return Next(None)
    async with pool.acquire() as conn, conn.transaction():
        await cdn_repo.insert_report(conn, case_id, filed.channel, filed.report_id)
        moved = await cases.transition(
            conn, case_id, CaseState.NOTIFIED, actor=ACTOR, kind="cdn_report",
            detail={"channel": filed.channel, "report_id": filed.report_id},
            stamp="first_notice_at", expect=set(NEEDS_NOTICE),
        )  # fmt: skip
        if moved is not None:
            await jobs.enqueue_for_case(conn, "probe", case_id)
    return Next(datetime.now(UTC) + settings.cdn_report_read_after)


async def _read(
    pool: asyncpg.Pool, settings: Settings, case: dict[str, object], channel: CdnChannel
) -> Next:
    case_id = int(str(case["id"]))
    state = await channel.read(str(case["report_id"]))
    async with pool.acquire() as conn, conn.transaction():
        await cdn_repo.store_reading(
            conn, int(str(case["report_row"])), state.status, state.external_host_notified,
            state.origin_host,
        )  # fmt: skip
        detail = {"channel": channel.name, "report_id": case["report_id"], **state.as_json()}
        await cases.add_event(conn, case_id, actor=ACTOR, kind="cdn_report_read", detail=detail)
        if state.origin_host is not None:
            await _origin_route(conn, settings, case_id, state.origin_host)
    return Next(None)


async def _origin_route(
    conn: asyncpg.Connection, settings: Settings, case_id: int, origin: dict[str, str]
) -> None:
    """The origin host the CDN named gets a route of its own and a notice."""
    recipient = {
        "address": origin["abuse"].lower(), "role": "origin", "source": "cdn-api",
        "confidence": "high", "rank": 1, "copy": False,
    }  # fmt: skip
    position = await cdn_repo.add_origin_route(conn, case_id, origin.get("name"), recipient)
    if position is not None:
        await tell_other_routes(conn, settings, {case_id: None}, positions={position})


async def _by_mail(pool: asyncpg.Pool, settings: Settings, case_id: int, reason: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        detail = {"reason": reason[:300], "fallback": "e-mail to the CDN's abuse desk"}
        await cases.add_event(conn, case_id, actor=ACTOR, kind="cdn_report_refused", detail=detail)
        await place_cases(conn, settings, [case_id], email_only=True)


def _justification(settings: Settings, case_id: int) -> str:
    """What the report says; never anything of the content itself."""
    return (
        "Known child sexual abuse material: the file at this URL matches a hash of material"
        f" confirmed by {settings.hotline_name}. Please remove it and notify the hosting"
        f" provider. Our reference: TT-C{case_id}. Replies: {settings.reply_to}."
    )


async def reports_summary(pool: asyncpg.Pool) -> list[CdnChannelSummary]:
    """Per channel: reports filed, read back, origin notified, origin named."""
    async with pool.acquire() as conn:
        return await cdn_repo.summary(conn)
