"""The OpenAPI 3.1 document, generated from the pydantic models the handlers use.

Each module declares its operations with `operation(...)`; `build_document()` assembles them.
Besides the JSON API it describes the probes operators script against (/healthz, /readyz,
/metrics) and the hosters' acknowledgment page (/ack/{token}, HTML and a form POST).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from service import __version__


@dataclass(frozen=True)
class Body:
    """A response that is not a JSON model: HTML pages, the Prometheus text format, or a
    status answered in more than one media type (`content` maps media type to schema)."""

    content: dict[str, dict[str, Any]]
    description: str = ""


HTML = {"text/html": {"schema": {"type": "string"}}}
# Problem details for a `Body`; the schema is always part of the document (build_document).
PROBLEM_JSON = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

# Every API operation can meet malformed input and a database outage (problem JSON).
DEFAULT_PROBLEMS = (400, 503)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    roles: tuple[str, ...]
    request: type[BaseModel] | None = None
    request_content_type: str = "application/json"
    responses: dict[int, type[BaseModel] | Body | None] = field(default_factory=dict)
    parameters: tuple[dict[str, Any], ...] = ()
    # Statuses added as problem JSON when `responses` does not name them already.
    problems: tuple[int, ...] = DEFAULT_PROBLEMS
    description: str | None = None
    # Security requirement objects overriding the one implied by `roles` ({} = anonymous).
    security: tuple[dict[str, list[str]], ...] | None = None


OPERATIONS: list[Operation] = []


def operation(op: Operation) -> Operation:
    OPERATIONS.append(op)
    return op


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas[name] = sub
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _responses(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, model in op.responses.items():
        entry: dict[str, Any] = {"description": f"HTTP {status}"}
        if isinstance(model, Body):
            entry["content"] = model.content
            entry["description"] = model.description or entry["description"]
        elif model is not None:
            entry["content"] = {"application/json": {"schema": _ref(model, schemas)}}
        out[str(status)] = entry
    problem = {"application/problem+json": {"schema": _ref(Problem, schemas)}}
    statuses = [str(code) for code in op.problems] + (["401", "403"] if op.roles else [])
    for code in statuses:
        out.setdefault(code, {"description": f"HTTP {code}", "content": problem})
    return out


def _operation(op: Operation, schemas: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method}_{op.path}".replace("/", "_").replace("{", "").replace("}", ""),
        "responses": _responses(op, schemas),
    }
    if op.roles:
        entry["security"] = [{"bearer": []}]
        entry["description"] = f"Token roles: {', '.join(op.roles)}."
    if op.security is not None:
        entry["security"] = list(op.security)
    if op.description:
        entry["description"] = op.description
    if op.parameters:
        entry["parameters"] = list(op.parameters)
    if op.request is not None:
        entry["requestBody"] = {
            "required": True,
            "content": {op.request_content_type: {"schema": _ref(op.request, schemas)}},
        }
    return entry


def build_document() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    _ref(Problem, schemas)
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Takedown Tracker", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
