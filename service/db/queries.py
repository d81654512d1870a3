"""Loads the named SQL blocks of `queries/*.sql`.

A block starts with `-- name: some_name` followed by `-- ` description lines and the statement.
SQL stays readable SQL (EXPLAIN-able, greppable) instead of strings scattered through Python.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_BLOCK_START = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


def parse_blocks(text: str) -> dict[str, str]:
    """Split a queries file into {name: statement}; descriptions are kept as comments."""
    found: dict[str, str] = {}
    matches = list(_BLOCK_START.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        name = match.group(1)
        if name in found:
            raise ValueError(f"query {name!r} is defined twice")
        found[name] = text[match.end() : end].strip()
    return found


@cache
def all_queries() -> dict[str, str]:
    queries: dict[str, str] = {}
    folder = resources.files("service.db") / "queries"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            for name, sql in parse_blocks(entry.read_text("utf-8")).items():
                if name in queries:
                    raise ValueError(f"query {name!r} is defined in two files")
                queries[name] = sql
    return queries


def q(name: str) -> str:
    """The SQL of the named block."""
    return all_queries()[name]
