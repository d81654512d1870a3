"""The composition root of the rules: every policy built from Settings, once per process.

The web application keeps one `Policies` under the POLICIES key, the worker runtime builds one
for all its stages; handlers and stages read the policy they need from it instead of building
their own from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.escalation import LadderPolicy, Step
from service.domain.schedule import CheckPolicy
from service.domain.sla import SlaPolicy
from service.settings import Settings


@dataclass(frozen=True)
class Policies:
    """The rules the service applies, as configured."""

    sla: SlaPolicy  # when a hoster is overdue (per country, per hoster)
    ladder: LadderPolicy  # escalation steps, their interval, the re-notice (reminder) cadence
    checks: CheckPolicy  # re-check schedule and the removal-confirmation streak
    pdq_threshold: int  # how near a perceptual hash counts as the same picture


def sla_policy(settings: Settings) -> SlaPolicy:
    return SlaPolicy(settings.sla_default, settings.sla_by_country, settings.sla_by_hoster)


def ladder_policy(settings: Settings) -> LadderPolicy:
    """The escalation ladder; `renotice_interval` is the re-notice cadence (reminders)."""
    return LadderPolicy(
        steps=tuple(Step(name) for name in settings.escalation_steps),
        step_interval=settings.escalation_step_interval,
        renotice_interval=settings.renotice_interval,
    )


def check_policy(settings: Settings) -> CheckPolicy:
    """When a notified case is re-checked, and how many gone checks confirm a removal."""
    return CheckPolicy(
        dense_interval=settings.recheck_dense_interval,
        dense_for=settings.recheck_dense_for,
        hourly_interval=settings.recheck_hourly_interval,
        hourly_until=settings.recheck_hourly_until,
        sparse_interval=settings.recheck_sparse_interval,
        jitter=settings.recheck_jitter,
        watch_after=tuple(settings.watch_after_removal),
        held_min_interval=settings.held_min_probe_interval,
        streak_length=settings.removal_streak,
        min_span=settings.removal_min_span,
    )


def policies_from(settings: Settings) -> Policies:
    """Every policy, built once (the web app and the worker runtime each call this once)."""
    return Policies(
        sla=sla_policy(settings),
        ladder=ladder_policy(settings),
        checks=check_policy(settings),
        pdq_threshold=settings.pdq_threshold,
    )
