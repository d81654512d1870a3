"""JSON request bodies validated by a pydantic model, with RFC 9457 answers for bad ones."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from service.web.problems import HttpProblem


def parse_body(model: type[Any], body: bytes) -> Any:
    """`model` validated from the JSON `body`: 400 when it is no JSON, 422 naming each field."""
    try:
        return model.model_validate(json.loads(body))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HttpProblem(400, "Malformed JSON", str(exc), slug="malformed-json") from exc
    except ValidationError as exc:
        errors = [
            {
                "field": ".".join(map(str, e["loc"])) or "body",
                "reason": str(e["msg"]).removeprefix("Value error, "),
            }
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise HttpProblem(
            422, "Invalid input", "see errors", slug="invalid", errors=errors
        ) from exc
