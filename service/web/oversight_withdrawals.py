"""The withdrawals page under /oversight/: withdrawn hashes, and a supervisor's form to add one."""

from __future__ import annotations

from aiohttp import web

from service.usecases import withdraw
from service.web import csvexport
from service.web.keys import POOL, SETTINGS
from service.web.oversight_view import clean, render
from service.web.session import check_csrf, require_analyst

routes = web.RouteTableDef()
COLUMNS = [
    ("id", "Withdrawal"),
    ("algorithm", "Algorithm"),
    ("digest", "Hash"),
    ("reason", "Reason"),
    ("cases_withdrawn", "Cases stopped"),
    ("created_by", "By"),
    ("created_at", "At"),
]


@routes.get("/oversight/withdrawals")
async def withdrawals_page(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    rows = await withdraw.withdrawn_hashes(request.app[POOL])
    if request.query.get("format") == "csv":
        return csvexport.response("withdrawals", COLUMNS, rows)
    return render(
        request, "withdrawals.html.j2", analyst, withdrawals=rows, columns=COLUMNS, error=""
    )


@routes.post("/oversight/withdrawals")
async def withdraw_hash(request: web.Request) -> web.Response:
    analyst = await require_analyst(request, supervisor=True)
    form = await request.post()
    check_csrf(analyst, form)
    spec, reason = clean(str(form.get("hash", "")), 80), clean(str(form.get("reason", "")))
    try:
        await withdraw.withdraw_hash(
            request.app[POOL], request.app[SETTINGS], spec, reason=reason, actor=analyst.actor
        )
    except ValueError as exc:  # not a hash, or no reason: said on the page, nothing changed
        rows = await withdraw.withdrawn_hashes(request.app[POOL])
        return render(
            request, "withdrawals.html.j2", analyst, 422,
            withdrawals=rows, columns=COLUMNS, error=str(exc),
        )  # fmt: skip
    raise web.HTTPSeeOther("/oversight/withdrawals")
