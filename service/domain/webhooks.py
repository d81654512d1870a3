"""Webhook messages as the Standard Webhooks specification defines them.

https://www.standardwebhooks.com/ : a message has a unique `webhook-id` (the same on every
retry, so receivers can drop duplicates), a `webhook-timestamp` (Unix seconds of the attempt)
and `webhook-signature`: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), where the
key is the base64-decoded part of the secret after `whsec_`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SECRET_PREFIX = "whsec_"  # noqa: S105  (the format's prefix, not a secret)
_KEY_BYTES = 32


def new_secret() -> str:
    """A fresh signing secret, `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_KEY_BYTES)).decode()


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one attempt."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def message_id(outcome_id: int) -> str:
    """The id of the message about one outcome (the same for every attempt and receiver)."""
    return f"msg_{outcome_id}"


@dataclass(frozen=True)
class Message:
    """One webhook request: its id and its JSON body, signed anew at each attempt."""

    id: str
    body: bytes

    def headers(self, secret: str, timestamp: int) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "webhook-id": self.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(secret, self.id, timestamp, self.body),
        }


def outcome_message(outcome_id: int, outcome: str, at: datetime, data: dict[str, Any]) -> Message:
    """The message for an outcome: `{"type": "case.<outcome>", "timestamp", "data"}`."""
    payload = {"type": f"case.{outcome}", "timestamp": at.isoformat(), "data": data}
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return Message(message_id(outcome_id), body)
