from __future__ import annotations

import hashlib

import aiohttp
import pytest
from aiohttp import web

from service.sim.images import content_bytes, hashes_of, pdq_distance
from service.sim.runner import SimulatedInternet
from service.sim.scanner import reports as scanner_reports
from service.sim.world import World

BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PROBE = "TakedownTracker/0.1 (+https://hotline.example/about-our-checks)"
DAY = 86400


async def fetch(
    net: SimulatedInternet, url: str, ua: str = PROBE, redirects: bool = False, total: float = 5.0
) -> tuple[int, str, bytes, dict[str, str]]:
    timeout = aiohttp.ClientTimeout(total=total)
    async with aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": ua}) as s:
        async with s.get(url, proxy=net.proxy_url, allow_redirects=redirects) as r:
            return r.status, r.content_type, await r.read(), dict(r.headers)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected(net: SimulatedInternet, url: str) -> bytes:
    entry = net.world.url_entry(url)
    assert entry is not None
    return content_bytes(net.world.contents[entry.content])


async def _removed_after(net: SimulatedInternet, url: str, delay: float) -> tuple[int, str, bytes]:
    """Serves the image until `delay` after a notice, then whatever removal looks like."""
    status, _, body, _ = await fetch(net, url)
    assert status == 200 and sha(body) == sha(expected(net, url))
    assert net.state.notify(url)
    net.clock.advance(delay - 1)
    status, _, body, _ = await fetch(net, url)
    assert status == 200 and sha(body) == sha(expected(net, url)), "removed too early"
    net.clock.advance(1)
    status, ctype, body, _ = await fetch(net, url)
    return status, ctype, body


async def test_every_image_is_served_with_the_reported_hash(net: SimulatedInternet) -> None:
    reports = {r["url"]: r for r in scanner_reports(net.world)}
    for url in (
        "http://edge.pixelbarn.com/u/1001/b.png",
        "http://up.sakurabox.jp/f/0001.jpg",
        "http://cdn.kittenpics.org/p/92.webp",
        "http://img.pixelbarn.com/i/7f3a9f.webp?size=full",
    ):
        status, ctype, body, _ = await fetch(net, url)
        assert status == 200 and ctype == reports[url]["media_type"]
        assert sha(body) == reports[url]["hashes"]["sha256"]


async def test_https_world_url_is_served_as_plain_http(net: SimulatedInternet) -> None:
    # The proxy does not tunnel (CONNECT answers 501); world keys ignore the scheme.
    assert net.world.url_entry("https://edge.pixelbarn.com/u/1001/a.jpg") is not None
    async with aiohttp.ClientSession() as s:
        with pytest.raises(aiohttp.ClientHttpProxyError) as err:
            await s.get("https://edge.pixelbarn.com/u/1001/a.jpg", proxy=net.proxy_url)
    assert err.value.status == 501


async def test_remove_after_gives_404(net: SimulatedInternet) -> None:
    status, _, _ = await _removed_after(net, "http://edge.pixelbarn.com/u/1001/a.jpg", 7200)
    assert status == 404


async def test_gone_410(net: SimulatedInternet) -> None:
    status, _, _ = await _removed_after(net, "http://files.tulpnet.nl/dl/a8f2.jpg", 1800)
    assert status == 410


async def test_placeholder_is_a_200_html_page(net: SimulatedInternet) -> None:
    status, ctype, body = await _removed_after(
        net, "http://www.riohost.com.br/imagens/1.jpg", 43200
    )
    assert status == 200 and ctype == "text/html" and b"removed" in body


async def test_soft404_is_a_200_not_found_page(net: SimulatedInternet) -> None:
    status, ctype, body = await _removed_after(net, "http://share.kiwiweb.co.nz/s/abc.jpg", DAY)
    assert status == 200 and ctype == "text/html" and b"not found" in body.lower()


async def test_redirect_to_a_removal_page(net: SimulatedInternet) -> None:
    url = "http://img.andesnet.cl/f/1.png"
    status, _, _ = await _removed_after(net, url, 600)
    assert status == 302
    _, _, _, headers = await fetch(net, url)
    assert headers["Location"] == "http://img.andesnet.cl/content-removed"
    status, ctype, body, _ = await fetch(net, url, redirects=True)
    assert status == 200 and ctype == "text/html" and b"removed" in body


async def test_reencode_swaps_in_a_near_copy(net: SimulatedInternet) -> None:
    url = "http://up.sakurabox.jp/f/0002.png"
    status, ctype, body = await _removed_after(net, url, 3600)
    original = hashes_of(expected(net, url))
    copy = hashes_of(body)
    assert status == 200 and ctype.startswith("image/")
    assert copy.sha256 != original.sha256
    assert pdq_distance(copy.pdq, original.pdq) <= 31


async def test_reupload_cycle(net: SimulatedInternet) -> None:
    url = "http://i.baltichost.lv/m/77.jpg"
    status, _, _ = await _removed_after(net, url, 3600)
    assert status == 404
    truth = net.state.truth(url)
    assert truth.reuploaded_at == truth.notified_at + 3600 + 172800
    net.clock.advance(172800)
    status, _, body, _ = await fetch(net, url)
    assert status == 200 and sha(body) == sha(expected(net, url))
    net.state.notify(url)  # a new notice after the re-upload removes it again
    net.clock.advance(3600)
    assert (await fetch(net, url))[0] == 404


async def test_never_and_ack_no_remove_keep_serving(net: SimulatedInternet) -> None:
    for url in (
        "http://pics.savannahost.co.za/g/1.jpg",
        "http://s3.bergcloud.de/bucket-77/obj1.jpg",
    ):
        net.state.notify(url)
        net.clock.advance(365 * DAY)
        status, _, body, _ = await fetch(net, url)
        assert status == 200 and sha(body) == sha(expected(net, url))


async def test_cloak_serves_only_browsers(net: SimulatedInternet) -> None:
    url = "http://img.shadowvps.ru/x/1.jpg"
    status, _, body, _ = await fetch(net, url, ua=BROWSER)
    assert status == 200 and sha(body) == sha(expected(net, url))
    assert (await fetch(net, url, ua=PROBE))[0] == 403
    assert (await fetch(net, url, ua="Mozilla/5.0 (compatible; Googlebot/2.1)"))[0] == 403


async def test_timeout_never_answers_in_time(net: SimulatedInternet) -> None:
    with pytest.raises(TimeoutError):
        await fetch(net, "http://cdn.slowlane.in/a/1.jpg", total=0.3)


async def test_reset_closes_the_connection(net: SimulatedInternet) -> None:
    with pytest.raises(aiohttp.ClientError):
        await fetch(net, "http://files.dropnet.co.ke/p/1.jpg")


async def test_cdn_forwards_the_notice_to_the_origin(net: SimulatedInternet) -> None:
    url = "http://cdn.kittenpics.org/p/91.jpg"
    net.state.notify(url, hoster="maplecdn")
    net.clock.advance(7200)  # the origin's (pixelbarn) delay
    assert (await fetch(net, url))[0] == 404


async def test_unknown_host_is_502_and_unknown_path_404(net: SimulatedInternet) -> None:
    assert (await fetch(net, "http://no-such-host.example/x.jpg"))[0] == 502
    assert (await fetch(net, "http://edge.pixelbarn.com/nothing.jpg"))[0] == 404


async def test_custom_handlers_for_hostile_hosts(net: SimulatedInternet) -> None:
    sentinel = b"SENTINEL-7c1e0f2a"

    async def page(request: web.Request) -> web.StreamResponse:
        if request.path == "/loop":
            raise web.HTTPFound("http://hostile.test/loop")
        if request.path == "/local":
            raise web.HTTPFound("http://127.0.0.1:1/secret")
        return web.Response(body=sentinel, content_type="text/plain")

    net.web.register_custom("hostile.test", page)
    status, _, body, _ = await fetch(net, "http://hostile.test/x")
    assert status == 200 and body == sentinel
    _, _, _, headers = await fetch(net, "http://hostile.test/local")
    assert headers["Location"] == "http://127.0.0.1:1/secret"
    with pytest.raises(aiohttp.TooManyRedirects):
        await fetch(net, "http://hostile.test/loop", redirects=True)
    net.web.unregister_custom("hostile.test")
    assert (await fetch(net, "http://hostile.test/x"))[0] == 502


async def test_login_wall_hoster_answers_anonymous_visitors_with_a_sign_in_form(
    world: World,
) -> None:
    data = world.model_dump(mode="json")
    for hoster in data["hosters"]:
        if hoster["name"] == "riohost":
            hoster["behaviour"] = {"kind": "login_wall", "delay": 600}
    walled = World.model_validate(data)
    async with SimulatedInternet(walled, time_scale=0) as net:
        status, ctype, body = await _removed_after(
            net, "http://www.riohost.com.br/imagens/1.jpg", 600
        )
    assert status == 200 and ctype == "text/html" and b"type=password" in body
