"""The acknowledgment page `/ack/{token}`: hosters answer a notice without an account.

GET only reads. POST needs the form's CSRF token (bound to the ack token) and a same-site
Origin when the browser sends one. Both are rate limited per link; a client is limited in
the unknown links it tries.
Expired, unknown and malformed tokens get a clear page in the notice's language (or English).
"""

from __future__ import annotations

import time
import weakref
from collections import deque
from functools import cache
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from aiohttp import web
from multidict import MultiDictProxy
from pydantic import BaseModel, Field

from service.domain.notices import DEFAULT_LANGUAGE, case_reference, notice_reference
from service.notify import ack
from service.notify.compose import environment
from service.notify.items import HASH_NAMES
from service.packaged import Templates
from service.usecases import acknowledge
from service.web.clients import client_address
from service.web.keys import POOL, SETTINGS
from service.web.openapi import HTML, PROBLEM_JSON, Body, Operation, operation

routes = web.RouteTableDef()

PER_TOKEN_PER_MINUTE = 30
UNKNOWN_LINKS_PER_CLIENT_PER_MINUTE = 120
MAX_NOTE = 4000
MAX_RESPONSIBLE = 500


class AckForm(BaseModel):
    """The acknowledgment form (application/x-www-form-urlencoded)."""

    csrf_token: str = Field(description="the hidden field of the page the token opened")
    answer: Literal["received", "removed", "not_ours", "dispute"]
    scope: list[str] = Field(description="'all', or the case ids of the notice's items")
    note: str = Field(default="", max_length=MAX_NOTE)
    responsible: str = Field(
        default="",
        max_length=MAX_RESPONSIBLE,
        description="with 'not_ours': who is responsible instead (company, abuse address)",
    )
    dispute_reason: Literal["lawful_content", "wrong_match"] | None = Field(
        default=None, description="with 'dispute': lawful content, or the hash matched wrongly"
    )


_TOKEN_PARAMETER = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "the acknowledgment token from the notice (43 URL-safe characters)",
    "schema": {"type": "string"},
}
# Pages answer in HTML in the notice's language; only the shared rate limiter, the body size
# limit and a database outage answer in problem JSON.
_PAGE_ERRORS: dict[int, type[BaseModel] | Body | None] = {
    404: Body(HTML, "unknown, forged or malformed token"),
    410: Body(HTML, "the token has expired"),
    429: Body(HTML | PROBLEM_JSON, "too many requests for this token or client"),
    503: Body(PROBLEM_JSON, "the database is not reachable"),
}
operation(
    Operation(
        "get",
        "/ack/{token}",
        "The acknowledgment page of one notice: its items and the answer form (HTML)",
        roles=(),
        responses={200: Body(HTML, "the form"), **_PAGE_ERRORS},
        parameters=(_TOKEN_PARAMETER,),
        problems=(),
    )
)
operation(
    Operation(
        "post",
        "/ack/{token}",
        "Answer a notice for some or all of its items (HTML page in return)",
        roles=(),
        request=AckForm,
        request_content_type="application/x-www-form-urlencoded",
        responses={
            200: Body(HTML, "answer recorded (or nothing changed)"),
            400: Body(HTML, "no known answer or no item chosen: the form again"),
            403: Body(HTML, "CSRF token or Origin refused"),
            413: Body(PROBLEM_JSON | {"text/plain": {"schema": {"type": "string"}}}),
            **_PAGE_ERRORS,
        },
        parameters=(_TOKEN_PARAMETER,),
        problems=(),
    )
)


class RateLimiter:
    """Sliding one-minute windows per key, in memory (one per application)."""

    def __init__(self) -> None:
        self.hits: dict[str, deque[float]] = {}

    def allow(self, key: str, limit: int) -> bool:
        now = time.monotonic()
        window = self.hits.setdefault(key, deque())
        while window and window[0] <= now - 60:
            window.popleft()
        if len(window) >= limit:
            return False
        window.append(now)
        if len(self.hits) > 100_000:  # bounded memory under a flood of distinct keys
            self.hits = {k: v for k, v in self.hits.items() if v and v[-1] > now - 60}
        return True


# The app is frozen once started, so limiters live beside it rather than in it.
_LIMITERS: weakref.WeakKeyDictionary[web.Application, RateLimiter] = weakref.WeakKeyDictionary()


@cache
def strings(where: Templates) -> dict[str, dict[str, str]]:
    loaded: dict[str, dict[str, str]] = yaml.safe_load(
        where.file("pages/strings.yaml").read_text("utf-8")
    )
    return loaded


def _templates(request: web.Request) -> Templates:
    return Templates.of(request.app[SETTINGS])


def _page(request: web.Request, status: int, lang: str, **values: Any) -> web.Response:
    settings = request.app[SETTINGS]
    where = _templates(request)
    lang = lang if lang in strings(where) else DEFAULT_LANGUAGE
    base = {
        "lang": lang,
        "t": strings(where)[lang],
        "items": [],
        "message": "",
        "ref": "",
        "hotline_name": settings.hotline_name,
        "contact": settings.reply_to,
        "answers": ack.ANSWERS,
        "dispute_reasons": ack.DISPUTE_REASONS,
        "csrf_token": "",
    }
    html = environment(where).get_template("pages/ack.html.j2").render(base | values)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


def _message(request: web.Request, status: int, lang: str, key: str, **fmt: Any) -> web.Response:
    text = strings_for(request, lang)[key].format(**fmt)
    return _page(request, status, lang, message=text)


def _limiter(request: web.Request) -> RateLimiter:
    return _LIMITERS.setdefault(request.app, RateLimiter())


async def _token(request: web.Request) -> ack.AckToken | web.Response:
    # The limit is per link: hosters behind one proxy or one provider's network never share
    # it. A client is limited only in how many unknown links it tries (guessing).
    token = request.match_info["token"]
    if not _limiter(request).allow(f"t:{token[:64]}", PER_TOKEN_PER_MINUTE):
        return _message(request, 429, DEFAULT_LANGUAGE, "slow_down")
    found = await acknowledge.open_link(request.app[POOL], token)
    if found is None:
        guesses = f"c:{client_address(request)}"
        if not _limiter(request).allow(guesses, UNKNOWN_LINKS_PER_CLIENT_PER_MINUTE):
            return _message(request, 429, DEFAULT_LANGUAGE, "slow_down")
        return _message(request, 404, DEFAULT_LANGUAGE, "invalid")
    if found.expired:
        return _message(request, 410, found.language, "expired")
    return found


@routes.get("/ack/{token}")
async def show(request: web.Request) -> web.Response:
    found = await _token(request)
    if isinstance(found, web.Response):
        return found
    return await _form_page(request, found, 200)


async def _form_page(
    request: web.Request, token: ack.AckToken, status: int, message: str = ""
) -> web.Response:
    rows = await acknowledge.notice_items(request.app[POOL], token.notice_id)
    items = [
        {
            "case_id": r["case_id"],
            "reference": case_reference(r["case_id"]),
            "url": r["url"],
            "state": r["state"],
            "hashes": [(n, r[n]) for n in HASH_NAMES if r[n]],
        }
        for r in rows
    ]
    return _page(
        request,
        status,
        token.language,
        items=items,
        message=message,
        ref=notice_reference(token.notice_id),
        csrf_token=token.csrf_token,
    )


@routes.post("/ack/{token}")
async def answer(request: web.Request) -> web.Response:
    found = await _token(request)
    if isinstance(found, web.Response):
        return found
    form = await request.post()
    if not _same_site(request) or not found.csrf_ok(str(form.get("csrf_token", ""))):
        return _message(request, 403, found.language, "refused")
    choice = str(form.get("answer", ""))
    reason = str(form.get("dispute_reason", "")) or None
    pool = request.app[POOL]
    case_ids = _scope(form, await acknowledge.notice_case_ids(pool, found.notice_id))
    if choice not in ack.ANSWERS or not case_ids or reason not in (None, *ack.DISPUTE_REASONS):
        refused = strings_for(request, found.language)["bad_answer"]
        return await _form_page(request, found, 400, refused)
    details = ack.AnswerDetails(
        note=_text(form, "note", MAX_NOTE),
        responsible=_text(form, "responsible", MAX_RESPONSIBLE),
        dispute_reason=reason,
    )
    changed = await acknowledge.answer(pool, found, case_ids, choice, details)
    if not changed:
        return _message(request, 200, found.language, "unchanged")
    return _message(request, 200, found.language, "thanks", count=changed)


def strings_for(request: web.Request, lang: str) -> dict[str, str]:
    texts = strings(_templates(request))
    return texts.get(lang, texts[DEFAULT_LANGUAGE])


def _text(form: MultiDictProxy[Any], name: str, limit: int) -> str:
    """A free-text field as stored: no NUL (PostgreSQL text refuses it), trimmed, bounded."""
    return str(form.get(name, "")).replace("\x00", "").strip()[:limit]


def _scope(form: MultiDictProxy[Any], notice_cases: list[int]) -> list[int]:
    """'all', or the chosen item ids that belong to this notice (others are ignored)."""
    chosen = [str(value) for value in form.getall("scope", [])]
    if "all" in chosen:
        return notice_cases
    wanted = {int(v) for v in chosen if v.isdigit() and len(v) < 19}
    return [case_id for case_id in notice_cases if case_id in wanted]


def _same_site(request: web.Request) -> bool:
    """A browser's Origin, when sent, must be ours (public URL or the host it asked)."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return True
    public = urlsplit(request.app[SETTINGS].public_url)
    allowed = {f"{public.scheme}://{public.netloc}", f"{request.scheme}://{request.host}"}
    return origin.rstrip("/") in allowed
