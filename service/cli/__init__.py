"""`takedown` — the command line and the composition root.

Settings are built here, once, from the environment, and passed down; nothing else reads the
environment. Each area's commands live in a module of this package and register on `main`.
"""

from __future__ import annotations

# Importing the command modules registers their commands on `main`.
from service.cli import core as _core  # noqa: F401  (registration)
from service.cli import demo as _demo  # noqa: F401
from service.cli import mail as _mail  # noqa: F401
from service.cli import notify as _notify  # noqa: F401
from service.cli import ops as _ops  # noqa: F401
from service.cli import oversight as _oversight  # noqa: F401
from service.cli import probe as _probe  # noqa: F401
from service.cli import resolve as _resolve  # noqa: F401
from service.cli import webhooks as _webhooks  # noqa: F401
from service.cli import withdraw as _withdraw  # noqa: F401
from service.cli.base import main
from service.sim.cli import sim

# The simulated internet alone (`takedown sim serve`), for manual testing against a service.
main.add_command(sim)

__all__ = ["main"]
