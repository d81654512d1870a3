"""Partner hotlines, machine to machine: hand a case to the partner's own instance, mirror
its outcomes back, fall back to our own mail when the partner stays unreachable.

Under a country's policy 'forward' (`takedown hotlines set CC --policy forward --url URL
--token TOKEN`), the outbox does not mail a resolved case hosted there: `divert` opens a
hand-over and a 'partners' job, and `submit` posts the case to the partner's intake API
(`POST {url}/api/v1/reports`, our scanner token there). Taken → state `forwarded` with the
partner's case id. Not reachable (network, 5xx, 401, …) → retried with backoff until
`TAKEDOWN_PARTNER_FALLBACK_AFTER` since the hand-over began, then the case goes to our own
outbox (routed as under 'direct'). `poll` reads each partner's outcome feed (`GET
{url}/api/v1/cases?since=`) and mirrors every outcome into our case with the partner's time
(service.domain.partners); a feed failing for the same delay sends that partner's open
forwarded cases back to our mail too.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlencode

import aiohttp
import asyncpg

from service.db import cases, jobs, partners_repo
from service.db.connect import database_url
from service.db.partners_repo import ForwardPartner, ForwardToSubmit
from service.db.pool import pool_for
from service.domain.notices import case_reference
from service.domain.partners import accepted_case_id, mirror_of, refusal_of
from service.domain.states import CaseState
from service.settings import Settings
from service.usecases.withdraw import withdraw_cases

log = logging.getLogger(__name__)
ACTOR = "worker:partners"
JOB = "partners"
FEED_PAGE = 500
MAX_PAGES = 20  # per poll and partner: a long backlog is read over a few polls
S = CaseState
_HASH_NAMES: tuple[Literal["sha256", "sha1", "md5", "pdq"], ...] = ("sha256", "sha1", "md5", "pdq")


class PartnerUnreachable(Exception):
    """The partner's instance did not answer usefully (transient: retried, then fallback)."""


async def set_hotline(pool: asyncpg.Pool, country: str, **values: Any) -> None:
    """Create or replace a country's hotline; 'forward' needs the partner's URL and token."""
    if values["policy"] == "forward" and not (values.get("url") and values.get("token")):
        raise ValueError("policy forward needs --url and --token of the partner's instance")
    if values["policy"] in ("hotline", "both") and not values.get("address"):
        raise ValueError(f"policy {values['policy']} needs the hotline's --address")
    if values.get("url"):
        values["url"] = str(values["url"]).rstrip("/")
    async with pool.acquire() as conn:
        await partners_repo.set_hotline(conn, country, **values)


# --- hand-over -----------------------------------------------------------------------------


async def divert(conn: asyncpg.Connection, case_ids: list[int]) -> set[int]:
    """Open hand-overs for the resolved cases routed to a 'forward' country; their ids."""
    if not case_ids:
        return set()
    async with conn.transaction():
        rows = await partners_repo.divertable(conn, case_ids)
        for row in rows:
            await partners_repo.open_forward(conn, row["id"], row["country"], row["url"])
            await jobs.enqueue_for_case(conn, JOB, row["id"])
    return {row["id"] for row in rows}


async def submit(
    pool: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession, case_id: int
) -> bool:
    """Hand case `case_id` to its partner. True when done (taken, fallen back or moot);
    PartnerUnreachable when it should be tried again."""
    async with pool.acquire() as conn:
        forward = await partners_repo.forward_for_submit(conn, case_id)
    if forward is None:
        return True
    if forward["state"] == "submitted" and forward["case_state"] == S.WITHDRAWN:
        return await _withdraw_at_partner(pool, http, forward)
    if forward["state"] != "pending":
        return True
    if forward["case_state"] != S.RESOLVED or not forward["still_forward"]:
        # Withdrawn or held meanwhile, or the policy changed: nothing to hand over now. The
        # hand-over stays open: a held case back in the outbox is diverted to it again; one
        # whose country no longer forwards is mailed.
        return True
    try:
        answer = await _post_report(http, forward, settings)
    except PartnerUnreachable as exc:
        return await _failed(pool, settings, forward, str(exc))
    partner_case = accepted_case_id(answer)
    if partner_case is None:
        why = refusal_of(answer) or "unexpected answer"
        return await _give_up(pool, forward, f"partner refused the report: {why}")
    await _taken(pool, forward, partner_case)
    return True


async def _post_report(
    http: aiohttp.ClientSession, forward: ForwardToSubmit, settings: Settings
) -> Any:
    hashes = {n: forward[n] for n in _HASH_NAMES if forward[n]}
    report: dict[str, Any] = {
        "url": forward["url_original"] or forward["case_url"],
        "hashes": hashes,
        "media_type": forward["media_type"],
        "detected_at": forward["detected_at"].isoformat(),
        # Our reference, so the partner's analysts can ask us about it.
        "source_ref": f"{settings.hotline_name[:200]} {case_reference(forward['case_id'])}",
    }
    if forward["classification"]:
        report["classification"] = forward["classification"]
    headers = {"Authorization": f"Bearer {forward['token']}"}
    url = f"{forward['url']}/api/v1/reports"
    try:
        async with http.post(url, json={"reports": [report]}, headers=headers) as response:
            if response.status != 202:
                raise PartnerUnreachable(f"intake answered HTTP {response.status}")
            return await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise PartnerUnreachable(f"intake not reachable: {exc!r}"[:300]) from exc


async def _withdraw_at_partner(
    pool: asyncpg.Pool, http: aiohttp.ClientSession, forward: ForwardToSubmit
) -> bool:
    """Our case was withdrawn after the partner took it: the partner's case is withdrawn too,
    as its reporting scanner may (service.usecases.withdraw.withdraw_report)."""
    if forward["withdrawn_at"] is not None or forward["token"] is None:
        return True
    url = f"{forward['url']}/api/v1/cases/{forward['partner_case_id']}/withdraw"
    note = f"withdrawn at {case_reference(forward['case_id'])}"
    headers = {"Authorization": f"Bearer {forward['token']}"}
    try:
        async with http.post(url, json={"note": note}, headers=headers) as response:
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise PartnerUnreachable(f"withdrawal not reachable: {exc!r}"[:300]) from exc
    if status == 429 or status >= 500:
        raise PartnerUnreachable(f"withdrawal answered HTTP {status}")
    refusal = None if status == 200 else f"partner refused the withdrawal: HTTP {status}"
    async with pool.acquire() as conn, conn.transaction():
        if await partners_repo.withdrawn(conn, forward["case_id"], refusal):
            detail = {"partner": forward["country"], "partner_case_id": forward["partner_case_id"]}
            kind = "partner_withdrawal_refused" if refusal else "partner_withdrawn"
            await cases.add_event(
                conn, forward["case_id"], actor=ACTOR, kind=kind,
                detail=detail | ({"reason": refusal} if refusal else {}),
            )  # fmt: skip
    return True


async def _taken(pool: asyncpg.Pool, forward: ForwardToSubmit, partner_case: int) -> None:
    case_id = forward["case_id"]
    async with pool.acquire() as conn, conn.transaction():
        if not await partners_repo.submitted(conn, case_id, partner_case):
            return
        detail = {
            "partner": forward["country"],
            "partner_name": forward["partner_name"],
            "partner_case_id": partner_case,
        }
        await cases.transition(
            conn, case_id, S.FORWARDED, actor=ACTOR, kind="forwarded", detail=detail,
            expect=S.RESOLVED,
        )  # fmt: skip
    log.info(
        "forwarded case=%d partner=%s partner_case=%d", case_id, forward["country"], partner_case
    )


async def _failed(
    pool: asyncpg.Pool, settings: Settings, forward: ForwardToSubmit, error: str
) -> bool:
    async with pool.acquire() as conn:
        overdue = await partners_repo.attempt_failed(
            conn, forward["case_id"], error, settings.partner_fallback_after
        )
    if not overdue:
        raise PartnerUnreachable(error)
    return await _give_up(pool, forward, f"partner unreachable: {error}")


async def _give_up(pool: asyncpg.Pool, forward: ForwardToSubmit, reason: str) -> bool:
    """End the hand-over; the case goes to our own outbox, routed as under 'direct'."""
    case_id = forward["case_id"]
    async with pool.acquire() as conn, conn.transaction():
        await partners_repo.fall_back(conn, [case_id], reason)
        detail = {"partner": forward["country"], "reason": reason[:500]}
        await cases.add_event(conn, case_id, actor=ACTOR, kind="forward_fallback", detail=detail)
        await jobs.enqueue_for_case(conn, "outbox", case_id)
    log.warning("forward given up case=%d partner=%s: %s", case_id, forward["country"], reason)
    return True


# --- outcome feeds ---------------------------------------------------------------------------


async def poll(pool: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession) -> int:
    """Read every forward partner's feed once; how many outcomes were mirrored."""
    async with pool.acquire() as conn:
        partners = await partners_repo.forward_partners(conn)
    mirrored = 0
    for partner in partners:
        try:
            mirrored += await _read_feed(pool, settings, http, partner)
        except PartnerUnreachable as exc:
            await _feed_failed(pool, settings, partner, str(exc))
    return mirrored


async def _read_feed(
    pool: asyncpg.Pool, settings: Settings, http: aiohttp.ClientSession, partner: ForwardPartner
) -> int:
    cursor, mirrored = partner["cursor"], 0
    for _page in range(MAX_PAGES):
        items, following = await _feed_page(http, partner, cursor)
        async with pool.acquire() as conn, conn.transaction():
            for item in items:
                mirrored += await _mirror(conn, settings, partner["country"], item)
            await partners_repo.feed_read(conn, partner["country"], following)
        if not items or following == cursor:
            break
        cursor = following
    return mirrored


async def _feed_page(
    http: aiohttp.ClientSession, partner: ForwardPartner, cursor: str | None
) -> tuple[list[dict[str, Any]], str]:
    params = {"limit": str(FEED_PAGE)} | ({"since": cursor} if cursor else {})
    body = await _get_json(http, partner, "/api/v1/cases?" + urlencode(params))
    if not isinstance(body, dict):
        raise PartnerUnreachable("the feed is missing (an instance without GET /api/v1/cases?)")
    items, following = body.get("items"), body.get("next")
    if not isinstance(items, list) or not isinstance(following, str):
        raise PartnerUnreachable("feed answered an unexpected body")
    return [i for i in items if isinstance(i, dict)], following


async def _get_json(http: aiohttp.ClientSession, partner: ForwardPartner, path: str) -> Any:
    headers = {"Authorization": f"Bearer {partner['token']}"}
    try:
        async with http.get(f"{partner['url']}{path}", headers=headers) as response:
            if response.status == 404:
                return None
            if response.status != 200:
                raise PartnerUnreachable(f"{path} answered HTTP {response.status}")
            return await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise PartnerUnreachable(f"{path} not reachable: {exc!r}"[:300]) from exc


async def _mirror(
    conn: asyncpg.Connection,
    settings: Settings,
    country: str,
    item: dict[str, Any],
) -> int:
    """One partner outcome into our case; 1 when it changed something."""
    mirror = mirror_of(str(item.get("outcome")))
    partner_case, at = item.get("case_id"), _time(item.get("at"))
    if mirror is None or not isinstance(partner_case, int) or at is None:
        return 0
    ours = await partners_repo.case_of(conn, country, partner_case)
    if ours is None:
        return 0  # not a case we forwarded (the token's other reports)
    state, reason = CaseState(ours["state"]), _word(item.get("reason"))
    detail: dict[str, Any] = {
        "partner": country,
        "partner_case_id": partner_case,
        "at": at.isoformat(),
    }
    if mirror.to_state is S.WITHDRAWN:
        detail["withdrawal"] = reason or "partner_withdrawn"
        done = await withdraw_cases(
            conn, settings, [ours["id"]], actor=f"partner:{country}", detail=detail
        )
        return len(done.withdrawn)
    if mirror.event == "partner_disputed" and reason:
        detail["dispute_reason"] = reason
    # A removal carries the partner's case clock: time to removal counts from the first gone
    # check, not from when the streak confirmed it.
    first_gone, removed_at = _time(item.get("first_gone_at")), _time(item.get("removed_at"))
    if mirror.stamp:
        stamped = first_gone if mirror.stamp == "first_gone_at" and first_gone else at
        await partners_repo.stamp(conn, ours["id"], mirror.stamp, stamped)
    if mirror.to_state is not None and state in mirror.when:
        stamp = "removed_at" if mirror.to_state is S.REMOVED else None
        await cases.transition(
            conn, ours["id"], mirror.to_state, actor=f"partner:{country}", kind=mirror.event,
            detail=detail, stamp=stamp, at=removed_at or at, expect=state,
        )  # fmt: skip
    else:
        await cases.add_event(
            conn, ours["id"], actor=f"partner:{country}", kind=mirror.event, detail=detail
        )
    return 1


async def _feed_failed(
    pool: asyncpg.Pool, settings: Settings, partner: ForwardPartner, error: str
) -> None:
    """Record the failure; after the fallback delay, the partner's open cases go to our mail."""
    country = partner["country"]
    async with pool.acquire() as conn, conn.transaction():
        overdue = await partners_repo.feed_failed(
            conn, country, error, settings.partner_fallback_after
        )
        if not overdue:
            return
        open_cases = await partners_repo.forwarded_of(conn, country)
        reason = f"partner feed unreachable: {error}"
        await partners_repo.fall_back(conn, open_cases, reason)
        for case_id in open_cases:
            await cases.transition(
                conn, case_id, S.RESOLVED, actor=ACTOR, kind="forward_fallback",
                detail={"partner": country, "reason": reason[:500]}, expect=S.FORWARDED,
            )  # fmt: skip
            await jobs.enqueue_for_case(conn, "outbox", case_id)
    log.warning("partner %s feed failing: %s", country, error)


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _word(value: object) -> str | None:
    """A reason as a fixed word (the feed's vocabulary); anything else is dropped."""
    if isinstance(value, str) and value.replace("_", "").isalnum() and len(value) <= 40:
        return value
    return None


async def set_hotline_command(settings: Settings, country: str, **values: Any) -> None:
    """`set_hotline` for the command line: its own short-lived pool."""
    dsn = database_url(settings)
    async with pool_for(dsn, min_size=1, max_size=1, retry_for=settings.db_connect_timeout) as pool:
        await set_hotline(pool, country, **values)
