"""Addresses that registries publish in place of a real mailbox, and how to spot them.

A notice sent to one of these reaches nobody who can remove anything (or reaches the registry
itself), so they are dropped before ranking. Pure: strings in, booleans out.
"""

from __future__ import annotations

import re

# Registry placeholders seen in real records (LACNIC redaction, APNIC transfer stubs, …).
PLACEHOLDER_ADDRESSES = frozenset(
    {
        "abuse@lacnic.net",
        "removed@lacnic.net",
        "no-email@apnic.net",
        "noemail@apnic.net",
    }
)
# RFC 2606 / RFC 6761 names that can never be a real recipient.
_RESERVED_DOMAINS = ("example.com", "example.net", "example.org", "example.edu")
_RESERVED_TLDS = ("example", "invalid", "test", "localhost", "local")
_REDACTION = re.compile(r"redacted|not[ ._-]?disclosed|privacy|withheld|data[ ._-]?protected", re.I)
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")


def normalise_address(raw: str) -> str:
    """Lower-case and strip an e-mail address as found in a vCard ("mailto:" tolerated)."""
    address = raw.strip().strip("<>").strip()
    if address.lower().startswith("mailto:"):
        address = address[7:]
    return address.lower()


def is_placeholder(address: str) -> bool:
    """True when the address is a registry placeholder, redacted, reserved or malformed."""
    address = normalise_address(address)
    if not _ADDRESS.fullmatch(address) or address in PLACEHOLDER_ADDRESSES:
        return True
    local, _, domain = address.rpartition("@")
    if _REDACTION.search(local) or _REDACTION.search(domain.split(".")[0]):
        return True
    if any(domain == d or domain.endswith("." + d) for d in _RESERVED_DOMAINS):
        return True
    return domain.rsplit(".", 1)[-1] in _RESERVED_TLDS
