"""The escalate stage with real PostgreSQL, the notify stage and a loopback SMTP sink, on a
compressed clock: a hoster that never removes walks the whole ladder, reminders arrive once
per interval as one digest per recipient, and held cases are never notified."""

from __future__ import annotations

import itertools
from datetime import timedelta

import asyncpg

from service.usecases import oversee
from tests.conftest import make_settings
from tests.integration.oversight.world import (
    HOSTER_DESK,
    ROUTE,
    add_case,
    events,
    eventually,
    running_stages,
    scanner,
    send_to_outbox,
    smtp_sink,
)

STAGES = ("outbox", "notify", "escalate")


def compressed(db_url: str, port: int, **extra: object) -> object:
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "notice_gather_window": timedelta(seconds=0.2),
        "sla_default": timedelta(seconds=1),
        "sla_by_country": {"NL": timedelta(seconds=1)},
        "renotice_interval": timedelta(seconds=1),
        "escalation_step_interval": timedelta(seconds=0.6),
        "escalation_sweep_interval": timedelta(seconds=0.05),
        "retry_base": timedelta(seconds=0.1),
    }
    values.update(extra)
    return make_settings(db_url, **values)


async def test_never_removing_hoster_walks_the_whole_ladder(
    db_url: str, pool: asyncpg.Pool
) -> None:
    async with smtp_sink() as (sink, server):
        settings = compressed(db_url, server.port)
        async with pool.acquire() as conn:
            sid = await scanner(conn)
            case_id = await add_case(
                conn, sid, "http://img.never-removes.example/a.png", route=ROUTE
            )
        await send_to_outbox(pool, [case_id])
        async with running_stages(pool, settings, STAGES):  # type: ignore[arg-type]
            handoff = await eventually(lambda: _handoff(pool, case_id), timeout=60)
            await eventually(lambda: _all_sent(pool))
        steps = [e["detail"]["step"] for e in await events(pool, case_id, "escalation_step")]
        assert steps == ["upstream", "cdn", "registrar", "hotline", "law_enforcement"]
        recipients = {m.rcpt_tos[0]: m for m in sink.messages}
        for address in (
            "abuse@transit.example",
            "abuse@cdn.example",
            "abuse@registrar.example",
            "hotline@meldpunt.example",
        ):
            assert recipients[address].subject.strip().startswith("Escalatie")  # Dutch
        assert (
            handoff["step"] == "law_enforcement"
            and handoff["detail"]["hoster"] == "Never Removes Ltd"
        )
        async with pool.acquire() as conn:
            state = await conn.fetchval("SELECT state FROM cases WHERE id = $1", case_id)
        assert state == "escalated"
        # The hoster itself got its notice and reminders while the ladder climbed.
        assert any(m.rcpt_tos == [HOSTER_DESK] for m in sink.messages)


async def test_registrar_address_no_mail_can_carry_is_skipped_with_the_reason(
    db_url: str, pool: asyncpg.Pool
) -> None:
    route = {**ROUTE, "registrar": {"name": "Registrar Inc", "abuse": "abüse@registrar.example"}}
    async with smtp_sink() as (sink, server):
        settings = compressed(db_url, server.port, escalation_steps=["registrar", "hotline"])
        async with pool.acquire() as conn:
            case_id = await add_case(
                conn, await scanner(conn), "http://img.never-removes.example/r.png", route=route
            )
        await send_to_outbox(pool, [case_id])
        async with running_stages(pool, settings, STAGES):  # type: ignore[arg-type]
            await eventually(lambda: _escalation_sent_to(pool, "hotline@meldpunt.example"))
        (skipped,) = await events(pool, case_id, "escalation_skipped")
        steps = [e["detail"] for e in await events(pool, case_id, "escalation_step")]
        async with pool.acquire() as conn:
            # Nothing was ever addressed to it (the ladder goes on; a reminder may be pending).
            stuck = await conn.fetchval(
                "SELECT count(*) FROM notices WHERE recipient = 'abüse@registrar.example'"
            )
    assert skipped["detail"]["step"] == "registrar"
    assert "not a valid mail address: abüse@registrar.example" in skipped["detail"]["reason"]
    assert [(s["step"], s["recipient"]) for s in steps] == [("hotline", "hotline@meldpunt.example")]
    assert stuck == 0
    assert all("registrar" not in rcpt for m in sink.messages for rcpt in m.rcpt_tos)


async def test_reminders_arrive_once_per_interval_as_one_digest(
    db_url: str, pool: asyncpg.Pool
) -> None:
    async with smtp_sink() as (sink, server):
        # no ladder: only the reminder cadence is observed
        settings = compressed(db_url, server.port, escalation_steps=[])
        async with pool.acquire() as conn:
            sid = await scanner(conn)
            ids = [
                await add_case(conn, sid, f"http://img.never-removes.example/{n}.png", route=ROUTE)
                for n in range(2)
            ]
        await send_to_outbox(pool, ids)
        async with running_stages(pool, settings, STAGES):  # type: ignore[arg-type]
            await eventually(lambda: _reminders(pool, 3), timeout=30)
        reminders = [m for m in sink.messages if m.rcpt_tos == [HOSTER_DESK]][1:]
        assert len(reminders) >= 3
        for mail in reminders:  # both open items in one digest
            assert "2 URL" in mail.subject
        gaps = [b.received_at - a.received_at for a, b in itertools.pairwise(reminders)]
        assert all(0.5 <= gap <= 1.6 for gap in gaps), gaps
        for case_id in ids:
            assert len(await events(pool, case_id, "reminder")) >= 3


async def test_held_case_sends_nothing(db_url: str, pool: asyncpg.Pool) -> None:
    async with smtp_sink() as (sink, server):
        settings = compressed(db_url, server.port)
        async with pool.acquire() as conn:
            sid = await scanner(conn)
            held = await add_case(
                conn, sid, "http://img.never-removes.example/held.png", route=ROUTE
            )
            other_route = {
                **ROUTE,
                "hoster": "Other",
                "recipients": [
                    {
                        "address": "abuse@other.example",
                        "role": "abuse",
                        "confidence": "high",
                        "rank": 1,
                    }
                ],
            }
            free = await add_case(conn, sid, "http://other.example/x.png", route=other_route)
            await oversee.place_hold(
                conn,
                actor="analyst:alice",
                reason="police request 2024-17",
                hoster="Never Removes Ltd",
            )
        await send_to_outbox(pool, [held, free])
        async with running_stages(pool, settings, STAGES):  # type: ignore[arg-type]
            # the other case walks its ladder to the end meanwhile: time has passed for both
            await eventually(lambda: _handoff(pool, free), timeout=60)
        assert all("never-removes" not in rcpt for m in sink.messages for rcpt in m.rcpt_tos)
        assert all(m.rcpt_tos != [HOSTER_DESK] for m in sink.messages)
        async with pool.acquire() as conn:
            state = await conn.fetchval("SELECT state FROM cases WHERE id = $1", held)
            notices = await conn.fetchval(
                "SELECT count(*) FROM notice_items WHERE case_id = $1", held
            )
        assert (state, notices) == ("held", 0)
        hold_events = await events(pool, held, "hold")
        assert hold_events[0]["actor"] == "analyst:alice"
        assert hold_events[0]["detail"]["reason"] == "police request 2024-17"


async def _handoff(pool: asyncpg.Pool, case_id: int) -> dict[str, object] | None:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT step, detail FROM handoffs WHERE case_id = $1", case_id)
    return dict(row) if row else None


async def _all_sent(pool: asyncpg.Pool) -> bool:
    async with pool.acquire() as conn:
        waiting = await conn.fetchval(
            "SELECT count(*) FROM notices WHERE kind = 'escalation' AND state <> 'sent'"
        )
    return waiting == 0


async def _reminders(pool: asyncpg.Pool, count: int) -> bool:
    async with pool.acquire() as conn:
        sent = await conn.fetchval(
            "SELECT count(*) FROM notices WHERE kind = 'reminder' AND state = 'sent'"
        )
    return bool(sent >= count)


async def _escalation_sent_to(pool: asyncpg.Pool, address: str) -> bool:
    async with pool.acquire() as conn:
        sent = await conn.fetchval(
            "SELECT count(*) FROM notices WHERE kind = 'escalation' AND state = 'sent'"
            " AND recipient = $1",
            address,
        )
    return bool(sent)
