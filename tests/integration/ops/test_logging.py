"""Log output: JSON lines with case ids; attacker-controlled text cannot forge lines."""

from __future__ import annotations

import io
import json
import logging

from service.logging_setup import (
    TEXT_FORMAT,
    CaseFilter,
    JsonFormatter,
    SafeTextFormatter,
    case_context,
)


def _log_through(formatter: logging.Formatter, message: str, *args: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    handler.addFilter(CaseFilter())
    logger = logging.getLogger("takedown.test.logging")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with case_context(42):
            logger.warning(message, *args)
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_json_lines_carry_the_case_id() -> None:
    lines = _log_through(
        JsonFormatter(), "fetch failed for %s", "http://x/\r\nINJECTED"
    ).splitlines()
    first, second = (json.loads(line) for line in lines)
    assert len(lines) == 2
    assert first["case_id"] == 42 and "INJECTED" in first["message"]
    assert "case_id" not in second


def test_text_lines_cannot_be_split_by_crlf_in_a_url() -> None:
    out = _log_through(SafeTextFormatter(TEXT_FORMAT), "fetch %s", "http://x/\r\nFAKE ERROR")
    lines = out.splitlines()
    assert len(lines) == 2
    assert "\\x0d\\x0aFAKE ERROR" in lines[0] and lines[0].endswith("[case 42]")
