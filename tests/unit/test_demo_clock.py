"""The demo compresses the lifecycle's clock, not the durations a person lives through."""

from __future__ import annotations

import re
from datetime import timedelta

from service.cli.demo import REAL_TIME_FIELDS, compress
from service.settings import Settings

SCALE = 10080.0  # a week in a minute, the demo's default


def test_the_lifecycle_is_compressed() -> None:
    changed = compress(Settings(), SCALE)
    assert changed["recheck_dense_interval"] == timedelta(minutes=15) / SCALE
    assert changed["sla_by_country"] == {"NL": timedelta(hours=24) / SCALE}
    assert changed["watch_after_removal"][0] == timedelta(days=1) / SCALE


def test_sessions_links_and_throttles_stay_in_real_time() -> None:
    settings = Settings()
    demo = settings.model_copy(update=compress(settings, SCALE))
    # An analyst who logs in to the demo's pages stays logged in for the real 8 hours, and
    # a notice's acknowledgment link works for the real 30 days.
    assert demo.analyst_session_ttl == timedelta(hours=8)
    assert demo.analyst_session_idle == settings.analyst_session_idle
    assert demo.ack_token_ttl == timedelta(days=30)
    # Login throttles are rates per real minute and hour; the demo leaves them alone.
    assert demo.login_rate_per_minute == settings.login_rate_per_minute
    assert demo.login_account_failures_per_hour == settings.login_account_failures_per_hour


def test_every_duration_a_person_lives_through_is_kept_in_real_time() -> None:
    # A new session, login or link duration scaled by the demo would end its pages in
    # fractions of a second (the idle timeout did, after it was added).
    personal = re.compile(r"session|login|ack_token|totp|lockout|password")
    durations = compress(Settings(), SCALE).keys() | REAL_TIME_FIELDS
    lived = {name for name in Settings.model_fields if personal.search(name)}
    assert lived & durations <= REAL_TIME_FIELDS
    assert {"analyst_session_ttl", "analyst_session_idle", "ack_token_ttl"} <= REAL_TIME_FIELDS
