from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import pytest
from aiohttp import web

from service.sim.mailbot import refang, urls_in
from service.sim.runner import SimulatedInternet
from service.sim.world import AckAnswer


def notice(to: str, text: str, html: str | None = None, csv: str | None = None) -> EmailMessage:
    m = EmailMessage()
    m["From"] = "takedown@hotline.example"
    m["To"] = to
    m["Subject"] = "Notice of known child sexual abuse material on your network"
    m.set_content(text)
    if html is not None:
        m.add_alternative(html, subtype="html")
    if csv is not None:
        m.add_attachment(csv.encode(), maintype="text", subtype="csv", filename="urls.csv")
    return m


async def send(net: SimulatedInternet, m: EmailMessage, **kw: object) -> None:
    await aiosmtplib.send(m, hostname=net.smtp_host, port=net.smtp_port, timeout=5, **kw)


class AckPage:
    """A tiny stand-in for the service's acknowledgment page (GET form, POST answer)."""

    def __init__(self) -> None:
        self.posts: list[dict[str, str]] = []
        self.posted = asyncio.Event()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            self.posts.append({k: str(v) for k, v in (await request.post()).items()})
            self.posted.set()
            return web.Response(text="thank you")
        form = (
            '<form method="post"><input type="hidden" name="csrf_token" value="tok-42">'
            '<input type="radio" name="answer" value="received"></form>'
        )
        return web.Response(text=form, content_type="text/html")


@pytest.fixture
async def ack_page() -> AsyncIterator[AckPage]:
    page = AckPage()
    app = web.Application()
    app.router.add_route("*", "/ack/{token}", page.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    page.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/ack/AbC-123_x"
    yield page
    await runner.cleanup()


async def test_sink_keeps_messages_with_envelope(net: SimulatedInternet) -> None:
    await send(net, notice("abuse@tulpnet.nl", "hello"))
    (mail,) = await net.mail.wait_for(1)
    assert mail.rcpt_tos == ["abuse@tulpnet.nl"] and mail.mail_from == "takedown@hotline.example"
    assert mail.subject.startswith("Notice") and mail.message.get_content().strip() == "hello"


async def test_unknown_recipient_is_rejected_with_550(net: SimulatedInternet) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as err:
        await send(net, notice("nobody@nowhere.example", "x"))
    assert err.value.recipients[0].code == 550
    assert net.mail.messages == [] and net.mail.rejected == [("nobody@nowhere.example", 550)]


@pytest.mark.parametrize("code", [550, 452, 421])
async def test_configured_failures(net: SimulatedInternet, code: int) -> None:
    net.mail.fail("abuse@kiwiweb.co.nz", code)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as err:
        await send(net, notice("abuse@kiwiweb.co.nz", "x"))
    assert err.value.recipients[0].code == code
    net.mail.clear_failures()
    await send(net, notice("abuse@kiwiweb.co.nz", "x"))
    assert len(net.mail.messages) == 1


async def test_partial_acceptance_when_one_mailbox_is_full(net: SimulatedInternet) -> None:
    net.mail.fail("abuse@tulpnet.nl", 452)
    m = notice("abuse@tulpnet.nl, abuse@kiwiweb.co.nz", "x")
    errors, _ = await aiosmtplib.send(m, hostname=net.smtp_host, port=net.smtp_port)
    assert errors["abuse@tulpnet.nl"].code == 452
    assert net.mail.messages[0].rcpt_tos == ["abuse@kiwiweb.co.nz"]


async def test_server_down_and_up_on_the_same_port(net: SimulatedInternet) -> None:
    port = net.smtp_port
    await net.smtp.stop()
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await send(net, notice("abuse@tulpnet.nl", "x"))
    await net.smtp.start()
    assert net.smtp_port == port
    await send(net, notice("abuse@tulpnet.nl", "x"))
    assert len(net.mail.messages) == 1


def test_refang_and_url_extraction_from_every_part() -> None:
    assert refang("hxxps://a[.]b[.]com/x") == "https://a.b.com/x"
    m = notice(
        "abuse@pixelbarn.com",
        "Remove hxxp://edge[.]pixelbarn[.]com/u/1001/a.jpg please.",
        html='<a href="http://img.pixelbarn.com/i/7f3a9f.webp?size=full&amp;x=1">link</a>',
        csv='url,sha256\n"http://edge.pixelbarn.com/u/1001/b.png",abc\n',
    )
    assert urls_in(m) >= {
        "http://edge.pixelbarn.com/u/1001/a.jpg",
        "http://edge.pixelbarn.com/u/1001/b.png",
        "http://img.pixelbarn.com/i/7f3a9f.webp?size=full&x=1",
    }


async def test_notice_starts_removal_and_ack_link_is_followed(
    net: SimulatedInternet, ack_page: AckPage
) -> None:
    urls = ["http://edge.pixelbarn.com/u/1001/a.jpg", "http://edge.pixelbarn.com/u/1002/c.webp"]
    text = f"URLs:\nhxxp://edge[.]pixelbarn[.]com/u/1001/a.jpg\n\nAcknowledge: {ack_page.url}\n"
    csv = "url\n" + "\n".join(urls) + "\nhttp://files.tulpnet.nl/dl/a8f1.jpg\n"
    await send(net, notice("abuse@pixelbarn.com", text, csv=csv))
    # Removal clocks start when the message is accepted; another hoster's URL is ignored.
    assert {u for (h, u) in net.state.notices if h == "pixelbarn"} == set(urls)
    assert ("tulpnet", "http://files.tulpnet.nl/dl/a8f1.jpg") not in net.state.notices
    await asyncio.wait_for(ack_page.posted.wait(), 5)
    await net.bot.idle()
    assert ack_page.posts == [
        {
            "csrf_token": "tok-42",
            "answer": "received",
            "scope": "all",
            "note": "Thank you, we are looking into it.",
        }
    ]
    assert net.state.acks[-1].status == 200 and net.state.acks[-1].answer is AckAnswer.RECEIVED
    net.clock.advance(7200)
    assert all(net.state.phase(u) == "not_found" for u in urls)


async def test_hosters_answer_per_behaviour(net: SimulatedInternet, ack_page: AckPage) -> None:
    await send(
        net, notice("abuse@shadowvps.ru", f"http://img.shadowvps.ru/x/1.jpg\n{ack_page.url}")
    )
    await asyncio.wait_for(ack_page.posted.wait(), 5)
    assert ack_page.posts[0]["answer"] == "dispute"
    # A hoster that never answers leaves the page alone.
    await send(
        net,
        notice("abuse@savannahost.co.za", f"http://pics.savannahost.co.za/g/1.jpg\n{ack_page.url}"),
    )
    await net.bot.idle()
    assert len(ack_page.posts) == 1


async def test_ack_page_missing_is_tolerated(net: SimulatedInternet) -> None:
    dead = "http://127.0.0.1:9/ack/nothing-listens-here"
    await send(net, notice("abuse@tulpnet.nl", f"http://files.tulpnet.nl/dl/a8f2.jpg\n{dead}"))
    await net.bot.idle()
    (ack,) = net.state.acks
    assert ack.status is None and ack.error
    assert net.state.truth("http://files.tulpnet.nl/dl/a8f2.jpg").notified_at == 0.0


async def test_non_loopback_ack_links_are_never_followed(net: SimulatedInternet) -> None:
    link = "http://203.0.113.5/ack/would-leave-the-machine"
    await send(net, notice("abuse@tulpnet.nl", f"http://files.tulpnet.nl/dl/a8f2.jpg\n{link}"))
    await net.bot.idle()
    assert net.state.acks[0].error == "no loopback acknowledgment link"


async def test_ack_after_a_simulated_delay(world, ack_page: AckPage) -> None:
    data = world.model_dump(mode="json")
    tulpnet = next(h for h in data["hosters"] if h["name"] == "tulpnet")
    tulpnet["behaviour"]["ack_delay"] = 3600
    slow = type(world).model_validate(data)
    async with SimulatedInternet(slow, time_scale=0) as net:
        await send(
            net, notice("abuse@tulpnet.nl", f"http://files.tulpnet.nl/dl/a8f2.jpg\n{ack_page.url}")
        )
        assert not ack_page.posted.is_set()
        net.clock.advance(3600)
        await asyncio.wait_for(ack_page.posted.wait(), 5)
        assert ack_page.posts[0]["answer"] == "received"
