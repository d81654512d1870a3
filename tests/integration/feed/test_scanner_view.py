"""What a scanner token reads of its case: state, clock, outcomes; nothing internal."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from service.db import cases
from service.notify.ack import AckToken, AnswerDetails, record_answer
from service.settings import Settings
from service.usecases.oversee import place_hold
from tests.integration.api_client import Api, running_api
from tests.integration.feed.world import S, move, new_cases, notified
from tests.integration.oversight.world import sent_notice

SECRETS = (
    "covert, do not notify hoster",  # a supervisor's hold reason
    "alice",  # an analyst's name
    "chief",  # the supervisor's name
    "checked with the police liaison",  # an analyst's note
    "our customer says it is art",  # a hoster's free text
    "abuse@hoster.example",  # the recipient
)


@pytest.fixture
async def api(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Api]:
    async with running_api(settings, pool) as api:
        yield api


async def read(api: Api, case_id: int, role: str) -> tuple[int, str]:
    resp = await api.client.get(f"/api/v1/cases/{case_id}", headers=api.auth(role))
    return resp.status, await resp.text()


async def _internal_history(pool: asyncpg.Pool, case_id: int) -> None:
    """A notified case a hoster disputed in its own words, an analyst annotated, then held."""
    async with pool.acquire() as conn:
        await notified(conn, case_id)
        notice_id = await sent_notice(conn, "abuse@hoster.example", [case_id])
        token = AckToken(
            b"x" * 32, notice_id, "en", "abuse@hoster.example", b"", datetime.now(UTC), False
        )
        details = AnswerDetails(note="our customer says it is art", dispute_reason="wrong_match")
        await record_answer(conn, token, [case_id], "dispute", details)
        await cases.add_event(
            conn,
            case_id,
            actor="analyst:alice",
            kind="escalation_action",
            detail={"note": "checked with the police liaison"},
        )
        await place_hold(conn, actor="supervisor:chief", reason=SECRETS[0], case_id=case_id)


async def test_the_scanner_view_carries_no_internal_field(api: Api, pool: asyncpg.Pool) -> None:
    [case_id] = await new_cases(pool, "scanner-a", [1])
    await _internal_history(pool, case_id)
    status, scanner_text = await read(api, case_id, "scanner")
    hotline_status, hotline_text = await read(api, case_id, "hotline")
    assert status == hotline_status == 200
    for secret in SECRETS:  # the hotline sees each of them, so the test can fail
        assert secret in hotline_text, secret
        assert secret not in scanner_text, secret
    view = json.loads(scanner_text)
    assert set(view) == {
        "id",
        "url",
        "state",
        "media_type",
        "hashes",
        "source_ref",
        "detected_at",
        "received_at",
        "first_notice_at",
        "acknowledged_at",
        "first_gone_at",
        "removed_at",
        "reappeared_at",
        "outcomes",
    }
    assert "events" not in view and "actor" not in scanner_text and "detail" not in scanner_text
    assert view["state"] == "pending"  # held reads as pending
    assert [(o["outcome"], o["reason"]) for o in view["outcomes"]] == [
        ("notified", None),
        ("disputed", "wrong_match"),
    ]
    assert view["first_notice_at"] is not None


async def test_a_case_held_before_notice_reads_pending_like_any_unnotified_case(
    api: Api, pool: asyncpg.Pool
) -> None:
    held, waiting = await new_cases(pool, "scanner-a", [2, 3])
    async with pool.acquire() as conn:
        await move(conn, held, S.RESOLVING, S.RESOLVED)
        await place_hold(conn, actor="supervisor:chief", reason=SECRETS[0], case_id=held)
        await move(conn, waiting, S.RESOLVING, S.RESOLVED)
    held_view = json.loads((await read(api, held, "scanner"))[1])
    waiting_view = json.loads((await read(api, waiting, "scanner"))[1])
    assert held_view["state"] == waiting_view["state"] == "pending"
    assert held_view["outcomes"] == waiting_view["outcomes"] == []


async def test_a_scanner_reads_only_its_own_cases(api: Api, pool: asyncpg.Pool) -> None:
    [case_id] = await new_cases(pool, "scanner-a", [4])
    assert (await read(api, case_id, "scanner-b"))[0] == 404
    assert (await read(api, case_id, "scanner"))[0] == 200
