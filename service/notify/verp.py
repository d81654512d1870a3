"""Per-notice return paths (VERP): `bounces+<notice>.<mac>@<TAKEDOWN_VERP_DOMAIN>`.

A bounce comes back to the envelope sender of the message it is about, so the notice is
known from the address even when the remote system returned nothing of the original (no
Message-ID). The MAC (HMAC-SHA256 under TAKEDOWN_VERP_SECRET, 64 bits, lower-case hex because
some MTAs lower-case local parts) makes the address unforgeable: nobody can mail "a bounce of
notice 17" and move its items.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from service.settings import Settings

PREFIX = "bounces"
_VERP = re.compile(rf"^{PREFIX}\+(\d{{1,18}})\.([0-9a-f]{{16}})@(.+)$", re.IGNORECASE)


def _mac(secret: str, notice_id: int) -> str:
    digest = hmac.new(secret.encode(), f"notice:{notice_id}".encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def return_path(settings: Settings, notice_id: int) -> str:
    """The envelope sender of notice `notice_id` (TAKEDOWN_MAIL_FROM when VERP is off)."""
    if not settings.verp_domain or settings.verp_secret is None:
        return settings.mail_from
    mac = _mac(settings.verp_secret.get_secret_value(), notice_id)
    return f"{PREFIX}+{notice_id}.{mac}@{settings.verp_domain}"


def notice_of(settings: Settings, addresses: Iterable[str]) -> int | None:
    """The notice whose authentic return path is among `addresses`, else None."""
    if not settings.verp_domain or settings.verp_secret is None:
        return None
    secret = settings.verp_secret.get_secret_value()
    for address in addresses:
        match = _VERP.fullmatch(address.strip().strip("<>"))
        if match is None or match.group(3).lower() != settings.verp_domain.lower():
            continue
        notice_id = int(match.group(1))
        if hmac.compare_digest(_mac(secret, notice_id), match.group(2).lower()):
            return notice_id
    return None
