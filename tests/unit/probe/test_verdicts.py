"""Verdicts from hashes, never from the status code alone (design.md §3)."""

from __future__ import annotations

import pytest

from service.domain.verdicts import (
    Decision,
    Failure,
    Observation,
    Verdict,
    combine,
    decide,
    pdq_distance,
)

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
