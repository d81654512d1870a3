"""RFC 9457 problem details, and the typed errors the error middleware turns into them."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

PROBLEM_TYPE = "application/problem+json"


class HttpProblem(Exception):
    """An error answer. Raised by handlers, rendered by the error middleware."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.slug = slug
        self.headers = headers or {}
        self.extra = extra

    def body(self, instance: str | None = None) -> dict[str, Any]:
        return problem_body(
            self.status, self.title, self.detail, slug=self.slug, instance=instance, **self.extra
        )


def problem_body(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    slug: str | None = None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}" if slug else "about:blank",
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(problem: HttpProblem, instance: str | None = None) -> web.Response:
    return web.Response(
        status=problem.status,
        text=json.dumps(problem.body(instance)),
        content_type=PROBLEM_TYPE,
        headers=problem.headers,
    )


def unauthorized() -> HttpProblem:
    return HttpProblem(
        401,
        "Authentication required",
        "Send 'Authorization: Bearer <token>'.",
        slug="unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="takedown"'},
    )


def forbidden(role_needed: str) -> HttpProblem:
    return HttpProblem(
        403, "Forbidden", f"This endpoint needs a {role_needed} token.", slug="forbidden"
    )


def not_found(what: str = "resource") -> HttpProblem:
    return HttpProblem(404, "Not found", f"No such {what}.", slug="not-found")
