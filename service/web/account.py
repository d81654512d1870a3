"""An analyst's own account: enrol a TOTP second factor (`/oversight/account/totp`).

GET shows the state; POST `action=start` makes a secret and shows it (and its otpauth://
URI, for an authenticator app) with a form for the first code; POST `action=confirm` with
that code enrols and shows the recovery codes, once. Supervisors need this before holds.
"""

from __future__ import annotations

from aiohttp import web

from service.usecases import analysts
from service.web.keys import POOL, SETTINGS
from service.web.oversight_view import render
from service.web.session import check_csrf, require_analyst

routes = web.RouteTableDef()
PATH = "/oversight/account/totp"


@routes.get(PATH)
async def totp_page(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    return render(
        request, "account.html.j2", analyst, stage="enrolled" if analyst.totp_enrolled else "start"
    )


@routes.post(PATH)
async def totp_action(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    form = await request.post()
    check_csrf(analyst, form)
    if analyst.totp_enrolled:
        return render(request, "account.html.j2", analyst, 409, stage="enrolled")
    pool = request.app[POOL]
    if form.get("action") == "confirm":
        codes = await analysts.confirm_totp(pool, analyst.id, str(form.get("code", ""))[:64])
        if codes is not None:
            return render(request, "account.html.j2", analyst, stage="codes", codes=codes)
        error = "That code did not match; start again and enter the code your app shows."
        return render(request, "account.html.j2", analyst, 400, stage="start", error=error)
    issuer = request.app[SETTINGS].hotline_name
    enrolment = await analysts.begin_totp(pool, analyst.id, analyst.username, issuer)
    return render(request, "account.html.j2", analyst, stage="confirm", enrolment=enrolment)
