"""Scanner intake and case reading: /api/v1/reports, /api/v1/cases/{id}."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from aiohttp import web
from pydantic import BaseModel, Field, RootModel

from service.domain.reports import (
    RejectedReport,
    ReportIn,
    ValidReport,
    validate_batch,
    validate_body_fast,
)
from service.usecases import intake
from service.usecases.cases import case_with_events
from service.usecases.feed import scanner_view
from service.web.auth import has_role, require_role
from service.web.feed_api import ScannerCaseOut
from service.web.jsonout import jsonable
from service.web.keys import POOL, SETTINGS
from service.web.middlewares import NESTED_TOO_DEEP
from service.web.openapi import Operation, operation
from service.web.problems import HttpProblem, not_found, problem_body

routes = web.RouteTableDef()


class ReportsRequest(BaseModel):
    """1–1000 confirmed-match reports."""

    reports: list[ReportIn] = Field(min_length=1, max_length=1000)


class ReportResult(BaseModel):
    index: int
    status: Literal["created", "duplicate", "reopened", "rejected"] = Field(
        description="reopened: the case's content had been removed and its watch had ended;"
        " it is being notified again. rejected: invalid, or its hash was withdrawn (the"
        " problem says why)"
    )
    case_id: int | None = None
    problem: dict[str, Any] | None = None


class ReportsAccepted(BaseModel):
    results: list[ReportResult]
    created: int
    duplicate: int
    reopened: int
    rejected: int


class CaseEvent(BaseModel):
    id: int
    at: datetime
    actor: str
    kind: str
    from_state: str | None
    to_state: str | None
    detail: dict[str, Any]


class CaseOut(BaseModel):
    id: int
    url: str
    url_original: str
    state: str
    media_type: str
    hashes: dict[str, str]
    source_ref: str
    scanner: str
    detected_at: datetime
    received_at: datetime
    resolved_at: datetime | None
    first_notice_at: datetime | None
    acknowledged_at: datetime | None
    first_gone_at: datetime | None
    removed_at: datetime | None
    reappeared_at: datetime | None
    removal_reason: str | None = Field(
        default=None,
        description="what the check confirming the last removal saw instead of the content:"
        " http_gone, dns_gone, placeholder, redirected_away or other_content (docs/verdicts.md)",
    )
    events: list[CaseEvent]


class CaseRead(RootModel[CaseOut | ScannerCaseOut]):
    """What a hotline token reads (CaseOut) or the reporting scanner reads (ScannerCaseOut)."""


operation(
    Operation(
        "post",
        "/api/v1/reports",
        "Submit confirmed-match URLs (idempotent per normalised URL and hash)",
        roles=("scanner",),
        request=ReportsRequest,
        responses={202: ReportsAccepted, 413: None, 422: None},
    )
)
operation(
    Operation(
        "get",
        "/api/v1/cases/{case_id}",
        "A case: its full event history for hotline tokens, the scanner view for its scanner",
        roles=("hotline", "scanner"),
        responses={200: CaseRead, 404: None},
        parameters=(
            {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        ),
    )
)


@routes.post("/api/v1/reports")
async def submit_reports(request: web.Request) -> web.Response:
    token = await require_role(request, "scanner")
    settings = request.app[SETTINGS]
    body = await _body(request)
    now, skew, limit = datetime.now(UTC), settings.max_clock_skew, settings.max_reports_per_request
    checked = validate_body_fast(body, limit=limit, now=now, max_skew=skew)
    if checked is None:  # malformed somewhere: parse again, find and word every problem
        raw_reports = _reports_list(_parse_json(body), limit)
        checked = validate_batch(raw_reports, now=now, max_skew=skew)
    valid = [c for c in checked if isinstance(c, ValidReport)]
    rejected = [c for c in checked if isinstance(c, RejectedReport)]
    if not valid:
        raise HttpProblem(
            422,
            "No valid report",
            "Every report failed validation.",
            slug="invalid-reports",
            errors=[_rejection(r) for r in rejected],
        )
    submitted = await intake.submit_reports(
        request.app[POOL], valid, scanner_id=token.id, actor=f"scanner:{token.name}", via="api"
    )
    # msgspec encodes the 1 000 results several times faster than json.dumps (same JSON).
    body = msgspec.json.encode(_accepted(submitted, rejected))
    return web.Response(body=body, status=202, content_type="application/json", charset="utf-8")


async def _body(request: web.Request) -> bytes:
    if request.content_type != "application/json":
        raise HttpProblem(
            415,
            "Unsupported media type",
            "Send the reports as application/json.",
            slug="unsupported-media-type",
        )
    return await request.read()


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HttpProblem(400, "Malformed JSON", str(exc), slug="malformed-json") from exc
    except RecursionError as exc:  # arrays nested thousands deep exhaust the parser's stack
        raise HttpProblem(400, "Malformed JSON", NESTED_TOO_DEEP, slug="malformed-json") from exc


def _reports_list(body: Any, limit: int) -> list[Any]:
    reports = body.get("reports") if isinstance(body, dict) else None
    if not isinstance(reports, list):
        raise HttpProblem(
            400, "Malformed request", 'The body must be {"reports": [ … ]}.', slug="malformed"
        )
    if not 1 <= len(reports) <= limit:
        raise HttpProblem(
            400,
            "Wrong batch size",
            f"Send between 1 and {limit} reports per request.",
            slug="batch-size",
            count=len(reports),
            limit=limit,
        )
    return reports


def _rejection(rejected: RejectedReport) -> dict[str, Any]:
    reasons = "; ".join(f"{p['field']}: {p['reason']}" for p in rejected.problems)
    problem = problem_body(
        422, "Invalid report", reasons, slug="invalid-report", errors=rejected.problems
    )
    return {"index": rejected.index, "status": "rejected", "problem": problem}


def _withdrawn(refused: intake.Refused) -> dict[str, Any]:
    problem = problem_body(
        422, "Hash withdrawn", refused.reason, slug="withdrawn-hash", hash=refused.hash
    )
    return {"index": refused.index, "status": "rejected", "problem": problem}


def _accepted(submitted: intake.Submitted, rejected: list[RejectedReport]) -> dict[str, Any]:
    """The 202 body (shaped as ReportsAccepted; the stored results go out as the Structs they
    are, msgspec encodes them as objects, because this is the hot path)."""
    stored = submitted.stored
    results: list[Any] = list(stored)
    if rejected or submitted.refused:
        results = [msgspec.structs.asdict(s) for s in stored]
        results += [_rejection(r) for r in rejected]
        results += [_withdrawn(r) for r in submitted.refused]
        results.sort(key=lambda r: int(r["index"]))
    created = sum(1 for s in stored if s.status == "created")
    reopened = sum(1 for s in stored if s.status == "reopened")
    return {
        "results": results,
        "created": created,
        "duplicate": len(stored) - created - reopened,
        "reopened": reopened,
        "rejected": len(rejected) + len(submitted.refused),
    }


@routes.get("/api/v1/cases/{case_id}")
async def read_case(request: web.Request) -> web.Response:
    token = await require_role(request, "hotline", "scanner")
    case_id = _int_path(request, "case_id")
    if not has_role(token, "hotline"):  # a scanner reads its own projection, nothing internal
        view = await scanner_view(request.app[POOL], case_id, token.id)
        if view is None:
            raise not_found("case")  # a scanner does not learn whether others' cases exist
        return web.json_response(view)
    case = await case_with_events(request.app[POOL], case_id)
    if case is None:
        raise not_found("case")
    return web.json_response(jsonable(case_out(case).model_dump()))


def _int_path(request: web.Request, name: str) -> int:
    try:
        value = int(request.match_info[name])
    except ValueError:
        raise not_found() from None
    if not 0 < value < 2**63:
        raise not_found()
    return value


def case_out(case: dict[str, Any]) -> CaseOut:
    hashes = {k: case[k] for k in ("sha256", "sha1", "md5", "pdq") if case.get(k)}
    return CaseOut(
        **{k: v for k, v in case.items() if k in CaseOut.model_fields and k != "events"},
        hashes=hashes,
        scanner=case["scanner_name"],
        removal_reason=_removal_reason(case["events"]),
        events=[CaseEvent(**e) for e in case["events"]],
    )


def _removal_reason(events: list[dict[str, Any]]) -> str | None:
    removals = [e for e in events if e["kind"] == "removal"]
    return (removals[-1]["detail"] or {}).get("why") if removals else None
