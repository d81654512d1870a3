"""The OpenAPI 3.1 document, generated from the pydantic models the handlers use.

Each module declares its operations with `operation(...)`; `build_document()` assembles them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from service import __version__


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    roles: tuple[str, ...]
    request: type[BaseModel] | None = None
    request_content_type: str = "application/json"
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    parameters: tuple[dict[str, Any], ...] = ()


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
        if model is not None:
            entry["content"] = {"application/json": {"schema": _ref(model, schemas)}}
        out[str(status)] = entry
    problem = {"application/problem+json": {"schema": _ref(Problem, schemas)}}
    statuses = ["400", "503"] + (["401", "403"] if op.roles else [])
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
