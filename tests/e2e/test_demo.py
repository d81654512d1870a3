"""`takedown demo` runs to completion against the simulated internet and prints its summary."""

from __future__ import annotations

import re

from tests.integration.cli_runner import takedown


async def test_demo_runs_the_world_and_prints_a_per_hoster_summary(db_url: str) -> None:
    result = await takedown("demo", "--duration", "25", "--exit", db_url=db_url)
    assert result.code == 0, result.err[-3000:]
    out = result.out
    submitted = int(re.search(r"scanner submitted (\d+) reports", out).group(1))
    header = next(line for line in out.splitlines() if line.startswith("hoster"))
    rows = out.split(header, 1)[1].strip().splitlines()
    table = [
        r for r in rows if re.match(r"^\S.*\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+\S+\s+\S+$", r)
    ]
    assert submitted >= 20
    assert header.split() == [
        "hoster",
        "cases",
        "notices",
        "notified",
        "acked",
        "removed",
        "open",
        "median",
        "p90",
    ]
    columns = [r.split()[-8:] for r in table]
    assert sum(int(c[0]) for c in columns) == submitted
    # The world's quick removers are notified, re-checked and confirmed removed in the run.
    assert sum(int(c[1]) for c in columns) >= 5
    assert sum(int(c[4]) for c in columns) >= 5
    # The world's placeholder host is learned, its removals said to be placeholders; the host
    # split over two providers is checked at each address.
    reasons = out.split("removals by what was seen", 1)[1].split("\n\n", 1)[0]
    assert "placeholder=" in reasons and "http_gone=" in reasons
    split = out.split("hosts served from several networks", 1)[1]
    assert "http://dl.twinmirror.net/f/t1.png" in split
    assert "SAVANNAHOST-NET + PixelBarn Hosting, Inc." in split
    assert "per address: 102.67.141.50" in split
    # The host behind the CDN with an abuse-report API is reported through it.
    cdn = out.split("reports through CDN abuse-report APIs", 1)[1]
    assert re.search(r"cloudflare\s+filed=1 ", cdn)
    assert "oversight: http://127.0.0.1:" in out
    # The scanner's webhook receiver took signed outcomes, none refused as forged.
    hooks = re.search(
        r"webhook receiver: (\d+) signed outcomes about (\d+) cases \((.*)\); (\d+) refused", out
    )
    assert hooks, out[-2000:]
    assert (
        int(hooks.group(1)) >= 10 and "notified" in hooks.group(3) and "removed" in hooks.group(3)
    )
    assert hooks.group(4) == "0"
    assert re.search(r"log in as 'demo' \(supervisor\) with password \S{12,}", out)
    # The hosters' mail systems answered through the real mail path (LMTP into mail-in): the
    # world has one hoster that replies, one whose ticket system auto-replies, one that bounces.
    # The summary waits for the mail on its way back: all of it is counted, none left behind.
    mail = re.search(
        r"mail-in: (\d+) bounces, (\d+) auto-replies, (\d+) replies taken in "
        r"\((\d+) sent back by the hosters' mail systems\)",
        out,
    )
    assert mail, out[-2000:]
    *taken, sent = (int(count) for count in mail.groups())
    assert all(count >= 1 for count in taken), mail.group(0)
    assert sum(taken) == sent, mail.group(0)
