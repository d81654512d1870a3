"""Failed webhook deliveries back off exponentially, capped, for three days by default."""

from __future__ import annotations

from datetime import timedelta

from service.settings import Settings
from service.usecases.webhooks import retry_delay


def test_the_delay_doubles_from_the_base_up_to_the_cap() -> None:
    settings = Settings(
        webhook_retry_base=timedelta(seconds=10), webhook_retry_max=timedelta(minutes=1)
    )
    delays = [retry_delay(n, settings).total_seconds() for n in range(1, 6)]
    assert delays == [10, 20, 40, 60, 60]


def test_by_default_a_failing_delivery_is_retried_for_three_days() -> None:
    settings = Settings()
    assert settings.webhook_retry_for == timedelta(days=3)
    attempts, waited = 0, timedelta()
    while waited < settings.webhook_retry_for:
        attempts += 1
        waited += retry_delay(attempts, settings)
    # about 45 attempts: dense at first, then every two hours
    assert 30 < attempts < 60


def test_a_long_run_of_failures_does_not_overflow() -> None:
    # 10 s · 2**999 is far beyond what timedelta holds: the wait stays at the cap
    from service.workers.loop import backoff

    cap = timedelta(hours=6)
    assert backoff(1000, timedelta(seconds=30), cap) == cap
    settings = Settings()
    assert retry_delay(1000, settings) == settings.webhook_retry_max
