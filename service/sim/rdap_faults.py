"""Runtime fault rules for the RDAP server: 429 with Retry-After, 5xx, slow answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RdapFaultKind = Literal["429", "500", "502", "503", "504", "slow"]


@dataclass
class RdapFault:
    """A rule for paths starting with `prefix`, `remaining` more times (None: until cleared)."""

    prefix: str
    kind: RdapFaultKind
    remaining: int | None = None
    retry_after: int = 30
    delay: float = 2.0  # real seconds, for "slow"


class RdapFaults:
    """Fault rules by path prefix ("/" = everything, "/ripe/" = one registry)."""

    def __init__(self) -> None:
        self._rules: list[RdapFault] = []

    def add(
        self,
        kind: RdapFaultKind,
        prefix: str = "/",
        *,
        registry: str | None = None,
        count: int | None = None,
        retry_after: int = 30,
        delay: float = 2.0,
    ) -> RdapFault:
        """Inject a fault; `registry="lacnic"` is short for `prefix="/lacnic/"`."""
        rule = RdapFault(f"/{registry}/" if registry else prefix, kind, count, retry_after, delay)
        self._rules.append(rule)
        return rule

    def clear(self) -> None:
        self._rules.clear()

    def take(self, path: str) -> RdapFault | None:
        """The first rule matching `path`, consuming one use of a counted rule."""
        for rule in self._rules:
            if path.startswith(rule.prefix):
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                return rule
        return None
