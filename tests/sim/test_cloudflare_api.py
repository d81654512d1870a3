"""The Cloudflare adapter against the simulated abuse-report API: the documented request and
answer shapes, auth, refused reports, rate limits with Retry-After."""

from __future__ import annotations

import pytest

from service.errors import PermanentLookupError, TransientLookupError
from service.notify.cdn_api import CloudflareChannel, channel_for
from service.sim.runner import SimulatedInternet
from tests.conftest import make_settings

URL = "http://i.orbitfiles.net/v/9k.jpg"


def channel(net: SimulatedInternet, **overrides: object) -> CloudflareChannel:
    settings = make_settings("postgresql://unused/db", **(net.settings_overrides() | overrides))
    found = channel_for("Cloudflare", settings)
    assert isinstance(found, CloudflareChannel)
    return found


async def test_a_child_abuse_report_tells_the_origin_host_and_not_the_site_owner(
    net: SimulatedInternet,
) -> None:
    filed = await channel(net).file([URL], "known material, reference TT-C1")
    sent = net.cloudflare.reports[filed.report_id]["body"]
    assert sent["act"] == "abuse_children" and sent["urls"] == URL
    assert (sent["host_notification"], sent["owner_notification"]) == ("send", "none")
    assert sent["ncmec_notification"] == "send" and sent["email"] == sent["email2"]
    state = await channel(net).read(filed.report_id)
    assert (state.status, state.external_host_notified, state.accepted_url_count) == (
        "accepted",
        True,
        1,
    )
    assert state.origin_host is None  # the published schema does not name it
    assert net.state.notices[("tulpnet", URL)]  # the CDN forwarded it to the origin


async def test_the_origin_host_is_read_when_the_api_names_it(net: SimulatedInternet) -> None:
    net.cloudflare.disclose_origin = True
    filed = await channel(net).file([URL], "known material")
    state = await channel(net).read(filed.report_id)
    assert state.origin_host == {"name": "Tulpnet B.V.", "abuse": "abuse@tulpnet.nl"}


async def test_wrong_credentials_and_refused_reports_are_permanent(net: SimulatedInternet) -> None:
    with pytest.raises(PermanentLookupError, match="401"):
        await channel(net, cloudflare_api_token="wrong").file([URL], "x")
    with pytest.raises(PermanentLookupError, match="403"):
        await channel(net, cloudflare_account_id="0" * 32).file([URL], "x")
    with pytest.raises(PermanentLookupError, match="one host name"):
        await channel(net).file([URL, "http://other.example/x.jpg"], "x")
    with pytest.raises(PermanentLookupError, match="404"):
        await channel(net).read("no-such-report")
    assert net.cloudflare.reports == {}


async def test_rate_limits_and_outages_are_transient_with_retry_after(
    net: SimulatedInternet,
) -> None:
    net.cloudflare.fail_next(503)
    with pytest.raises(TransientLookupError) as outage:
        await channel(net).file([URL], "x")
    assert outage.value.retry_after == 1
    net.cloudflare.limit, net.cloudflare.per = 1, 60.0
    await channel(net).file([URL], "x")
    with pytest.raises(TransientLookupError, match="429") as limited:
        await channel(net).file([URL], "x")
    assert limited.value.retry_after is not None and 1 <= limited.value.retry_after <= 61
    assert [status for _method, status in net.cloudflare.requests] == [503, 200, 429]


def test_no_channel_without_credentials_or_for_another_cdn() -> None:
    bare = make_settings("postgresql://unused/db")
    assert channel_for("Cloudflare", bare) is None
    creds = make_settings(
        "postgresql://unused/db", cloudflare_account_id="a" * 32, cloudflare_api_token="t"
    )
    assert channel_for("Fastly", creds) is None
    assert channel_for("Cloudflare", creds) is not None
