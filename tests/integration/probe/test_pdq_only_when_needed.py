"""PDQ (an image decode, ~100x the cost of hashing) runs only when no exact hash matched,
unless a caller of the remote probe asks for it by name."""

from __future__ import annotations

from service.domain.verdicts import Verdict
from service.probe.runner import LocalProbe
from tests.conftest import make_settings
from tests.integration.probe.conftest import Web
from tests.integration.probe.peers import expected_hashes


def probe() -> LocalProbe:
    return LocalProbe(make_settings("postgresql://unused/db", allow_private_targets=True))


async def test_an_exact_match_skips_pdq(web_origin: Web) -> None:
    report = await probe().check(web_origin.url("image"), expected_hashes())
    assert (report.verdict, report.matched) == (Verdict.PRESENT, "sha256")
    assert set(report.hashes) == {"sha256"}  # no decode was needed


async def test_a_reencoded_copy_is_still_found_by_pdq(web_origin: Web) -> None:
    report = await probe().check(web_origin.url("reencoded"), expected_hashes())
    assert (report.verdict, report.matched) == (Verdict.PRESENT, "pdq")
    assert set(report.hashes) == {"sha256", "pdq"}


async def test_pdq_asked_for_by_name_is_computed_even_after_an_exact_match(
    web_origin: Web,
) -> None:
    report = await probe().check(web_origin.url("image"), expected_hashes(), ["pdq"])
    assert report.matched == "sha256" and "pdq" in report.hashes
