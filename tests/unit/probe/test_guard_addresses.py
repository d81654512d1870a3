"""Which addresses count as public for the SSRF guard."""

from __future__ import annotations

import pytest

from service.probe.guard import AddressGuard, is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "0.0.0.0",
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "ff02::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public(address)
    assert not AddressGuard(allow_private=False).allows(address)
    assert AddressGuard(allow_private=True).allows(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.0.0.1",
        "64:ff9b::7f00:1",  # NAT64 well-known prefix: 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # 169.254.169.254 (cloud metadata)
        "64:ff9b::192.168.1.1",
        "64:ff9b:1::808:808",  # local-use NAT64: a translator of the local network
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::10.0.0.1",
        "::169.254.169.254",
    ],
)
def test_ipv6_forms_embedding_a_non_public_ipv4_address_are_refused(address: str) -> None:
    assert not is_public(address)
    assert not AddressGuard(allow_private=False).allows(address)


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "64:ff9b::93.184.216.34",
        "2002:808:808::1",
        "::8.8.8.8",
    ],
)
def test_ipv6_forms_embedding_a_public_ipv4_address_pass(address: str) -> None:
    assert is_public(address)
