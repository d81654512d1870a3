"""The code's shape: no import cycle in the service package (lazy and TYPE_CHECKING imports
count), and docs/architecture.md's "Where is …" table names files and functions that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import grimp
import pytest


def import_cycles(package: str) -> list[set[str]]:
    """The package's strongly connected groups of modules (Tarjan, iterative)."""
    graph = grimp.build_graph(package)
    edges = {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while (member := stack.pop()) != node:
                        group.add(member)
                    if group:
                        cycles.append(group | {node})
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in stack:
                low[node] = min(low[node], index[child])
    return cycles


def test_the_service_has_no_import_cycle() -> None:
    assert import_cycles("service") == []


WHERE_ROW = re.compile(r"^\|[^|]+\|\s*`([^`]+)`\s*\|\s*`([^`]+)`\s*\|\s*$")
ROOT = Path(__file__).resolve().parents[2]


def where_answers() -> list[tuple[str, str]]:
    """(file, function) of each row of docs/architecture.md's "Where is …" table."""
    text = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    return [m.groups() for line in text.splitlines() if (m := WHERE_ROW.match(line))]


def defined_names(path: Path) -> set[str]:
    """Functions and classes of a module, methods as Class.method."""
    names: set[str] = set()
    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}.{item.name}")
    return names


def test_the_where_is_table_has_at_least_twenty_answers() -> None:
    assert len(where_answers()) >= 20


@pytest.mark.parametrize(("file", "function"), where_answers())
def test_every_function_named_in_the_where_is_table_exists(file: str, function: str) -> None:
    path = ROOT / file
    assert path.is_file(), f"{file} does not exist"
    assert function in defined_names(path), f"{file} defines no {function}"
