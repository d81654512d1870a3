"""Pure resolution policy: placeholders, nested entities, ranking, routing, book specificity."""

from __future__ import annotations

from typing import Any

from service.domain.placeholders import is_placeholder
from service.domain.rdap_contacts import extract_contacts
from service.domain.routing import BookRule, Cdn, Hotline, RoutingFacts
from service.domain.routing_policy import decide
from service.resolve.bootstrap import Bootstrap
from service.resolve.contact_book import Subject, matching_rules
from service.resolve.cymru import parse_origin, reversed_labels


def _entity(handle: str, roles: list[str], *emails: str, **extra: Any) -> dict[str, Any]:
    card = [["fn", {}, "text", handle]] + [["email", {}, "text", e] for e in emails]
    return {"handle": handle, "roles": roles, "vcardArray": ["vcard", card], **extra}


def test_registry_placeholders_and_reserved_domains_are_never_recipients() -> None:
    for address in [
        "abuse@lacnic.net",
        "REMOVED@lacnic.net",
        "no-email@apnic.net",
        "redacted@host.example.com",
        "abuse@example.org",
        "x@y.invalid",
        "not-an-address",
    ]:
        assert is_placeholder(address), address
    assert not is_placeholder("abuse@pixelbarn.com")


def test_nested_abuse_role_found_nulls_tolerated_roles_case_insensitive() -> None:
    doc = {
        "entities": [
            None,
            _entity(
                "ORG",
                ["Registrant"],
                entities=[
                    None,
                    _entity("POC", ["ABUSE"], "Abuse@Host.NET"),
                    _entity("TECH", ["technical"], "noc@host.net"),
                ],
            ),
        ]
    }
    found = extract_contacts(doc)
    assert found.preferred == "abuse@host.net"
    assert [c.address for c in found.contacts] == ["abuse@host.net"]


def test_placeholder_in_abuse_role_leaves_no_sure_contact() -> None:
    doc = {
        "entities": [
            _entity("LAC", ["abuse", "technical"], "abuse@lacnic.net", "removed@lacnic.net")
        ]
    }
    found = extract_contacts(doc)
    assert found.preferred is None and found.no_abuse_role


def test_nir_irt_ranks_behind_the_isps_own_abuse_mailbox() -> None:
    doc = {
        "entities": [
            _entity("IRT-JPNIC-JP", ["abuse"], "hostmaster@nic.ad.jp"),
            _entity("ISP-JP", ["technical"], "abuse@isp.jp", "ops@isp.jp"),
        ]
    }
    assert [c.address for c in extract_contacts(doc).contacts] == [
        "abuse@isp.jp",
        "hostmaster@nic.ad.jp",
    ]


def _facts(**kw: Any) -> RoutingFacts:
    doc = {"entities": [_entity("A", ["abuse"], "abuse@host.net")]}
    values: dict[str, Any] = {
        "ips": ("203.0.113.9",),
        "network": None,
        "findings": extract_contacts(doc),
        "country": "DE",
    }
    values.update(kw)
    return RoutingFacts(**values)


def test_cdn_desk_comes_first_with_forwarding_note() -> None:
    decision = decide(_facts(cdn=Cdn("Fastly", "abuse@fastly.com", "published ranges")))
    assert [r.address for r in decision.recipients] == ["abuse@fastly.com", "abuse@host.net"]
    assert any("forward" in n for n in decision.notes)


def test_hotline_policies() -> None:
    hot = Hotline("DE", "eco", "hotline@eco.example", "de", "hotline")
    assert [r.role for r in decide(_facts(hotlines={"DE": hot})).recipients] == ["hotline"]
    both = Hotline("DE", "eco", "hotline@eco.example", "de", "both")
    assert [r.role for r in decide(_facts(hotlines={"DE": both})).recipients] == [
        "abuse",
        "hotline",
    ]
    direct = Hotline("DE", "eco", "hotline@eco.example", "de", "direct")
    assert [r.role for r in decide(_facts(hotlines={"DE": direct})).recipients] == ["abuse"]


def test_both_policy_and_contact_book_cc_are_copies_not_fallbacks() -> None:
    both = Hotline("DE", "eco", "hotline@eco.example", "de", "both")
    rule = BookRule(7, "domain:host.net", cc=("legal@host.net",))
    decision = decide(_facts(hotlines={"DE": both}, rules=(rule,)))
    assert [(r.address, r.copy) for r in decision.recipients] == [
        ("abuse@host.net", False),
        ("legal@host.net", True),
        ("hotline@eco.example", True),
    ]
    assert any("eco (DE) receives a copy" in n for n in decision.notes)
    assert decision.resolved


def test_direct_policy_hotline_is_a_fallback_and_says_so() -> None:
    direct = Hotline("DE", "eco", "hotline@eco.example", "de", "direct")
    guess = _facts(hotlines={"DE": direct}, findings=extract_contacts({"entities": []}))
    decision = decide(guess)
    assert [(r.address, r.copy) for r in decision.recipients] == [("hotline@eco.example", False)]
    assert any("fallback" in n for n in decision.notes)
    assert not any("also" in n for n in decision.notes)


def test_a_contact_book_cc_alone_is_nobody_to_act() -> None:
    rule = BookRule(7, "domain:host.net", do_not_contact=True, cc=("legal@host.net",))
    decision = decide(_facts(rules=(rule,)))
    assert not decision.resolved


def test_nxdomain_notifies_nobody() -> None:
    decision = decide(_facts(no_host_reason="NXDOMAIN: x does not exist"))
    assert decision.recipients == () and not decision.resolved


def test_most_specific_contact_rule_first() -> None:
    rows = [
        {"id": 1, "asn": 64500},
        {"id": 2, "cidr": "203.0.113.0/24", "address": "a@x.net"},
        {"id": 3, "cidr": "203.0.113.0/28", "address": "b@x.net"},
        {"id": 4, "domain": "host.net"},
        {"id": 5, "hoster": "HOST-NET"},
        {"id": 6, "domain": "other.net"},
    ]
    subject = Subject("img.host.net", ("203.0.113.9",), 64500, ("host-net",))
    assert [r.id for r in matching_rules(rows, subject)] == [4, 3, 2, 1, 5]


def test_cymru_and_bootstrap_parsing() -> None:
    origin = parse_origin("15169 36040 | 74.125.225.0/24 | US | arin | 2007-03-13")
    assert (origin.asn, origin.prefix, origin.country, origin.registry) == (
        15169,
        "74.125.225.0/24",
        "US",
        "arin",
    )
    assert reversed_labels("1.2.3.4") == "4.3.2.1"
    assert (
        reversed_labels("2001:db8::1").startswith("1.0.0.0.")
        and len(reversed_labels("2001:db8::1").split(".")) == 32
    )
    boot = Bootstrap()
    assert boot.registry_of_ip("200.57.141.161") == "lacnic"
    assert boot.ip_url("2001:4860::1") == "https://rdap.arin.net/registry/ip/2001:4860::1"
    assert boot.domain_url("norway.no") == "https://rdap.norid.no/domain/norway.no"
