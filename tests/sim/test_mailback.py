"""The simulated hosters' mail systems hand their answers to the hotline as an MTA does: a
4xx answer keeps the mail for another try, and a summary can wait for what is on its way."""

from __future__ import annotations

from collections.abc import Sequence
from email import message_from_bytes

from service.notify.lmtp import LmtpServer
from service.sim.runner import SimulatedInternet
from service.sim.world import MailReaction
from tests.sim.test_smtp import notice, send


class FlakyMailIn:
    """The hotline's mail-in: the first delivery fails (451 to the MTA), later ones are taken."""

    def __init__(self, failures: int) -> None:
        self.failures, self.attempts = failures, 0
        self.taken: list[bytes] = []

    async def __call__(self, raw: bytes, recipients: Sequence[str]) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise RuntimeError("database busy")
        self.taken.append(raw)


async def test_a_reply_refused_for_now_is_delivered_on_a_later_try(
    net: SimulatedInternet,
) -> None:
    url = next(u.url for u in net.state.world.urls if u.hoster == "pixelbarn")
    mail_in = FlakyMailIn(failures=2)
    server = LmtpServer(mail_in, "127.0.0.1", 0)
    await server.start()
    try:
        net.bot.mail_back = (server.host, server.port)
        net.bot.retry_pause = 0.01
        await send(net, notice("abuse@pixelbarn.com", f"Please remove {url}"))
        await net.bot.mail_delivered()  # returns only once the reply was taken in or given up
    finally:
        await server.stop()
    assert mail_in.attempts == 3
    assert len(mail_in.taken) == 1
    reply = message_from_bytes(mail_in.taken[0])
    assert str(reply["Subject"]).startswith("Re: ")
    assert net.bot.sent_back[MailReaction.REPLY] == 1
    assert net.bot.not_delivered == 0


async def test_a_hotline_that_keeps_refusing_gets_the_mail_counted_as_not_delivered(
    net: SimulatedInternet,
) -> None:
    url = next(u.url for u in net.state.world.urls if u.hoster == "pixelbarn")
    mail_in = FlakyMailIn(failures=100)
    server = LmtpServer(mail_in, "127.0.0.1", 0)
    await server.start()
    try:
        net.bot.mail_back = (server.host, server.port)
        net.bot.mail_attempts, net.bot.retry_pause = 2, 0.01
        await send(net, notice("abuse@pixelbarn.com", f"Please remove {url}"))
        await net.bot.mail_delivered()
    finally:
        await server.stop()
    assert mail_in.attempts == 2 and not mail_in.taken
    assert net.bot.sent_back[MailReaction.REPLY] == 0
    assert net.bot.not_delivered == 1
