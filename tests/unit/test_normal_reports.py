"""The intake's hot path (msgspec) accepts a body only when the full path (pydantic) would
accept it with the same values; everything else falls back, so the answers never differ."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.normal_reports import decode_normal_batch
from service.domain.reports import ReportIn, ValidReport, validate_body_fast

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)


def _report(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "url": "https://cdn1.example-host.net/media/1/image.jpg",
        "hashes": {"sha256": "ab" * 32},
        "media_type": "image/jpeg",
        "detected_at": "2026-12-07T10:00:00.123456+00:00",
        "source_ref": "scan-1",
    }
    report.update(changes)
    return report


def _body(*reports: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"reports": list(reports), **extra}).encode()


def _same_as_pydantic(body: bytes) -> None:
    """Whatever the hot path accepts, pydantic accepts with the very same values."""
    decoded = decode_normal_batch(body)
    if decoded is None:
        return
    raws = json.loads(body)["reports"]
    for fast, raw in zip(decoded, raws, strict=True):
        full = ReportIn.model_validate(raw)
        assert fast.url == full.url
        assert fast.hashes.present() == full.hashes.present()
        assert (fast.media_type, fast.source_ref) == (full.media_type, full.source_ref)
        assert fast.classification == full.classification
        assert fast.detected_at == full.detected_at


def test_a_well_formed_batch_takes_the_hot_path_with_the_values_sent() -> None:
    body = _body(_report(), _report(classification="A1", hashes={"md5": "0" * 32, "sha1": None}))
    checked = validate_body_fast(body, limit=1000, now=NOW, max_skew=SKEW)
    assert checked is not None and all(isinstance(c, ValidReport) for c in checked)
    _same_as_pydantic(body)


@pytest.mark.parametrize(
    "report",
    [
        _report(hashes={"sha256": "AB" * 32}),  # pydantic lower-cases it
        _report(hashes={"sha256": "ab" * 32 + "\n"}),  # pydantic strips it
        _report(hashes={}),  # no hash
        _report(hashes={"sha256": "ab" * 32, "crc32": "0"}),  # unknown hash
        _report(media_type="Image/JPEG"),
        _report(source_ref=" scan-1"),
        _report(source_ref="scan-1\u00a0"),
        _report(source_ref="scan\x00-1"),
        _report(classification=""),
        _report(detected_at="2026-12-07t10:00:00z"),
        _report(detected_at="2026-12-07T10:00:00"),  # no offset: pydantic refuses it too
        _report(detected_at="2026-02-30T10:00:00Z"),
        _report(detected_at=1765101600),
        _report(url=""),
        _report(extra="field"),
    ],
)
def test_anything_to_normalise_or_refuse_takes_the_full_path(report: dict[str, Any]) -> None:
    assert decode_normal_batch(_body(_report(), report)) is None


def test_other_top_level_keys_are_ignored_on_both_paths() -> None:
    assert decode_normal_batch(_body(_report(), note="x")) is not None


def test_a_batch_over_the_limit_takes_the_full_path() -> None:
    assert validate_body_fast(_body(_report(), _report()), limit=1, now=NOW, max_skew=SKEW) is None


_TEXT = st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
    ["scan-1", " a", "a ", "a\u2028", "\u3000a", "a\x1c", "x\ny", "A1", "ü"]
)
_HEX = st.builds(
    lambda hex_digits, before, after: before + hex_digits + after,
    st.text("0123456789abcdef", min_size=64, max_size=64)
    | st.text("0123456789ABCDEF", min_size=64, max_size=64)
    | st.text("0123456789abcdef", min_size=31, max_size=33),
    st.sampled_from(["", "", " ", "\t"]),
    st.sampled_from(["", "", "\n", "\u00a0"]),
)
_TIME = st.sampled_from(
    [
        "2026-12-07T10:00:00Z",
        "2026-12-07T10:00:00.5-00:00",
        "2026-12-07T10:00:00.1234567Z",
        "2026-12-07T23:59:60Z",
        "2026-12-07T10:00:00+23:59",
        "2026-12-07T10:00:00+24:00",
        "2026-12-07 10:00:00Z",
        "0000-01-01T00:00:00Z",
        "2026-12-07T10:00Z",
    ]
)


_CHANGES = st.one_of(
    st.tuples(st.just("hashes"), st.builds(lambda h: {"sha256": h}, _HEX)),
    st.tuples(st.just("hashes"), st.builds(lambda h: {"md5": h[:32], "pdq": None}, _HEX)),
    st.tuples(
        st.just("media_type"),
        st.sampled_from(["image/jpeg", "IMAGE/png", " image/png", "image/png\n", "x/", "a/b c"]),
    ),
    st.tuples(st.just("detected_at"), _TIME),
    st.tuples(st.just("source_ref"), _TEXT),
    st.tuples(st.just("classification"), st.none() | _TEXT),
)


@settings(max_examples=400, deadline=None)
@given(changes=st.lists(_CHANGES, min_size=1, max_size=2))
def test_the_hot_path_never_accepts_what_pydantic_would_change_or_refuse(
    changes: list[tuple[str, Any]],
) -> None:
    _same_as_pydantic(_body(_report(**dict(changes))))
