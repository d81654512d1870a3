"""The unmatched-mail page under /oversight/: replies nobody could match to a notice.

A hoster's desk sometimes answers from a fresh ticket (new subject, no In-Reply-To, no VERP
address) or writes about a notice we never sent. Such mail is recorded by `takedown mail-in`
and waits here until an analyst says which case it is about or that it concerns none.
"""

from __future__ import annotations

from aiohttp import web

from service.errors import NotFound
from service.usecases import mail
from service.web import csvexport
from service.web.keys import POOL
from service.web.oversight_view import clean, render
from service.web.session import check_csrf, require_analyst

routes = web.RouteTableDef()
COLUMNS = [
    ("id", "Mail"),
    ("received_at", "Received"),
    ("kind", "Kind"),
    ("sender", "From"),
    ("subject", "Subject"),
    ("ticket", "Ticket"),
]


@routes.get("/oversight/mail")
async def unmatched_page(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    rows = await mail.unmatched_mail(request.app[POOL])
    if request.query.get("format") == "csv":
        return csvexport.response("unmatched-mail", COLUMNS, rows)
    error = clean(request.query.get("error", ""), 200)
    return render(request, "mail.html.j2", analyst, mails=rows, columns=COLUMNS, error=error)


@routes.post("/oversight/mail/{mail_id}/attach")
async def attach(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    form = await request.post()
    check_csrf(analyst, form)
    mail_id = _mail_id(request)
    case_text = str(form.get("case_id", "")).strip().removeprefix("TT-C").lstrip("0")
    if not case_text.isdigit() or len(case_text) > 18:
        return await _refused(request, f"“{clean(case_text, 40)}” is not a case number")
    try:
        await mail.attach_mail(request.app[POOL], mail_id, int(case_text), actor=analyst.actor)
    except (NotFound, mail.MailNotWaiting) as exc:
        return await _refused(request, str(exc))
    raise web.HTTPSeeOther(f"/oversight/cases/{int(case_text)}")


@routes.post("/oversight/mail/{mail_id}/dismiss")
async def dismiss(request: web.Request) -> web.Response:
    analyst = await require_analyst(request)
    form = await request.post()
    check_csrf(analyst, form)
    mail_id = _mail_id(request)
    note = clean(str(form.get("note", "")), 500)
    try:
        await mail.dismiss_mail(request.app[POOL], mail_id, actor=analyst.actor, note=note)
    except mail.MailNotWaiting as exc:
        return await _refused(request, str(exc))
    raise web.HTTPSeeOther("/oversight/mail")


def _mail_id(request: web.Request) -> int:
    raw = request.match_info["mail_id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 2**63:
        raise web.HTTPNotFound()
    return int(raw)


async def _refused(request: web.Request, error: str) -> web.Response:
    """The page again with what was wrong; nothing changed."""
    analyst = await require_analyst(request)
    rows = await mail.unmatched_mail(request.app[POOL])
    return render(request, "mail.html.j2", analyst, 422, mails=rows, columns=COLUMNS, error=error)
