"""URL normalisation: one spelling per resource, so the same URL is the same case.

Scheme and host lower-cased, IDNA for international hosts, default ports dropped, fragment
dropped, percent-encoding normalised (unreserved characters decoded, hex upper-cased), path
dot-segments resolved. Only http and https. Query strings are kept as sent (their order can
matter to the server that serves the content).
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

import msgspec

MAX_URL_LENGTH = 8192
_DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Unreserved, reserved (gen-delims and sub-delims) and '%' of an already-encoded triplet.
_ALLOWED = _UNRESERVED | frozenset(":/?#[]@!$&'()*+,;=%")
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]")
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


class InvalidUrl(ValueError):
    """The string is not an http(s) URL we can track."""


class NormalisedUrl(msgspec.Struct, frozen=True):
    """A URL in its one spelling, its host, and the URL as sent. (A msgspec Struct: made once
    per report on the intake's hot path, in C; a frozen dataclass cost several times as much.)"""

    url: str
    host: str
    original: str


def normalise_url(raw: str) -> NormalisedUrl:
    """Return the canonical form of an http(s) URL or raise InvalidUrl with the reason."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidUrl("empty URL")
    if len(raw) > MAX_URL_LENGTH:
        raise InvalidUrl(f"URL longer than {MAX_URL_LENGTH} characters")
    return _already_normal(raw) or _normalise(raw)


# Most URLs scanners send are already in normal form (lower-case scheme and host, no port,
# no percent-escapes, no dot-segments, no fragment). Recognising them with one regex is about
# five times cheaper than taking them apart; a property test checks both ways agree.
_SIMPLE = re.compile(
    r"(https?)://([a-z0-9.-]{1,253})(/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*)?(\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*)?"
)


def _already_normal(raw: str) -> NormalisedUrl | None:
    match = _SIMPLE.fullmatch(raw)
    if match is None:
        return None
    scheme, host, path, query = match.groups()
    if (path and "/." in path) or query == "?" or not _is_normal_host(host):
        return None
    # With a path, the match spans the whole string and nothing needs changing: raw is normal.
    url = raw if path else f"{scheme}://{host}/{query or ''}"
    return NormalisedUrl(url, host, raw)


@lru_cache(maxsize=65536)
def _is_normal_host(host: str) -> bool:
    # Cached on its own too: the hot path asks it for every report of a batch.
    try:
        return _normalise_host(host) == host
    except InvalidUrl:
        return False  # the full path says why


def _normalise(raw: str) -> NormalisedUrl:
    text = raw.strip()
    if _FORBIDDEN.search(text):
        raise InvalidUrl("URL contains whitespace or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InvalidUrl(f"unparseable URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise InvalidUrl("only http and https URLs can be tracked")
    if parts.username is not None or parts.password is not None:
        raise InvalidUrl("URLs with credentials are not accepted")
    host = _normalise_host(parts.hostname or "")
    netloc = (
        _bracket(host) if port in (None, _DEFAULT_PORTS[scheme]) else f"{_bracket(host)}:{port}"
    )
    path = _normalise_path(parts.path)
    query = _normalise_percent(parts.query, keep_reserved=True)
    url = urlunsplit((scheme, netloc, path, query, ""))
    if len(url) > MAX_URL_LENGTH:
        raise InvalidUrl(f"URL longer than {MAX_URL_LENGTH} characters once normalised")
    return NormalisedUrl(url=url, host=host, original=raw)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


# Lower-case ASCII labels that each start with a letter: no IP address, no number, nothing to
# map or lower — already the normal form. One regex instead of the full path's checks (about
# half of a host's first normalisation); tests/unit/test_urls.py checks they agree.
_PLAIN_HOST = re.compile(
    r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


@lru_cache(maxsize=65536)
def _normalise_host(host: str) -> str:
    # Cached: a batch of reports mostly repeats a few hosts.
    if len(host) <= 253 and _PLAIN_HOST.fullmatch(host):
        return host
    return _normalise_any_host(host)


def _normalise_any_host(host: str) -> str:
    if not host:
        raise InvalidUrl("URL has no host")
    host = host.rstrip(".").lower()
    if host[:1].isdigit() or ":" in host:
        try:
            return ipaddress.ip_address(host).compressed
        except ValueError:
            pass
    ascii_host = host if host.isascii() else _idna(host)
    if _ends_in_number(ascii_host):
        # A browser fetches 2130706433, 0x7f.1 or 127.1 from an IPv4 address, never by DNS.
        return _whatwg_ipv4(ascii_host)
    if len(ascii_host) > 253 or not _DNS_NAME.fullmatch(ascii_host):
        raise InvalidUrl("host is not a valid DNS name")
    return ascii_host


# WHATWG URL standard, "IPv4 parser": a host whose last label is a number is an IPv4 address
# of one to four parts, each decimal, octal (leading 0) or hexadecimal (0x).
_HEX_PART = re.compile(r"0[xX][0-9A-Fa-f]*")
_OCTAL_PART = re.compile(r"0[0-9]+")  # 09 is no number: a leading 0 means octal
_DECIMAL_PART = re.compile(r"[0-9]+")
_OCTAL_DIGITS = frozenset("01234567")


def _ends_in_number(host: str) -> bool:
    last = host.split(".")[-1]
    return bool(last) and ((last.isascii() and last.isdigit()) or _ipv4_part(last) is not None)


def _ipv4_part(part: str) -> int | None:
    if _HEX_PART.fullmatch(part):
        return int(part[2:] or "0", 16)
    if _OCTAL_PART.fullmatch(part):
        return int(part, 8) if _OCTAL_DIGITS.issuperset(part) else None
    if _DECIMAL_PART.fullmatch(part):
        return int(part)
    return None


def _whatwg_ipv4(host: str) -> str:
    """The dotted form of a numeric host, or InvalidUrl where a browser fails too."""
    parsed = [_ipv4_part(part) for part in host.split(".")]
    numbers = [n for n in parsed if n is not None]
    if len(numbers) != len(parsed) or len(numbers) > 4:
        raise InvalidUrl("host ends in a number but is not a valid IPv4 address")
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise InvalidUrl("host is an IPv4 address out of range")
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(leading))
    return str(ipaddress.IPv4Address(value))


def _idna(host: str) -> str:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidUrl(f"host is not a valid internationalised name: {exc}") from exc


def _normalise_percent(text: str, *, keep_reserved: bool = True) -> str:
    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _encode_unsafe(_STRAY_PERCENT.sub("%25", _PERCENT.sub(fix, text)))


def _encode_unsafe(text: str) -> str:
    """Percent-encode (as UTF-8) every character RFC 3986 does not allow literally.

    Browsers send `ü`, spaces-turned-%20, `<`, `"` or a bidi override encoded; so do we, so that
    both spellings are one case and no stored URL carries characters that can fool a reader.
    """
    if text.isascii() and not _UNSAFE_ASCII.search(text):
        return text
    return "".join(c if c in _ALLOWED else _utf8_escape(c) for c in text)


def _utf8_escape(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


def _normalise_path(path: str) -> str:
    path = _normalise_percent(path)
    if not path:
        return "/"
    return _remove_dot_segments(path)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, on segments."""
    output: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                output.append("")
        elif segment == "..":
            if len(output) > 1:
                output.pop()
            if last:
                output.append("")
        else:
            output.append(segment)
    result = "/".join(output)
    return result if result.startswith("/") else "/" + result
