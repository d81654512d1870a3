"""docs/security.md stays true: every test and test file it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"


def _all_test_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        names.update(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.M))
    return names


def test_every_test_the_map_names_exists() -> None:
    text = DOC.read_text()
    named = set(re.findall(r"`(test_\w+)`", text))
    assert len(named) > 20
    assert sorted(named - _all_test_names()) == []


def test_every_test_file_the_map_names_exists() -> None:
    text = DOC.read_text()
    files = {f"tests/security/{name}" for name in re.findall(r"security/(test_\w+\.py)", text)}
    files |= set(re.findall(r"(tests/[\w/]+\.py)", text))
    folders = set(re.findall(r"(tests/[\w/]+?)(?=[ ;)|`]|$)", text, re.M)) - files
    assert files and all((ROOT / f).is_file() for f in files), sorted(
        f for f in files if not (ROOT / f).is_file()
    )
    assert all((ROOT / f).exists() for f in folders), sorted(
        f for f in folders if not (ROOT / f).exists()
    )
