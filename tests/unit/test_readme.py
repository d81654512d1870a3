"""The README tells the truth about settings, routes and commands: each list is read from the code."""

from __future__ import annotations

import re
from pathlib import Path

from service.settings import Settings
from service.web.app import create_app
from tests.cli_words import check_command_line, spelled_words

README = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")


def _section(title: str) -> str:
    """The text of one `## title` section, up to the next `## ` heading."""
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _first_cells(section: str, prefix: str) -> list[str]:
    """The first cell of every table row whose first cell starts with `prefix`."""
    rows = [line for line in section.splitlines() if line.startswith(f"| `{prefix}")]
    return [re.split(r"(?<!\\)\|", row)[1] for row in rows]


def _without_parameter_names(text: str) -> str:
    # The README may call a parameter {id} where the route says {case_id}.
    return re.sub(r"\{[^}]*\}", "{}", text)


def test_configuration_table_lists_exactly_the_settings() -> None:
    cells = _first_cells(_section("Configuration"), "TAKEDOWN_")
    listed = {name for cell in cells for name in re.findall(r"`(TAKEDOWN_[A-Z0-9_]+)`", cell)}
    settings = {f"TAKEDOWN_{field.upper()}" for field in Settings.model_fields}
    assert sorted(settings - listed) == [], "settings missing from the README table"
    assert sorted(listed - settings) == [], "README table lists variables that are no setting"


def test_api_section_names_every_route_with_its_method() -> None:
    app = create_app(Settings(database_url="postgresql://unused@127.0.0.1/unused"))
    routes = {
        f"{route.method} {_without_parameter_names(route.resource.canonical)}"
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    api = _without_parameter_names(_section("API"))
    assert len(routes) > 30  # the whole application, not an empty router
    # Spelled out as `METHOD /path` (a query string may follow), not only as a prefix of another.
    missing = [r for r in routes if not re.search(f"`{re.escape(r)}(?=[`?])", api)]
    assert sorted(missing) == [], "routes the README's API section does not mention"


def test_commands_table_names_real_commands_and_options() -> None:
    spelled = [
        command
        for cell in _first_cells(_section("Commands"), "takedown ")
        for command in re.findall(r"`takedown ([^`]*)`", cell)
    ]
    assert len(spelled) > 15
    for command in spelled:
        check_command_line(spelled_words(command))
