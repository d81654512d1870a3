"""What each URL serves right now: hoster state machines evaluated in simulated time.

State is kept as facts (when which hoster was notified about which URL) and the phase is
derived lazily from the clock on every request, so jumping the clock needs no timers and
a test can `clock.advance(days)` and immediately see the hoster's reaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import StrEnum

from service.sim.clock import SimClock
from service.sim.world import AckAnswer, BehaviourKind, Hoster, UrlEntry, World

log = logging.getLogger(__name__)

_REMOVED_PHASE = {
    BehaviourKind.REMOVE_AFTER: "not_found",
    BehaviourKind.REUPLOAD: "not_found",
    BehaviourKind.GONE_410: "gone",
    BehaviourKind.PLACEHOLDER: "placeholder",
    BehaviourKind.SOFT404: "soft404",
    BehaviourKind.REDIRECT_REMOVED: "redirect",
    BehaviourKind.REENCODE: "reencoded",
}
# Hidden rather than removed: the file may still be there for signed-in users.
_HIDDEN_PHASE = {BehaviourKind.LOGIN_WALL: "login"}


class Phase(StrEnum):
    """What the web server does for a URL at one moment."""

    IMAGE = "image"
    NOT_FOUND = "not_found"
    GONE = "gone"
    PLACEHOLDER = "placeholder"
    SOFT404 = "soft404"
    REDIRECT = "redirect"
    REENCODED = "reencoded"
    CLOAK = "cloak"
    TIMEOUT = "timeout"
    RESET = "reset"
    LOGIN = "login"


@dataclass(frozen=True)
class AckRecord:
    """One answer a hoster's mail bot gave (or failed to give) on an acknowledgment page."""

    hoster: str
    url: str
    answer: AckAnswer
    status: int | None
    error: str | None = None


@dataclass
class UrlTruth:
    """Ground truth for one URL, in simulated seconds (None = never / not yet planned)."""

    notified_at: float | None
    removed_at: float | None
    reuploaded_at: float | None


@dataclass
class WorldState:
    """Mutable runtime state of a world: notices received and the simulated clock."""

    world: World
    clock: SimClock
    notices: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    acks: list[AckRecord] = field(default_factory=list)

    def notify(self, url: str, hoster: str | None = None, at: float | None = None) -> bool:
        """Record that `hoster` (default: the URL's origin) was told about `url`."""
        entry = self.world.url_entry(url)
        if entry is None:
            return False
        who = self.world.hoster(hoster or entry.hoster)
        when = self.clock.now() if at is None else at
        self.notices.setdefault((who.name, entry.url), []).append(when)
        if who.behaviour.kind is BehaviourKind.FORWARD and who.name != entry.hoster:
            # A CDN that forwards the complaint: the origin's clock starts too.
            self.notices.setdefault((entry.hoster, entry.url), []).append(when)
        log.info("sim: %s notified about a url of %s", who.name, entry.hoster)
        return True

    def phase(self, url: str, at_hoster: str | None = None) -> Phase | None:
        """What the URL serves now; None when the URL is not part of the world.

        `at_hoster`: asked at an address of that hoster's network (a request pinned to one
        address). A host whose addresses sit in several networks is served by each of them,
        and each removes (or not) when *it* is told."""
        entry = self.world.url_entry(url)
        if entry is None:
            return None
        now = self.clock.now()
        if at_hoster is not None and at_hoster != entry.hoster:
            hoster = self.world.hoster(at_hoster)
            if not hoster.cdn:
                return self._hoster_phase(hoster, entry, now)
        front = self.world.front_of(entry)
        if front is not None:
            front_phase = self._hoster_phase(front, entry, now)
            if front_phase is not Phase.IMAGE:
                return front_phase
        return self._hoster_phase(self.world.hoster(entry.hoster), entry, now)

    def truth(self, url: str) -> UrlTruth:
        entry = self.world.url_entry(url)
        if entry is None:
            raise KeyError(url)
        hoster = self.world.hoster(entry.hoster)
        notices = self.notices.get((hoster.name, entry.url), [])
        if not notices:
            return UrlTruth(None, None, None)
        first, beh = notices[0], hoster.behaviour
        removed = first + beh.delay if beh.kind in _REMOVED_PHASE else None
        back = removed + beh.reupload_after if removed is not None else None
        return UrlTruth(first, removed, back if beh.kind is BehaviourKind.REUPLOAD else None)

    def _hoster_phase(self, hoster: Hoster, entry: UrlEntry, now: float) -> Phase:
        beh = hoster.behaviour
        if beh.kind is BehaviourKind.TIMEOUT:
            return Phase.TIMEOUT
        if beh.kind is BehaviourKind.RESET:
            return Phase.RESET
        if beh.kind is BehaviourKind.CLOAK:
            return Phase.CLOAK
        removed = _REMOVED_PHASE.get(beh.kind) or _HIDDEN_PHASE.get(beh.kind)
        if removed is None:
            return Phase.IMAGE
        due = [n for n in self.notices.get((hoster.name, entry.url), []) if n + beh.delay <= now]
        if not due:
            return Phase.IMAGE
        if beh.kind is BehaviourKind.REUPLOAD and now >= max(due) + beh.delay + beh.reupload_after:
            return Phase.IMAGE
        return Phase(removed)
