"""Webhook signatures as the Standard Webhooks spec defines them, checked with the official
`standardwebhooks` package and with the verification snippets the README gives receivers."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from service.domain.webhooks import new_secret, outcome_message

README = Path(__file__).resolve().parents[2] / "README.md"


def _message() -> tuple[str, bytes, dict[str, str]]:
    secret = new_secret()
    at = datetime(2026, 11, 28, 10, 4, tzinfo=UTC)
    message = outcome_message(812, "removed", at, {"case_id": 17, "outcome": "removed"})
    return secret, message.body, message.headers(secret, int(time.time()))


def test_the_official_package_verifies_our_signature() -> None:
    secret, body, headers = _message()
    assert Webhook(secret).verify(body, headers)["type"] == "case.removed"
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"17", b"18"), headers)


def _readme_snippets() -> list[str]:
    text = README.read_text("utf-8")
    section = text[text.index("### Webhooks") :]
    section = section[: section.index("\n## ")]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_readme_snippets_verify_our_messages_and_refuse_forgeries() -> None:
    snippets = _readme_snippets()
    assert len(snippets) == 2
    secret, body, headers = _message()
    for snippet in snippets:
        scope: dict[str, Any] = {}
        exec(snippet, scope)  # our own README's code
        verify = scope["verify"]
        assert verify(secret, body, headers)
        try:
            forged = verify(new_secret(), body, headers)
        except WebhookVerificationError:
            forged = False
        assert not forged
