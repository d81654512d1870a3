"""JSON answers: rows with datetimes and other non-JSON values made serialisable."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def jsonable(value: Any) -> Any:
    """Convert records/datetimes for JSON answers."""
    return json.loads(json.dumps(value, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
