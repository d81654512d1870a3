"""Verdicts from hashes, never from the status code alone (design.md §3)."""

from __future__ import annotations

import pytest

from service.domain.verdicts import (
    REMOVAL_WHYS,
    Decision,
    Failure,
    Observation,
    Verdict,
    Why,
    as_placeholder,
    combine,
    decide,
    pdq_distance,
)
from service.probe.login import LoginFormSniffer

SHA = "a" * 64
PDQ = "f" * 64
NEAR = "0" * 7 + "f" * 57  # 28 bits differ
FAR = "0" * 9 + "f" * 55  # 36 bits differ
EXPECTED = {"sha256": SHA, "pdq": PDQ}


def verdict(obs: Observation) -> Verdict:
    return decide(EXPECTED, obs, threshold=31).verdict


def test_exact_match_is_present_whatever_the_status() -> None:
    assert verdict(Observation(200, {"sha256": SHA})) is Verdict.PRESENT
    assert verdict(Observation(404, {"sha256": SHA.upper()})) is Verdict.PRESENT


def test_pdq_within_threshold_is_present_and_reports_the_distance() -> None:
    decision = decide(EXPECTED, Observation(200, {"sha256": "b" * 64}, pdq=NEAR), 31)
    assert (decision.verdict, decision.matched, decision.pdq_distance) == (
        Verdict.PRESENT,
        "pdq",
        28,
    )


def test_another_image_is_gone() -> None:
    decision = decide(EXPECTED, Observation(200, {"sha256": "b" * 64}, pdq=FAR), 31)
    assert (decision.verdict, decision.pdq_distance) == (Verdict.GONE, 36)
    assert pdq_distance(PDQ, FAR) == 36


@pytest.mark.parametrize("status", [404, 410, 451, 200])
def test_removal_statuses_and_other_content_are_gone(status: int) -> None:
    assert verdict(Observation(status, {"sha256": "c" * 64})) is Verdict.GONE


@pytest.mark.parametrize("status", [403, 429, 401, 500, 502, 503, 302, 400])
def test_suspect_statuses_are_inconclusive(status: int) -> None:
    assert verdict(Observation(status, {"sha256": "c" * 64})) is Verdict.INCONCLUSIVE


def test_only_nxdomain_among_failures_is_gone() -> None:
    for failure in Failure:
        expected = Verdict.GONE if failure is Failure.NXDOMAIN else Verdict.INCONCLUSIVE
        assert verdict(Observation(failure=failure)) is expected


def test_cloaking_profiles_combine_to_present_if_any_profile_sees_it() -> None:
    ours = Decision(Verdict.INCONCLUSIVE, "status 403")
    browser = Decision(Verdict.PRESENT, "sha256 match", "sha256")
    assert combine([ours, browser]) is browser
    assert combine([ours, Decision(Verdict.GONE, "status 404")]).verdict is Verdict.GONE
    assert combine([ours]) is ours


def why(obs: Observation) -> Why | None:
    return decide(EXPECTED, obs, threshold=31).why


def test_what_was_seen_is_said_for_every_kind_of_gone() -> None:
    other = {"sha256": "c" * 64}
    assert why(Observation(404, other)) is Why.HTTP_GONE
    assert why(Observation(failure=Failure.NXDOMAIN)) is Why.DNS_GONE
    assert why(Observation(200, other)) is Why.OTHER_CONTENT
    assert why(Observation(200, other, redirected=True)) is Why.REDIRECTED_AWAY
    assert why(Observation(404, other, redirected=True)) is Why.HTTP_GONE


def test_a_login_wall_is_inconclusive_whether_a_form_or_a_401() -> None:
    for obs in (
        Observation(200, {"sha256": "c" * 64}, login_form=True),
        Observation(200, {"sha256": "c" * 64}, redirected=True, login_form=True),
        Observation(401, {"sha256": "c" * 64}),
    ):
        decision = decide(EXPECTED, obs, threshold=31)
        assert (decision.verdict, decision.why) == (Verdict.INCONCLUSIVE, Why.LOGIN_WALL)
    assert Why.LOGIN_WALL not in REMOVAL_WHYS


def test_the_content_behind_a_login_form_page_is_still_present() -> None:
    assert verdict(Observation(200, {"sha256": SHA}, login_form=True)) is Verdict.PRESENT


def test_only_other_content_is_read_again_as_a_placeholder() -> None:
    other = decide(EXPECTED, Observation(200, {"sha256": "c" * 64}), 31)
    assert as_placeholder(other).why is Why.PLACEHOLDER
    assert as_placeholder(other).verdict is Verdict.GONE
    gone = decide(EXPECTED, Observation(404, {"sha256": "c" * 64}), 31)
    assert as_placeholder(gone) == gone


@pytest.mark.parametrize("split", [1, 20, 40, 60, 90])
def test_a_password_field_is_found_however_the_page_is_split(split: int) -> None:
    page = b'<html><form><input name=u><input  TYPE="Password" name=p></form></html>'
    sniffer = LoginFormSniffer()
    sniffer.feed(page[:split])
    sniffer.feed(page[split:])
    assert sniffer.found
    plain = LoginFormSniffer()
    plain.feed(b"<html><form><input type=text name=q></form> password reset</html>")
    assert not plain.found
