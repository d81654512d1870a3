"""The probe against a loopback hoster: every behaviour ends in the right verdict, and every
limit holds (gzip bomb, endless redirect, slow drip, a 10 GB body)."""

from __future__ import annotations

import time

import pytest

from service.domain.verdicts import Verdict, Why
from service.probe.runner import LocalProbe
from tests.conftest import make_settings
from tests.integration.probe.conftest import Web
from tests.integration.probe.peers import expected_hashes


def probe(**overrides: object) -> LocalProbe:
    values = {"probe_timeout": 3.0, "probe_max_bytes": 4 * 1024 * 1024} | overrides
    return LocalProbe(make_settings("postgresql://unused/db", **values))


@pytest.mark.parametrize(
    ("name", "verdict", "reason", "why"),
    [
        ("image", Verdict.PRESENT, "sha256 match", None),
        ("gzimage", Verdict.PRESENT, "sha256 match", None),
        ("reencoded", Verdict.PRESENT, "pdq match", None),
        ("other", Verdict.GONE, "another image served", Why.OTHER_CONTENT),
        ("404", Verdict.GONE, "status 404", Why.HTTP_GONE),
        ("410", Verdict.GONE, "status 410", Why.HTTP_GONE),
        ("451", Verdict.GONE, "status 451", Why.HTTP_GONE),
        ("placeholder", Verdict.GONE, "other content served", Why.OTHER_CONTENT),
        ("soft404", Verdict.GONE, "other content served", Why.OTHER_CONTENT),
        ("redirect", Verdict.GONE, "redirected away", Why.REDIRECTED_AWAY),
        ("login", Verdict.INCONCLUSIVE, "login wall", Why.LOGIN_WALL),
        ("to-login", Verdict.INCONCLUSIVE, "login wall", Why.LOGIN_WALL),
        ("401", Verdict.INCONCLUSIVE, "login wall", Why.LOGIN_WALL),
        ("403", Verdict.INCONCLUSIVE, "status 403", None),
        ("429", Verdict.INCONCLUSIVE, "status 429", None),
        ("500", Verdict.INCONCLUSIVE, "status 500", None),
        ("503", Verdict.INCONCLUSIVE, "status 503", None),
        ("reset", Verdict.INCONCLUSIVE, "reset", None),
        ("bad-deflate", Verdict.INCONCLUSIVE, "decompression", None),
        ("to-ftp", Verdict.INCONCLUSIVE, "bad_redirect", None),
    ],
)
async def test_each_behaviour_gets_its_verdict_and_what_was_seen(
    web_origin: Web, name: str, verdict: Verdict, reason: str, why: Why | None
) -> None:
    p = probe()
    try:
        report = await p.check(web_origin.url(name), expected_hashes())
    finally:
        await p.close()
    assert report.verdict is verdict
    assert report.reason.startswith(reason)
    assert report.why is why


async def test_reencoded_copy_is_matched_by_pdq_with_its_distance(web_origin: Web) -> None:
    p = probe()
    report = await p.check(web_origin.url("reencoded"), expected_hashes())
    await p.close()
    assert report.matched == "pdq" and report.pdq_distance is not None
    assert report.pdq_distance <= 31
    assert report.hashes["sha256"] != expected_hashes()["sha256"]


async def test_reencoded_copy_whose_first_byte_arrives_alone_is_present(web_origin: Web) -> None:
    p = probe()
    report = await p.check(web_origin.url("slow-first-byte"), expected_hashes())
    await p.close()
    assert (report.verdict, report.matched) == (Verdict.PRESENT, "pdq")
    assert report.reason.startswith("pdq match")


async def test_redirect_hops_are_recorded(web_origin: Web) -> None:
    p = probe()
    report = await p.check(web_origin.url("redirect"), expected_hashes())
    await p.close()
    assert [h["status"] for h in report.hops] == [302, 200]
    assert report.hops[-1]["url"].endswith("/removed-page")


async def test_cloaking_is_seen_through_a_browser_profile(web_origin: Web) -> None:
    with_profiles, without = probe(), probe(probe_cloak_profiles=[])
    try:
        seen = await with_profiles.check(web_origin.url("cloak"), expected_hashes())
        blocked = await without.check(web_origin.url("cloak"), expected_hashes())
    finally:
        await with_profiles.close()
        await without.close()
    assert (seen.verdict, seen.profile) == (Verdict.PRESENT, "profile0")
    assert (blocked.verdict, blocked.status) == (Verdict.INCONCLUSIVE, 403)


async def test_timeout_is_inconclusive_within_the_time_limit(web_origin: Web) -> None:
    p = probe(probe_timeout=0.5, probe_cloak_profiles=[])
    started = time.monotonic()
    report = await p.check(web_origin.url("hang"), expected_hashes())
    await p.close()
    assert report.verdict is Verdict.INCONCLUSIVE and report.reason.startswith("timeout")
    assert time.monotonic() - started < 2


async def test_slow_drip_body_stops_at_the_total_time_limit(web_origin: Web) -> None:
    p = probe(probe_timeout=0.6, probe_cloak_profiles=[])
    started = time.monotonic()
    report = await p.check(web_origin.url("drip"), expected_hashes())
    await p.close()
    assert report.verdict is Verdict.INCONCLUSIVE and report.reason.startswith("timeout")
    assert time.monotonic() - started < 2


async def test_ten_gigabyte_body_stops_at_the_byte_limit(web_origin: Web) -> None:
    p = probe(probe_max_bytes=2 * 1024 * 1024, probe_cloak_profiles=[])
    started = time.monotonic()
    report = await p.check(web_origin.url("huge"), expected_hashes())
    await p.close()
    assert report.verdict is Verdict.INCONCLUSIVE and report.reason.startswith("too_large")
    assert time.monotonic() - started < 3


async def test_gzip_bomb_stops_at_the_ratio_cap(web_origin: Web) -> None:
    p = probe(probe_max_bytes=64 * 1024 * 1024, probe_cloak_profiles=[])
    report = await p.check(web_origin.url("bomb"), expected_hashes())
    await p.close()
    assert report.verdict is Verdict.INCONCLUSIVE and report.reason.startswith("decompression")


async def test_endless_redirect_stops_at_the_redirect_limit(web_origin: Web) -> None:
    p = probe(probe_max_redirects=4, probe_cloak_profiles=[])
    report = await p.check(web_origin.url("loop"), expected_hashes())
    await p.close()
    assert report.verdict is Verdict.INCONCLUSIVE
    assert report.reason.startswith("too_many_redirects") and len(report.hops) == 5


async def test_oversized_header_is_refused(web_origin: Web) -> None:
    p = probe(probe_cloak_profiles=[])
    report = await p.check(web_origin.url("bigheader"), expected_hashes())
    await p.close()
    assert report.verdict is Verdict.INCONCLUSIVE and report.reason.startswith("headers")


async def test_image_with_too_many_pixels_is_not_decoded(web_origin: Web) -> None:
    p = probe(probe_max_pixels=1000, probe_cloak_profiles=[])
    report = await p.check(web_origin.url("other"), {"pdq": expected_hashes()["pdq"]})
    await p.close()
    assert report.verdict is Verdict.INCONCLUSIVE and report.reason.startswith("too_many_pixels")
