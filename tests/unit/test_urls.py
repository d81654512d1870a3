"""URL normalisation: one spelling per resource; hostile input gives a clear error, never a crash."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.urls import InvalidUrl, normalise_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HTTP://Example.COM/a", "http://example.com/a"),
        ("http://example.com:80/", "http://example.com/"),
        ("https://example.com:443/x", "https://example.com/x"),
        ("https://example.com:8443/x", "https://example.com:8443/x"),
        ("http://example.com", "http://example.com/"),
        ("http://example.com/a/#frag", "http://example.com/a/"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/../../etc", "http://example.com/etc"),
        ("http://example.com/%7euser/%2f%41", "http://example.com/~user/%2FA"),
        ("http://example.com/p?b=2&a=%7e", "http://example.com/p?b=2&a=~"),
        ("http://bücher.example/x", "http://xn--bcher-kva.example/x"),
        ("http://EXAMPLE.com./x", "http://example.com/x"),
        ("http://[2001:DB8:0:0::1]:80/x", "http://[2001:db8::1]/x"),
        ("http://192.0.2.1:8080", "http://192.0.2.1:8080/"),
        ("http://a.example/ü/%c3%bc", "http://a.example/%C3%BC/%C3%BC"),
        ("http://a.example/x\u202ey", "http://a.example/x%E2%80%AEy"),
        ('http://a.example/<a>"q"?x=<b>', "http://a.example/%3Ca%3E%22q%22?x=%3Cb%3E"),
        ("http://a.example/100%zz", "http://a.example/100%25zz"),
        # A numeric last label makes the host IPv4, as browsers read it (WHATWG URL).
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0x7f.1/a", "http://127.0.0.1/a"),
        ("http://127.1/", "http://127.0.0.1/"),
        ("http://0177.0.0.01:8080/", "http://127.0.0.1:8080/"),
        ("http://192.0x00A8.0x1/", "http://192.168.0.1/"),
        ("http://0xffffffff./", "http://255.255.255.255/"),
        ("http://cdn.0x1g/", "http://cdn.0x1g/"),
    ],
)
def test_normalised_form(raw: str, expected: str) -> None:
    assert normalise_url(raw).url == expected


def test_the_original_string_is_kept() -> None:
    result = normalise_url("HTTP://Example.COM/a#x")
    assert result.original == "HTTP://Example.COM/a#x"
    assert result.host == "example.com"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("ftp://example.com/", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("http:///path", "no host"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com/\r\nX-Injected: 1", "control characters"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://example.com:99999/", "unparseable"),
        ("http://-bad-.example/", "not a valid DNS name"),
        ("http://" + "a" * 64 + ".example/", "not a valid"),
        ("http://example.com/" + "a" * 9000, "longer than"),
        ("http://<script>.example/", "not a valid"),
        ("http://4294967296/", "IPv4 address out of range"),
        ("http://256.1.1.1/", "IPv4 address out of range"),
        ("http://1.0x1000000/", "IPv4 address out of range"),
        ("http://1.2.3.4.5/", "not a valid IPv4 address"),
        ("http://1.2.3.09/", "not a valid IPv4 address"),
        ("http://files.example.123/", "not a valid IPv4 address"),
    ],
)
def test_invalid_urls_are_refused_with_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidUrl, match=reason):
        normalise_url(raw)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_string_is_normalised_or_refused_never_a_crash(text: str) -> None:
    with contextlib.suppress(InvalidUrl):
        normalise_url(text)


_hosts = st.from_regex(r"[a-zA-Z0-9]{1,12}(\.[a-zA-Z0-9]{1,12}){0,3}", fullmatch=True)
_paths = st.lists(
    st.sampled_from(["a", "B", ".", "..", "%7e", "%2F", "x y", "ü", "%zz", ""]), max_size=8
).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP"]),
    host=_hosts,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=_paths,
    query=st.text(alphabet="ab=&%7e", max_size=10),
)
def test_normalisation_is_idempotent(
    scheme: str, host: str, port: int | None, path: str, query: str
) -> None:
    raw = f"{scheme}://{host}{'' if port is None else f':{port}'}{path}?{query}"
    try:
        once = normalise_url(raw).url
    except InvalidUrl:
        return
    assert normalise_url(once).url == once


_simple_paths = st.lists(
    st.sampled_from(["a", "B", ".", "..", "x.y", "~u", "a=b", "", "@", ":"]), max_size=6
).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=500, deadline=None)
@given(
    host=st.from_regex(r"[a-z0-9]{1,8}(\.[a-z0-9-]{1,8}){0,3}\.?", fullmatch=True),
    path=st.one_of(st.just(""), _simple_paths),
    query=st.one_of(st.just(""), st.text(alphabet="ab=&?/.", max_size=6).map(lambda q: "?" + q)),
)
def test_the_fast_path_agrees_with_the_full_normalisation(host: str, path: str, query: str) -> None:
    from service.domain.urls import _already_normal, _normalise

    raw = f"https://{host}{path}{query}"
    fast = _already_normal(raw)
    try:
        slow = _normalise(raw)
    except InvalidUrl:
        assert fast is None
        return
    assert fast is None or fast == slow


@settings(max_examples=500, deadline=None)
@given(host=st.from_regex(r"[a-zA-Z0-9_-]{1,6}(\.[a-zA-Z0-9_-]{0,6}){0,3}\.?", fullmatch=True))
def test_a_plain_host_is_left_as_the_full_normalisation_would_leave_it(host: str) -> None:
    from service.domain.urls import _PLAIN_HOST, _normalise_any_host

    if _PLAIN_HOST.fullmatch(host):
        assert _normalise_any_host(host) == host
