"""A scanner takes a report back (its match was wrong): `POST /api/v1/cases/{id}/withdraw`
withdraws the case as a hash withdrawal would, its outcome says `scanner_withdrawn`, and no
scanner can touch — or learn of — another scanner's case."""

from __future__ import annotations

import asyncpg

from tests.conftest import make_settings
from tests.integration.api_client import running_api
from tests.integration.withdraw.helpers import case_row, outcomes, report


async def test_a_scanner_withdraws_its_own_report(pool: asyncpg.Pool, db_url: str) -> None:
    async with running_api(make_settings(db_url), pool) as api:
        sent = await api.client.post(
            "/api/v1/reports",
            headers=api.auth("scanner"),
            json={"reports": [report("https://img.example/fp.png", "ef" * 32)]},
        )
        case_id = (await sent.json())["results"][0]["case_id"]
        path = f"/api/v1/cases/{case_id}/withdraw"

        other = await api.client.post(path, headers=api.auth("scanner-b"), json={"note": "x"})
        assert other.status == 404  # not its case: nothing said about it
        hotline = await api.client.post(path, headers=api.auth("hotline"), json={})
        assert hotline.status == 403
        bad = await api.client.post(path, headers=api.auth("scanner"), json={"note": 5})
        assert bad.status == 422
        assert (await case_row(pool, case_id))["state"] == "received"

        taken = await api.client.post(
            path, headers=api.auth("scanner"), json={"note": "classifier v7 false positive"}
        )
        assert taken.status == 200
        assert await taken.json() == {"case_id": case_id, "state": "withdrawn", "withdrawn": True}
        again = await api.client.post(path, headers=api.auth("scanner"), json={})
        assert (await again.json())["withdrawn"] is False  # once is enough
        view = await (
            await api.client.get(f"/api/v1/cases/{case_id}", headers=api.auth("scanner"))
        ).json()
    assert view["state"] == "withdrawn"
    assert await outcomes(pool, case_id) == [("withdrawn", "scanner_withdrawn")]
    async with pool.acquire() as conn:
        event = await conn.fetchrow(
            "SELECT actor, detail FROM case_events WHERE case_id = $1 AND kind = 'withdrawn'",
            case_id,
        )
    assert event["actor"] == "scanner:scanner-a"
    assert event["detail"]["note"] == "classifier v7 false positive"  # for the hotline only
