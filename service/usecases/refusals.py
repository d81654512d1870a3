"""Why a use case refuses an action: the kinds the pages, the API and the CLI tell apart."""

from __future__ import annotations


class ActionRefused(Exception):
    """An action that does not apply to the case as it is now (said why)."""


class ActionForbidden(ActionRefused):
    """The actor may not do this (holds are placed by supervisors)."""


class ActionInvalid(ActionRefused):
    """The action lacks what it needs (a route without an address)."""


class UnknownAction(ActionRefused):
    """No such action."""
