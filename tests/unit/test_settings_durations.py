"""Every duration setting reads seconds ('60', '2.5') and ISO 8601 ('PT1M') from the environment."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, get_args, get_origin

import pytest
from pydantic.fields import FieldInfo

from service.settings import Settings

MINUTE, SECONDS, SHORT = timedelta(minutes=1), timedelta(seconds=60), timedelta(seconds=2.5)
# Names that say "this is a length of time": a new field named so must be a duration type.
TIME_WORDS = re.compile(r"(ttl|interval|timeout|window|span|wait|lease|_for|_until|_after|sla)")


def _is_seconds(info: FieldInfo) -> bool:
    return info.annotation is float and any(
        getattr(getattr(m, "func", None), "__name__", "") == "_as_seconds" for m in info.metadata
    )


def _kind(info: FieldInfo) -> str | None:
    annotation, args = info.annotation, get_args(info.annotation)
    if annotation is timedelta:
        return "duration"
    if get_origin(annotation) is list and args and get_args(args[0])[:1] == (timedelta,):
        return "list"
    if get_origin(annotation) is dict and args and get_args(args[1])[:1] == (timedelta,):
        return "map"
    return "seconds" if _is_seconds(info) else None


DURATIONS = {name: kind for name, info in Settings.model_fields.items() if (kind := _kind(info))}


def test_the_duration_fields_are_all_found() -> None:
    assert {"list", "map", "seconds", "duration"} == set(DURATIONS.values())
    assert DURATIONS["watch_after_removal"] == "list"
    assert DURATIONS["sla_by_country"] == DURATIONS["sla_by_hoster"] == "map"
    assert DURATIONS["dns_timeout"] == "seconds" and DURATIONS["lease"] == "duration"
    named_like_time = {name for name in Settings.model_fields if TIME_WORDS.search(name)}
    not_durations = {"resolve_partial_after_attempts"}
    assert named_like_time - not_durations - set(DURATIONS) == set()


def _read(monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> Any:
    monkeypatch.setenv(f"TAKEDOWN_{name.upper()}", text)
    return getattr(Settings(), name)


@pytest.mark.parametrize("name", sorted(DURATIONS))
def test_seconds_and_iso_8601(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    kind = DURATIONS[name]
    if kind == "list":
        assert _read(monkeypatch, name, '[60, "2.5", "PT1M", " 60 "]') == [
            SECONDS, SHORT, MINUTE, SECONDS
        ]
    elif kind == "map":
        value = _read(monkeypatch, name, '{"NL": 60, "DE": "2.5", "FR": "PT1M", "BE": "60"}')
        assert value == {"NL": SECONDS, "DE": SHORT, "FR": MINUTE, "BE": SECONDS}
    else:
        as_read = (lambda d: d.total_seconds()) if kind == "seconds" else (lambda d: d)
        assert _read(monkeypatch, name, "60") == as_read(SECONDS)
        assert _read(monkeypatch, name, "2.5") == as_read(SHORT)
        assert _read(monkeypatch, name, "PT1M") == as_read(MINUTE)


def test_a_bad_duration_is_refused_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAKEDOWN_NOTICE_GATHER_WINDOW", "five minutes")
    with pytest.raises(ValueError, match="notice_gather_window"):
        Settings()
