"""RDAP and DNS latency and errors reach the Prometheus registry served at /metrics, labelled
by registry and purpose (sim RDAP and DNS servers with their faults)."""

from __future__ import annotations

import pytest

from service import observability
from service.errors import TransientLookupError
from service.resolve.resolver import Resolver
from tests.integration.resolve.conftest import Peers


def _value(name: str, **labels: str) -> float:
    return observability.REGISTRY.get_sample_value(name, labels) or 0.0


def _timed(metric: str, **labels: str) -> float:
    return _value(f"{metric}_count", **labels)


async def test_every_lookup_is_timed_by_registry_and_purpose(resolver: Resolver) -> None:
    before = {
        "arin": _timed("takedown_rdap_request_seconds", registry="arin"),
        "address": _timed("takedown_dns_query_seconds", purpose="address"),
        "abusix": _timed("takedown_dns_query_seconds", purpose="abusix"),
        "cymru": _timed("takedown_dns_query_seconds", purpose="cymru"),
    }
    result = await resolver.resolve("http://img.pixelbarn.com/metrics.jpg")
    assert result.decision.resolved
    after = {
        "arin": _timed("takedown_rdap_request_seconds", registry="arin"),
        "address": _timed("takedown_dns_query_seconds", purpose="address"),
        "abusix": _timed("takedown_dns_query_seconds", purpose="abusix"),
        "cymru": _timed("takedown_dns_query_seconds", purpose="cymru"),
    }
    assert after["address"] - before["address"] == 2  # A and AAAA
    for key in ("arin", "abusix", "cymru"):
        assert after[key] > before[key], key


@pytest.mark.parametrize(
    ("fault", "registry", "url", "kind"),
    [
        ("429", "ripe", "http://files.tulpnet.nl/f.jpg", "429"),
        ("503", "apnic", "http://up.sakurabox.jp/a.jpg", "5xx"),
    ],
)
async def test_registry_refusals_are_counted_by_kind(
    resolver: Resolver, peers: Peers, fault: str, registry: str, url: str, kind: str
) -> None:
    before = _value("takedown_rdap_errors_total", registry=registry, kind=kind)
    peers.rdap.faults.add(fault, registry=registry)  # type: ignore[arg-type]
    with pytest.raises(TransientLookupError):
        await resolver.resolve(url)
    assert _value("takedown_rdap_errors_total", registry=registry, kind=kind) == before + 1


@pytest.mark.parametrize("kind", ["timeout", "servfail"])
async def test_dns_failures_are_counted_by_purpose_and_kind(
    resolver: Resolver, peers: Peers, kind: str
) -> None:
    before = _value("takedown_dns_errors_total", purpose="address", kind=kind)
    peers.dns.faults.set("files.tulpnet.nl", kind)  # type: ignore[arg-type]
    with pytest.raises(TransientLookupError):
        await resolver.resolve("http://files.tulpnet.nl/f.jpg")
    assert _value("takedown_dns_errors_total", purpose="address", kind=kind) >= before + 1


async def test_a_second_source_outage_is_counted_under_its_purpose(
    resolver: Resolver, peers: Peers
) -> None:
    before = _value("takedown_dns_errors_total", purpose="abusix", kind="servfail")
    peers.dns.faults.set("abuse-contacts.abusix.zone", "servfail")
    with pytest.raises(TransientLookupError):
        await resolver.resolve("http://196.11.240.215/x.jpg")
    assert _value("takedown_dns_errors_total", purpose="abusix", kind="servfail") == before + 1
