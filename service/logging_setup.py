"""Log output: human-readable text or one JSON object per line, with the case being worked on.

`case_context(case_id)` marks the current task (contextvars: per asyncio task) as working on
a case; every record logged meanwhile carries `case_id`, as does a record logged with
`extra={"case_id": …}`. Outside the layers (like settings): anything may import it.

Log lines are data an attacker can influence (URLs, host names, error texts from peers):
the JSON form escapes them by construction; the text form replaces control characters so
that a CRLF in a reported URL cannot forge a second log line.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

_CASE: ContextVar[int | None] = ContextVar("takedown_case_id", default=None)
_HANDLER_NAME = "takedown"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_CONTROL = {c: f"\\x{c:02x}" for c in range(32) if c != 9}


@contextmanager
def case_context(case_id: int) -> Iterator[None]:
    """Attach `case_id` to every record logged inside the block (this task only)."""
    token = _CASE.set(case_id)
    try:
        yield
    finally:
        _CASE.reset(token)


class CaseFilter(logging.Filter):
    """Copies the current case id onto records that do not carry one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "case_id", None) is None:
            record.case_id = _CASE.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, case_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        case_id = getattr(record, "case_id", None)
        if case_id is not None:
            entry["case_id"] = case_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class SafeTextFormatter(logging.Formatter):
    """The text format with control characters (CR, LF, ESC, …) made visible."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        # Only the message line: a traceback appended after it keeps its own line breaks.
        text = super().formatMessage(record)
        case_id = getattr(record, "case_id", None)
        if case_id is not None:
            text = f"{text} [case {case_id}]"
        return text.translate(_CONTROL)


def configure_logging(level: int, fmt: Literal["text", "json"] = "text") -> None:
    """Install our stderr handler on the root logger (replacing one installed earlier;
    handlers of others, e.g. pytest's capture, stay). Pillow and the mail libraries never log
    below WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if fmt == "json" else SafeTextFormatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    handler.addFilter(CaseFilter())
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Pillow decodes the images the probe checks, and its debug records quote the file
    # (repr() of TIFF tag values, PNG chunk ids, ICC profile names): content bytes must
    # never reach a log, so its loggers stay at WARNING whatever -v asks for.
    logging.getLogger("PIL").setLevel(max(level, logging.WARNING))
    # The same for incoming mail, which can carry the material as an attachment: aioimaplib
    # logs every byte it receives at DEBUG, aiosmtpd ("mail.log") every DATA line of an LMTP
    # delivery.
    for name in ("aioimaplib", "mail.log"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
