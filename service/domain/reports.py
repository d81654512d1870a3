"""What a scanner reports: the intake models and their validation rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import msgspec
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from service.domain.normal_reports import NormalReport, decode_normal_batch
from service.domain.urls import InvalidUrl, NormalisedUrl, normalise_url

HASH_LENGTHS = {"sha256": 64, "sha1": 40, "md5": 32, "pdq": 64}
HashAlgorithm = Literal["sha256", "sha1", "md5", "pdq"]
MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
# No control characters: PostgreSQL refuses NUL in text (which would fail the whole batch at
# insert time), and the others have no business in a reference shown to analysts.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"
ShortText = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=500, strip_whitespace=True, pattern=NO_CONTROL_CHARACTERS
    ),
]


def _hex(length: int) -> object:
    # Checked in pydantic's core (no Python call per report); _problems words the error.
    return StringConstraints(
        strip_whitespace=True, to_lower=True, pattern=f"^[0-9a-f]{{{length}}}$"
    )


class Hashes(BaseModel):
    """The content's hashes: exact (sha256, sha1, md5) and perceptual (pdq). At least one."""

    model_config = ConfigDict(extra="forbid")

    sha256: Annotated[str, _hex(64)] | None = None
    sha1: Annotated[str, _hex(40)] | None = None
    md5: Annotated[str, _hex(32)] | None = None
    pdq: Annotated[str, _hex(64)] | None = None

    def present(self) -> dict[str, str]:
        pairs = (("sha256", self.sha256), ("sha1", self.sha1), ("md5", self.md5), ("pdq", self.pdq))
        return {name: value for name, value in pairs if value is not None}


class ReportIn(BaseModel):
    """One confirmed-match URL as a scanner submits it."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[str, StringConstraints(min_length=1, max_length=8192)]
    hashes: Hashes
    media_type: Annotated[
        str,
        StringConstraints(
            min_length=3,
            max_length=255,
            strip_whitespace=True,
            to_lower=True,
            pattern=MEDIA_TYPE.pattern,
        ),
    ]
    detected_at: AwareDatetime
    source_ref: ShortText
    classification: ShortText | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> ReportIn:
        hashes = self.hashes
        if (
            hashes.sha256 is None
            and hashes.sha1 is None
            and hashes.md5 is None
            and hashes.pdq is None
        ):
            raise ValueError("at least one hash (sha256, sha1, md5 or pdq) is required")
        return self


class ReportsIn(BaseModel):
    """The body of POST /api/v1/reports (items are validated one by one)."""

    reports: list[dict[str, object]] = Field(min_length=1, max_length=1000)


class ValidReport(msgspec.Struct, frozen=True):
    """A report that passed validation, with its URL normalised (a msgspec Struct, made in C:
    a thousand a request on the hot path, where a frozen dataclass cost five times as much).

    Its report is a ReportIn, or from the hot path a NormalReport with the same values."""

    index: int
    report: ReportIn | NormalReport
    url: NormalisedUrl


class RejectedReport(BaseModel):
    index: int
    problems: list[dict[str, object]]


def validate_report(
    index: int, raw: object, *, now: datetime, max_skew: timedelta
) -> ValidReport | RejectedReport:
    """Validate one raw report; a failure carries the field paths and reasons."""
    problems: list[dict[str, object]] = []
    url = _checked_url(raw, problems)
    try:
        report = ReportIn.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_problems(exc))
        return RejectedReport(index=index, problems=problems)
    if report.detected_at > now.astimezone(UTC) + max_skew:
        problems.append({"field": "detected_at", "reason": "detected_at is in the future"})
    if problems or url is None:
        return RejectedReport(index=index, problems=problems)
    return ValidReport(index=index, report=report, url=url)


def _checked_url(raw: object, problems: list[dict[str, object]]) -> NormalisedUrl | None:
    """Normalise the URL once; its failure is reported beside the model's own problems."""
    url = raw.get("url") if isinstance(raw, dict) else None
    if not isinstance(url, str):
        return None  # the model reports a missing or non-string url
    try:
        return normalise_url(url)
    except InvalidUrl as exc:
        problems.append({"field": "url", "reason": str(exc)})
        return None


def _problems(exc: ValidationError) -> list[dict[str, object]]:
    problems: list[dict[str, object]] = []
    for error in exc.errors(include_url=False, include_input=False):
        loc = [str(part) for part in error["loc"]]
        field = ".".join(loc) or "hashes"
        problems.append({"field": field, "reason": _reason(loc, error)})
    return problems


def _reason(loc: list[str], error: Any) -> str:
    """Pydantic's message, reworded where a scanner operator deserves a plainer one."""
    if error["type"] == "string_pattern_mismatch":
        if loc[:1] == ["hashes"] and loc[-1] in HASH_LENGTHS:
            return f"{loc[-1]} must be {HASH_LENGTHS[loc[-1]]} hexadecimal characters"
        if loc == ["media_type"]:
            return "media_type must look like type/subtype, e.g. image/jpeg"
        if loc in (["source_ref"], ["classification"]):
            return f"{loc[0]} must not contain control characters (NUL, tab, newline, …)"
    return str(error["msg"]).removeprefix("Value error, ")


_BATCH = TypeAdapter(list[ReportIn])


def validate_batch(
    raws: list[object], *, now: datetime, max_skew: timedelta
) -> list[ValidReport | RejectedReport]:
    """Validate a whole batch; one pass in pydantic's core when every report is well-formed."""
    try:
        models = _BATCH.validate_python(raws)
    except ValidationError:
        # Some report is malformed: validate one by one so each failure stays with its index.
        return [validate_report(i, raw, now=now, max_skew=max_skew) for i, raw in enumerate(raws)]
    latest = now.astimezone(UTC) + max_skew
    return [_finish(i, model, latest) for i, model in enumerate(models)]


def validate_body_fast(
    body: bytes, *, limit: int, now: datetime, max_skew: timedelta
) -> list[ValidReport | RejectedReport] | None:
    """Decode and check a body whose reports are all in stored form in one pass (msgspec).

    None means "something is off or needs normalising" — the caller then takes the full
    path (pydantic), which normalises what it may and finds and words each problem with its
    index.
    """
    reports = decode_normal_batch(body)
    if reports is None or len(reports) > limit:
        return None
    latest = now.astimezone(UTC) + max_skew
    return [_finish(i, report, latest) for i, report in enumerate(reports)]


def _finish(
    index: int, report: ReportIn | NormalReport, latest: datetime
) -> ValidReport | RejectedReport:
    problems: list[dict[str, object]] = []
    try:
        url = normalise_url(report.url)
    except InvalidUrl as exc:
        problems.append({"field": "url", "reason": str(exc)})
    if report.detected_at > latest:
        problems.append({"field": "detected_at", "reason": "detected_at is in the future"})
    if problems:
        return RejectedReport(index=index, problems=problems)
    return ValidReport(index=index, report=report, url=url)
