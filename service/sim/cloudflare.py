"""A CDN's abuse-report API on loopback, in the shapes Cloudflare documents.

`POST /client/v4/accounts/{account_id}/abuse-reports/{report_type}` takes a report (JSON body,
bearer token) and answers `{"abuse_rand": id, "request": {"act": …}, "result": "success"}`;
`GET /client/v4/accounts/{account_id}/abuse-reports/{id}` answers the report in the usual
envelope (`success`, `errors`, `messages`, `result` with `mitigation_summary`). Errors come in
the envelope too: 401 for a bad token, 403 for another account, 400 for a report the API
refuses (fields missing, `email2` ≠ `email`, URLs of several hosts, …), 404 for an unknown
report, and 429 with Retry-After past `limit` requests per `per` real seconds.

A report whose `host_notification` is not "none" is forwarded: the origin hoster of each URL
is told (its behaviour clock starts) and `external_host_notified` becomes true. With
`disclose_origin` the answer also names the origin host (`origin_host`), which the published
schema does not; the service reads it when present.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from service.sim.behaviour import WorldState

log = logging.getLogger(__name__)
ACCOUNT = "5f4d3c2b1a0987654321fedcba012345"
TOKEN = "sim-cloudflare-token-0123456789abcdef"  # noqa: S105 - the simulated peer's own
ACTS = {
    "abuse_dmca", "abuse_trademark", "abuse_general", "abuse_phishing", "abuse_children",
    "abuse_threat", "abuse_registrar_whois", "abuse_ncsei",
}  # fmt: skip
NOTIFY = {"send", "send-anon", "none"}
CHILD_REQUIRED = ("host_notification", "justification", "ncmec_notification", "owner_notification")


class CloudflareApi:
    """The abuse-report endpoints of one account; `reports` holds what was filed."""

    def __init__(
        self,
        state: WorldState,
        host: str = "127.0.0.1",
        limit: int = 30,
        per: float = 60.0,
        disclose_origin: bool = False,
    ) -> None:
        self.state, self.host = state, host
        self.limit, self.per, self.disclose_origin = limit, per, disclose_origin
        self.port = 0
        self.reports: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, int]] = []  # (method, status) in order
        self._recent: deque[float] = deque()
        self._fail_next: list[int] = []
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """What `TAKEDOWN_CLOUDFLARE_API_URL` is set to."""
        return f"http://{self.host}:{self.port}/client/v4"

    def fail_next(self, status: int, count: int = 1) -> None:
        """Answer the next `count` requests with `status` (a 5xx, or 429 with Retry-After)."""
        self._fail_next += [status] * count

    async def start(self, port: int = 0) -> None:
        app = web.Application()
        base = "/client/v4/accounts/{account}/abuse-reports/{name}"
        app.router.add_post(base, self._file)
        app.router.add_get(base, self._read)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- handlers ----------------------------------------------------------------------------
    async def _file(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused is None:
            refused = await self._accept(request)
        self.requests.append(("POST", refused.status))
        return refused

    async def _read(self, request: web.Request) -> web.Response:
        answer = self._gate(request) or self._report(request.match_info["name"])
        self.requests.append(("GET", answer.status))
        return answer

    def _gate(self, request: web.Request) -> web.Response | None:
        """Auth, the account, injected faults and the rate limit."""
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _error(401, 10000, "Authentication error")
        if request.match_info["account"] != ACCOUNT:
            return _error(403, 10000, "Authentication error: not your account")
        if self._fail_next:
            status = self._fail_next.pop(0)
            return _error(status, 971 if status == 429 else 10002, "try again later", retry=1)
        now = time.monotonic()
        while self._recent and self._recent[0] < now - self.per:
            self._recent.popleft()
        if len(self._recent) >= self.limit:
            wait = int(self._recent[0] + self.per - now) + 1
            return _error(429, 971, "Please wait and consider throttling your request speed", wait)
        self._recent.append(now)
        return None

    async def _accept(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, 10001, "the body is not JSON")
        problem = _invalid(request.match_info["name"], body)
        if problem:
            return _error(400, 10001, problem)
        report_id = secrets.token_hex(8)
        urls = body["urls"].split("\n")
        told = self._forward(urls) if body["host_notification"] != "none" else None
        self.reports[report_id] = {
            "body": body,
            "urls": urls,
            "cdate": datetime.now(UTC).isoformat(),
            "origin": told,
        }
        log.info("sim cloudflare: report %s for %d url(s)", report_id, len(urls))
        act = body["act"]
        return web.json_response(
            {"abuse_rand": report_id, "request": {"act": act}, "result": "success"}
        )

    def _forward(self, urls: list[str]) -> dict[str, str] | None:
        """Tell each URL's origin hoster, as the CDN does with host_notification: send."""
        origin = None
        for url in urls:
            entry = self.state.world.url_entry(url)
            if entry is None:
                continue
            self.state.notify(url, hoster=entry.hoster)
            hoster = self.state.world.hoster(entry.hoster)
            origin = {"name": hoster.display_name, "abuse": (hoster.abuse or [""])[0]}
        return origin

    def _report(self, report_id: str) -> web.Response:
        report = self.reports.get(report_id)
        if report is None:
            return _error(404, 10006, "abuse report not found")
        body, urls = report["body"], report["urls"]
        result: dict[str, Any] = {
            "id": report_id,
            "cdate": report["cdate"],
            "domain": urlsplit(urls[0]).hostname or "",
            "type": "EMER",  # the published enum has no child-abuse value
            "status": "accepted",
            "justification": body["justification"],
            "submitter": {"name": body.get("name"), "email": body.get("email")},
            "urls": urls,
            "mitigation_summary": {
                "accepted_url_count": len(urls),
                "active_count": 0,
                "external_host_notified": report["origin"] is not None,
                "in_review_count": 0,
                "pending_count": 0,
            },
        }
        if self.disclose_origin and report["origin"] is not None:
            result["origin_host"] = report["origin"]
        return web.json_response({"success": True, "errors": [], "messages": [], "result": result})


def _invalid(report_type: str, body: Any) -> str | None:
    """Why the API refuses this report (None: it is accepted)."""
    if not isinstance(body, dict):
        return "the body must be an object"
    if report_type not in ACTS or body.get("act") != report_type:
        return "act must name the report type of the path"
    missing = [f for f in (*CHILD_REQUIRED, "email", "email2", "name", "urls") if not body.get(f)]
    if missing:
        return f"missing fields: {', '.join(missing)}"
    if body["email"] != body["email2"]:
        return "email2 must match email"
    if any(body[f] not in NOTIFY for f in CHILD_REQUIRED if f.endswith("_notification")):
        return "notification options are send, send-anon or none"
    return _invalid_urls(str(body["urls"]))


def _invalid_urls(text: str) -> str | None:
    urls = text.split("\n")
    hosts = {urlsplit(u).hostname for u in urls}
    if len(urls) > 250 or len(set(urls)) != len(urls):
        return "at most 250 unique URLs"
    if (
        len(hosts) != 1
        or None in hosts
        or not all(u.startswith(("http://", "https://")) for u in urls)
    ):
        return "the URLs must be web URLs of one host name"
    return None


def _error(status: int, code: int, message: str, retry: int | None = None) -> web.Response:
    body = {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": None,
    }
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return web.json_response(body, status=status, headers=headers)
