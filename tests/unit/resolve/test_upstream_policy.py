"""Which desk is the upstream, and how it sits on the routing decision (pure policy)."""

from __future__ import annotations

from service.domain.rdap_contacts import Contact, ContactFindings
from service.domain.routing import Hotline, Recipient, RoutingDecision
from service.domain.upstream import UpstreamContact, add_upstream, pick_upstream
from service.notify.outbox import _contacts

OWN = ContactFindings((Contact("abuse@host.example", "abuse", "rdap", "high"),), False)
UP = UpstreamContact("abuse@transit.example", "rdap-parent", "high", "NET-PARENT")


def findings(*contacts: tuple[str, str, str]) -> ContactFindings:
    return ContactFindings(
        tuple(Contact(a, role, "rdap", conf) for a, role, conf in contacts), False
    )


def decision(*recipients: Recipient, hotline: Hotline | None = None) -> RoutingDecision:
    return RoutingDecision(recipients, None, (), None, hotline, "SE")


def test_the_parent_desk_is_the_upstream_unless_it_is_the_networks_own() -> None:
    parent = findings(("abuse@transit.example", "abuse", "high"))
    assert pick_upstream(parent, OWN, "rdap-parent", "NET-P") == UpstreamContact(
        "abuse@transit.example", "rdap-parent", "high", "NET-P"
    )
    same = findings(("abuse@host.example", "abuse", "high"))
    assert pick_upstream(same, OWN, "rdap-parent", "NET-P") is None


def test_registry_desks_nir_irts_and_guesses_are_nobodys_upstream() -> None:
    registry_block = findings(("helpdesk@apnic.net", "abuse", "high"))
    nir = findings(("hostmaster@nic.or.kr", "nir-irt", "medium"))
    guess = findings(("noc@transit.example", "fallback", "low"))
    for found in (registry_block, nir, guess):
        assert pick_upstream(found, OWN, "rdap-parent", "X") is None
    # An abuse@ mailbox published without a role (AFRINIC style) is a desk.
    mailbox = findings(("abuse@transit.example", "abuse-mailbox", "medium"))
    assert pick_upstream(mailbox, OWN, "rdap-autnum", "AS1") is not None


def test_the_upstream_comes_last_and_replaces_a_low_guess_of_the_same_address() -> None:
    own = Recipient("abuse@host.example", "abuse", "rdap", "high", rank=1)
    abusix = Recipient("abuse@transit.example", "abuse", "abusix", "low", rank=2)
    result = add_upstream(decision(own, abusix), UP)
    assert [(r.address, r.role, r.rank) for r in result.recipients] == [
        ("abuse@host.example", "abuse", 1),
        ("abuse@transit.example", "upstream", 2),
    ]
    assert any("escalation" in n for n in result.notes)


def test_no_upstream_where_the_host_is_not_written_to_or_already_has_that_desk() -> None:
    hotline = Hotline("SE", "Hotline", "tips@hotline.example", "sv", "hotline")
    only_hotline = decision(Recipient("tips@hotline.example", "hotline", "j", "high", rank=1),
                            hotline=hotline)  # fmt: skip
    assert add_upstream(only_hotline, UP) == only_hotline
    sure = decision(Recipient("abuse@transit.example", "abuse", "rdap", "high", rank=1))
    assert add_upstream(sure, UP) == sure
    assert add_upstream(decision(), UP) == decision()


def test_a_notice_never_falls_back_to_the_upstream() -> None:
    route = {
        "registrar": None,
        "recipients": [
            {"address": "abuse@host.example", "role": "abuse", "confidence": "high", "rank": 1},
            {"address": "abuse@transit.example", "role": "upstream", "confidence": "high",
             "rank": 2},
        ],
    }  # fmt: skip
    contacts = _contacts(route)
    chosen = contacts.choose(set())
    assert chosen is not None and chosen.address == "abuse@host.example"
    assert contacts.choose({"abuse@host.example"}) is None  # own desk failing: not the upstream
