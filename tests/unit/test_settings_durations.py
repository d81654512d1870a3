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


def _validated_by(info: FieldInfo | Any, name: str) -> bool:
    metadata = getattr(info, "metadata", None) or getattr(info, "__metadata__", ())
    return any(getattr(getattr(m, "func", None), "__name__", "") == name for m in metadata)


def _element(annotation: Any) -> str | None:
    """'duration' for Duration, 'plain' for a bare timedelta (no seconds from the environment)."""
    if annotation is timedelta:
        return "plain"
    if get_args(annotation)[:1] == (timedelta,):
        return "duration" if _validated_by(annotation, "_seconds_or_iso") else "plain"
    return None


def _kind(info: FieldInfo) -> str | None:
    annotation, args = info.annotation, get_args(info.annotation)
    if annotation is timedelta:
        return "duration" if _validated_by(info, "_seconds_or_iso") else "plain"
    if get_origin(annotation) is list and args and (element := _element(args[0])):
        return "list" if element == "duration" else "plain"
    if get_origin(annotation) is dict and args and (element := _element(args[1])):
        return "map" if element == "duration" else "plain"
    if annotation is float and _validated_by(info, "_as_seconds"):
        return "seconds"
    return None


DURATIONS = {name: kind for name, info in Settings.model_fields.items() if (kind := _kind(info))}


def test_the_duration_fields_are_all_found() -> None:
    plain = [name for name, kind in DURATIONS.items() if kind == "plain"]
    assert plain == [], "use service.settings.Duration, not timedelta, for these"
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
            SECONDS,
            SHORT,
            MINUTE,
            SECONDS,
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
