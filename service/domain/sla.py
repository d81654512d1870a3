"""Service-level deadlines: how long a hoster has to remove content after the first notice.

Pure policy. The allowance is the hoster's own (hotline agreements), else the hosting
country's norm (the Dutch 24 hours), else the default (72 hours). A case is *overdue* when it
is on the notice clock (notified, acknowledged or escalated), not removed, and past its
deadline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service.domain.states import CaseState

# States in which the hoster is on the clock and has not removed the content yet.
CLOCK_STATES = frozenset({CaseState.NOTIFIED, CaseState.ACKNOWLEDGED, CaseState.ESCALATED})


@dataclass(frozen=True)
class SlaPolicy:
    """Allowances per hoster and per country over a default."""

    default: timedelta
    by_country: Mapping[str, timedelta] = field(default_factory=dict)
    by_hoster: Mapping[str, timedelta] = field(default_factory=dict)

    def allowance(self, country: str | None, hoster: str | None) -> timedelta:
        """The time allowed: the hoster's, else the country's, else the default."""
        hosters = {name.casefold(): value for name, value in self.by_hoster.items()}
        if hoster and hoster.casefold() in hosters:
            return hosters[hoster.casefold()]
        return self.by_country.get((country or "").upper(), self.default)

    def deadline(
        self, first_notice_at: datetime | None, country: str | None, hoster: str | None
    ) -> datetime | None:
        """When removal is due; None while no notice has been accepted."""
        if first_notice_at is None:
            return None
        return first_notice_at + self.allowance(country, hoster)

    def overdue_by(
        self,
        state: CaseState,
        first_notice_at: datetime | None,
        country: str | None,
        hoster: str | None,
        now: datetime,
    ) -> timedelta | None:
        """How far past its deadline an open case is; None when it is not overdue."""
        due = self.deadline(first_notice_at, country, hoster)
        if state not in CLOCK_STATES or due is None or now <= due:
            return None
        return now - due

    def is_overdue(
        self,
        state: CaseState,
        first_notice_at: datetime | None,
        country: str | None,
        hoster: str | None,
        now: datetime,
    ) -> bool:
        return self.overdue_by(state, first_notice_at, country, hoster, now) is not None
