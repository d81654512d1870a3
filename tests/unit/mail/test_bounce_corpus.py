"""The bounce parser over real bounces and auto-replies from many mail systems
(../shared/bounce-corpus, with the expected answers): every field right for every sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.notify.incoming import auto_reply_of
from service.notify.returned import is_bounce, parse_message, read_bounce

CORPUS = Path(__file__).resolve().parents[4] / "shared" / "bounce-corpus"
FIELDS = ("kind", "message_id", "class", "final", "recipient", "original_recipient")

pytestmark = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"bounce corpus not found at {CORPUS} (../shared absent)"
)


def answer(raw: bytes) -> dict[str, Any]:
    """The parser's answer in the corpus' terms."""
    message = parse_message(raw)
    assert message is not None
    if not is_bounce(message):
        reply = auto_reply_of(message)
        return {
            "kind": "auto_reply" if reply is not None else "human",
            "message_id": reply.in_reply_to if reply else None,
            "class": None,
            "final": False,
            "recipient": reply.sender if reply else None,
            "original_recipient": None,
        }
    bounce = read_bounce(message, raw)
    first = bounce.recipients[0] if bounce.recipients else None
    status = first.status if first else ""
    return {
        "kind": "bounce",
        "message_id": bounce.message_ids[0] if bounce.message_ids else None,
        "class": {"5": "permanent", "4": "temporary"}.get(status[:1]),
        "final": first.final if first else None,
        "recipient": first.address if first else None,
        "original_recipient": first.original if first else None,
    }


def expected_of(entry: dict[str, Any]) -> dict[str, Any]:
    values = {name: entry[name] for name in FIELDS}
    for name in ("recipient", "original_recipient"):
        values[name] = values[name].lower() if values[name] else None
    return values


def test_every_sample_is_read_right() -> None:
    expected = json.loads((CORPUS / "expected.json").read_text())
    wrong: dict[str, dict[str, Any]] = {}
    field_hits = dict.fromkeys(FIELDS, 0)
    for name, entry in sorted(expected.items()):
        got = answer((CORPUS / "eml" / name).read_bytes())
        want = expected_of(entry)
        misses = {f: (got[f], want[f]) for f in FIELDS if got[f] != want[f]}
        for f in FIELDS:
            field_hits[f] += f not in misses
        if misses:
            wrong[name] = misses
    total = len(expected)
    right = total - len(wrong)
    print(
        f"\nbounce corpus: {right}/{total} samples right in every field ({100 * right / total:.1f} %)"
    )
    for f in FIELDS:
        print(f"  {f}: {field_hits[f]}/{total}")
    for name, misses in wrong.items():
        print(f"  {name}: {misses}")
    assert not wrong, f"{len(wrong)} of {total} samples read wrong"
