"""Analyst login, sessions and CSRF for the /oversight/ pages.

The session secret lives only in an HttpOnly, SameSite=Strict cookie; the database keeps its
SHA-256. The CSRF token of every form is an HMAC of the session secret, so it needs no storage
and dies with the session. The login form itself is protected by a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from service.usecases import analysts
from service.web.keys import POOL, SETTINGS

COOKIE = "tt_session"
LOGIN_COOKIE = "tt_login"
LOGIN_PATH = "/oversight/login"


@dataclass(frozen=True)
class Analyst:
    """The logged-in hotline analyst (role 'analyst' or 'supervisor')."""

    id: int
    username: str
    role: str
    csrf: str
    totp_enrolled: bool = False

    @property
    def actor(self) -> str:
        return f"analyst:{self.username}"

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def may_hold(self) -> bool:
        """Holds need a supervisor who has enrolled a second factor."""
        return self.supervisor and self.totp_enrolled


ANALYST_KEY = web.RequestKey("analyst", Analyst)


def csrf_for(secret: str) -> str:
    return hmac.new(secret.encode(), b"oversight-csrf", hashlib.sha256).hexdigest()


async def current_analyst(request: web.Request) -> Analyst | None:
    if ANALYST_KEY in request:
        return request[ANALYST_KEY]
    secret = request.cookies.get(COOKIE, "")
    if not secret or len(secret) > 200:
        return None
    idle = request.app[SETTINGS].analyst_session_idle
    row = await analysts.session_analyst(request.app[POOL], secret, idle)
    if row is None:
        return None
    analyst = Analyst(row.id, row.username, row.role, csrf_for(secret), row.totp_enrolled)
    request[ANALYST_KEY] = analyst
    return analyst


async def require_analyst(
    request: web.Request, *, supervisor: bool = False, second_factor: bool = False
) -> Analyst:
    """The analyst of this request; redirects to the login page without a session.

    `second_factor`: the analyst must have enrolled TOTP (holds need it)."""
    analyst = await current_analyst(request)
    if analyst is None:
        raise web.HTTPSeeOther(f"{LOGIN_PATH}?next={_local(request.path_qs)}")
    if supervisor and not analyst.supervisor:
        raise web.HTTPForbidden(text="This action needs a supervisor.")
    if second_factor and not analyst.totp_enrolled:
        raise web.HTTPForbidden(
            text="Enrol a second factor first (/oversight/account/totp): this action needs it."
        )
    return analyst


def check_csrf(analyst: Analyst, form: Mapping[str, Any]) -> None:
    token = form.get("csrf")
    if not isinstance(token, str) or not hmac.compare_digest(token, analyst.csrf):
        raise web.HTTPForbidden(text="The form expired or did not come from this site.")


def login_csrf(request: web.Request) -> str:
    """The login form's double-submit token (the cookie is set by `set_login_cookie`)."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def set_login_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
        path=LOGIN_PATH,
    )


async def log_in(request: web.Request, form: Mapping[str, Any]) -> str | None:
    """Check the login form; on success the new session's cookie secret."""
    token, cookie = form.get("csrf"), request.cookies.get(LOGIN_COOKIE, "")
    if not isinstance(token, str) or not cookie or not hmac.compare_digest(token, cookie):
        raise web.HTTPForbidden(text="The login form expired; reload it.")
    password, code = str(form.get("password", ""))[:1024], str(form.get("code", ""))[:64]
    ttl = request.app[SETTINGS].analyst_session_ttl
    return await analysts.log_in(request.app[POOL], login_name(form), password, code, ttl)


def login_name(form: Mapping[str, Any]) -> str:
    """The account a login form names, as stored (bounded: it keys the throttle)."""
    return str(form.get("username", "")).strip().lower()[:64]


def set_session_cookie(request: web.Request, response: web.StreamResponse, secret: str) -> None:
    max_age = int(request.app[SETTINGS].analyst_session_ttl.total_seconds())
    response.set_cookie(
        COOKIE,
        secret,
        httponly=True,
        samesite="Strict",
        secure=_secure(request),
        path="/",
        max_age=max_age,
    )
    response.del_cookie(LOGIN_COOKIE, path=LOGIN_PATH)


async def log_out(request: web.Request, response: web.StreamResponse) -> None:
    secret = request.cookies.get(COOKIE, "")
    if secret:
        await analysts.log_out(request.app[POOL], secret)
    response.del_cookie(COOKIE, path="/")


def safe_next(target: str | None) -> str:
    """Only local /oversight/ paths are followed after login (no open redirect)."""
    if target and target.startswith("/oversight/") and "//" not in target and "\\" not in target:
        return target
    return "/oversight/"


def _local(path: str) -> str:
    return quote(safe_next(path), safe="/")


def _secure(request: web.Request) -> bool:
    return request.app[SETTINGS].public_url.startswith("https://")
