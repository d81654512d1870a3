"""Which desk is the upstream, how it sits on the route, and when the ladder waits for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.domain.rdap_contacts import Contact, ContactFindings
from service.domain.routing import Hotline, Recipient, RoutingDecision
from service.domain.upstream import (
    LOOKUP_PATIENCE,
    UpstreamContact,
    add_upstream,
    ladder_upstream,
    lookup_failed,
    lookup_found,
    lookup_requested,
    pick_upstream,
    route_recipients_with,
)
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


NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HOST = {"address": "abuse@host.example", "role": "abuse", "confidence": "high", "rank": 1}


def test_the_ladder_asks_for_the_lookup_then_waits_for_it_a_bounded_time() -> None:
    asked = ladder_upstream([HOST], True, None, NOW)
    assert asked.action == "request" and asked.until == NOW + LOOKUP_PATIENCE
    waiting = ladder_upstream([HOST], True, lookup_requested(NOW), NOW + timedelta(minutes=5))
    assert waiting.action == "wait" and waiting.until == NOW + LOOKUP_PATIENCE
    late = ladder_upstream([HOST], True, lookup_requested(NOW), NOW + LOOKUP_PATIENCE)
    assert late.action == "go" and late.note is not None and "no answer within" in late.note


def test_the_step_goes_on_once_the_lookup_settled_or_when_there_is_nothing_to_look_up() -> None:
    failed = ladder_upstream([HOST], True, lookup_failed("registry down"), NOW)
    assert failed.action == "go" and failed.note == "upstream lookup: registry down"
    with_upstream = route_recipients_with([HOST], UP)
    assert [r["role"] for r in with_upstream] == ["abuse", "upstream"]
    assert ladder_upstream(with_upstream, True, lookup_found(UP, "rdap"), NOW).action == "go"
    assert ladder_upstream(with_upstream, True, None, NOW).action == "go"  # known at resolution
    assert ladder_upstream([HOST], False, None, NOW).action == "go"  # no address to look up
    hotline_only = [{"address": "tips@hotline.example", "role": "hotline", "rank": 1}]
    assert ladder_upstream(hotline_only, True, None, NOW).action == "go"
