"""An analyst sends a case to an address of their choosing ("not ours, it is X"; no contact).

The address goes first in the case's ranked recipients (source `analyst`), so the outbox
places the case into that address's notice batch now and, should it bounce, the usual
rerouting still moves on to the other contacts. An unresolved case becomes resolved by this.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from service.db import cases, notify_repo, oversight_actions, oversight_repo
from service.db.oversight_actions import ActionRefused
from service.domain.notices import is_valid_address
from service.domain.states import RE_RESOLVABLE, CaseState
from service.notify.outbox import REROUTABLE, place_case
from service.settings import Settings

ROUTABLE = RE_RESOLVABLE | {CaseState.REAPPEARED}


async def route_to_address(
    conn: asyncpg.Connection,
    settings: Settings,
    case_id: int,
    address: str,
    *,
    actor: str,
    note: str = "",
) -> dict[str, Any]:
    """Make `address` the case's recipient and place the case into its notice batch."""
    address = address.strip().lower()
    if not is_valid_address(address):
        raise ActionRefused(f"{address!r} is not an e-mail address")
    async with conn.transaction():
        state = await oversight_actions.case_state_for_update(conn, case_id)
        await _check_routable(conn, case_id, state, address)
        entry = {
            "address": address,
            "role": "abuse",
            "source": f"analyst:{actor}",
            "confidence": "high",
            "rank": 0,
        }
        await oversight_repo.prefer_recipient(conn, case_id, entry)
        reviewed = await oversight_repo.review_answers(conn, case_id, ["not_ours"])
        detail = {"address": address, "note": note[:500], "answers_reviewed": reviewed}
        if state is CaseState.UNRESOLVED:
            await cases.transition(
                conn, case_id, CaseState.RESOLVED, actor=actor, kind="routed", detail=detail
            )
        else:
            await cases.add_event(conn, case_id, actor=actor, kind="routed", detail=detail)
        placed = await place_case(conn, settings, case_id, states=REROUTABLE)
    # No placement: the case already waits in an unsent notice, which goes out as it is.
    return {
        "action": "route",
        **detail,
        "notice_id": placed.notice_id if placed else None,
        "recipient": placed.recipient if placed else None,
        "due_at": placed.due_at if placed else None,
    }


async def _check_routable(
    conn: asyncpg.Connection, case_id: int, state: CaseState, address: str
) -> None:
    if state not in ROUTABLE:
        raise ActionRefused(f"a case that is {state} is not routed by hand")
    if await notify_repo.failing_among(conn, [address]):
        raise ActionRefused(f"{address} is marked failing (it bounced or refused a notice)")
    if await oversight_repo.hold_covering_case(conn, case_id) is not None:
        raise ActionRefused("a law-enforcement hold covers this case")
