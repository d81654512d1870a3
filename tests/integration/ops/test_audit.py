"""The hash-chained case history: built on every append, verified in Python, tamper found."""

from __future__ import annotations

import asyncio

import asyncpg

from service.db.audit import verify_chains
from service.db.cases import add_event, transition
from service.domain.states import CaseState
from tests.integration.cli_runner import takedown
from tests.integration.ops.cases import make_cases


async def _history(pool: asyncpg.Pool, case_id: int) -> None:
    async with pool.acquire() as conn:
        await transition(conn, case_id, CaseState.RESOLVING, actor="worker:resolve")
        await add_event(
            conn,
            case_id,
            actor="worker:resolve",
            kind="resolution",
            detail={"hoster": "Example Hosting", "asn": 64500, "z": [1, "é"]},
        )
        await transition(
            conn, case_id, CaseState.RESOLVED, actor="worker:resolve", stamp="resolved_at"
        )


async def _tamper(pool: asyncpg.Pool, sql: str, *args: object) -> None:
    # As a superuser, behind the append-only trigger's back: what an attacker with DB access does.
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("ALTER TABLE case_events DISABLE TRIGGER case_events_no_update")
        await conn.execute(sql, *args)
        await conn.execute("ALTER TABLE case_events ENABLE TRIGGER case_events_no_update")


async def test_bulk_intake_and_transitions_build_intact_chains(pool: asyncpg.Pool) -> None:
    case_ids = await make_cases(pool, 50)
    for case_id in case_ids[:5]:
        await _history(pool, case_id)
    async with pool.acquire() as conn:
        report = await verify_chains(conn)
        links = await conn.fetchval(
            "SELECT count(*) FROM case_events e WHERE prev_hash = (SELECT hash FROM case_events p"
            " WHERE p.case_id = e.case_id AND p.id < e.id ORDER BY id DESC LIMIT 1)"
        )
    assert report.ok and report.cases == 50 and report.events == 50 + 5 * 3
    assert links == 15  # every later event points at its predecessor


async def test_a_modified_row_is_reported_as_the_first_broken_link(pool: asyncpg.Pool) -> None:
    case_ids = await make_cases(pool, 3)
    await _history(pool, case_ids[1])
    async with pool.acquire() as conn:
        target = await conn.fetchval(
            "SELECT id FROM case_events WHERE case_id = $1 AND kind = 'resolution'", case_ids[1]
        )
    await _tamper(
        pool, 'UPDATE case_events SET detail = \'{"hoster": "Other"}\' WHERE id = $1', target
    )
    async with pool.acquire() as conn:
        report = await verify_chains(conn)
    assert report.broken is not None and len(report.broken) == 1
    broken = report.broken[0]
    assert (broken.case_id, broken.event_id, broken.reason) == (
        case_ids[1],
        target,
        "content changed",
    )
    assert report.cases == 3  # the other chains were still checked


async def test_a_deleted_event_breaks_the_next_link(pool: asyncpg.Pool) -> None:
    [case_id] = await make_cases(pool, 1)
    await _history(pool, case_id)
    async with pool.acquire() as conn:
        ids = [
            r["id"]
            for r in await conn.fetch(
                "SELECT id FROM case_events WHERE case_id = $1 ORDER BY id", case_id
            )
        ]
    await _tamper(pool, "DELETE FROM case_events WHERE id = $1", ids[1])
    async with pool.acquire() as conn:
        report = await verify_chains(conn, case_id=case_id)
    assert report.broken and report.broken[0].event_id == ids[2]
    assert report.broken[0].reason == "link broken"


async def test_concurrent_appends_to_one_case_do_not_fork_the_chain(pool: asyncpg.Pool) -> None:
    [case_id] = await make_cases(pool, 1)

    async def note(i: int) -> None:
        async with pool.acquire() as conn:
            await add_event(conn, case_id, actor="analyst:x", kind="note", detail={"i": i})

    await asyncio.gather(*(note(i) for i in range(40)))
    async with pool.acquire() as conn:
        report = await verify_chains(conn)
        distinct_prev = await conn.fetchval(
            "SELECT count(DISTINCT prev_hash) FROM case_events WHERE case_id = $1", case_id
        )
    assert report.ok and report.events == 41
    assert distinct_prev == 40  # 40 appends, each after a different predecessor


async def test_cli_verify_names_the_broken_case_and_event(db_url: str, pool: asyncpg.Pool) -> None:
    case_ids = await make_cases(pool, 2)
    good = await takedown("audit", "verify", db_url=db_url)
    async with pool.acquire() as conn:
        target = await conn.fetchval("SELECT id FROM case_events WHERE case_id = $1", case_ids[0])
    await _tamper(
        pool, "UPDATE case_events SET actor = 'scanner:someone-else' WHERE id = $1", target
    )
    bad = await takedown("audit", "verify", db_url=db_url)
    assert good.code == 0 and "checked 2 events of 2 cases" in good.out
    assert bad.code == 1
    assert f"case {case_ids[0]}, event {target}: its content no longer matches" in bad.err


async def test_the_trigger_hashes_the_canonical_form_of_any_event(pool: asyncpg.Pool) -> None:
    # The trigger spells the canonical form out inline (0213); these are the fields where a
    # hand-written form could drift from case_event_canonical and the Python verifier:
    # multi-byte and astral text, an empty detail, NULL states, a 'received' event it hashes.
    [case_id] = await make_cases(pool, 1)
    details = [{}, {"é": "ü", "emoji": "\U0001f600", "nested": {"b": [1, 2.5, None]}}, {"a": ""}]
    async with pool.acquire() as conn:
        for n, detail in enumerate(details):
            await add_event(conn, case_id, actor=f"analyst:ä{n}", kind="note", detail=detail)
        await transition(conn, case_id, CaseState.RESOLVING, actor="worker:resolve")
        # A case without events yet (as intake creates them), its 'received' event hashed here.
        other = await conn.fetchval(
            "INSERT INTO cases (url, url_original, host, sha256, media_type, scanner_id,"
            " source_ref, detected_at) SELECT 'https://ö.example/1.jpg', 'x', 'ö.example',"
            " repeat('ab', 32), 'image/jpeg', scanner_id, 'r', now() FROM cases WHERE id = $1"
            " RETURNING id",
            case_id,
        )
        await conn.execute(
            "INSERT INTO case_events (case_id, actor, kind, to_state, detail)"
            " VALUES ($1, 'scanner:ö', 'received', 'received', $2)",
            other,
            {"via": "ünïcode"},
        )
        mismatched = await conn.fetchval(
            "SELECT count(*) FROM case_events"
            " WHERE hash <> sha256(coalesce(prev_hash, '') || case_event_canonical(case_events))"
        )
        report = await verify_chains(conn)
    assert mismatched == 0
    assert report.ok
