"""The stages a worker can run, by name. Each module exposes `build(pool, settings) -> Stage`
(or `build(pool, settings, policies)` when it applies rules: SLA, ladder, re-check schedule).

Stages hand work to each other only through the jobs table:
  intake   → 'resolve' job per new case
  resolve  → writes case_routes; resolved cases get an 'outbox' job
  outbox   → turns resolved cases into notice items grouped per recipient; 'notify' jobs
  notify   → sends a notice (ref_id = notice id); its cases become notified and get 'probe' jobs
  probe    → re-checks by hash on the schedule; removal, reappearance ('outbox' again)
  escalate → reminders and the escalation ladder for overdue cases; at the upstream step
             an 'upstream' job for a route without the upstream provider's desk
  upstream → looks that desk up in RDAP, stores it on the route, wakes the escalate sweep
  webhook  → one periodic job per scanner's receiver: outcomes become signed deliveries
  cdn      → a case behind a CDN with an abuse-report API: the report filed through it (the
             case notified), read back later; the origin host it names gets a notice
  partners → hands cases of a 'forward' country to the partner's instance; mirrors its feed
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable

import asyncpg

from service.settings import Settings
from service.usecases.policies import Policies, policies_from
from service.workers.loop import Stage

STAGE_MODULES = {
    "resolve": "service.workers.resolve_stage",
    "outbox": "service.workers.outbox_stage",
    "notify": "service.workers.notify_stage",
    "probe": "service.workers.probe_stage",
    "escalate": "service.workers.escalate_stage",
    "upstream": "service.workers.upstream_stage",
    "webhook": "service.workers.webhook_stage",
    "cdn": "service.workers.cdn_stage",
    "partners": "service.workers.partner_stage",
}


def available_stages() -> list[str]:
    """Stages whose module exists in this build."""
    names = []
    for name, module in STAGE_MODULES.items():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        names.append(name)
    return names


def build_stage(
    name: str, pool: asyncpg.Pool, settings: Settings, policies: Policies | None = None
) -> Stage:
    """The named stage; stages that apply rules get the process's one `Policies`."""
    if name not in STAGE_MODULES:
        raise ValueError(f"unknown stage {name!r}; known: {', '.join(STAGE_MODULES)}")
    module = importlib.import_module(STAGE_MODULES[name])
    build: Callable[..., Stage] = module.build
    if "policies" in inspect.signature(build).parameters:
        return build(pool, settings, policies or policies_from(settings))
    return build(pool, settings)
