"""The acknowledgment page in a real browser (Debian's headless Chromium, no JavaScript needed)."""

from __future__ import annotations

import asyncio
import tempfile

from tests.integration.notify.conftest import Hoster
from tests.integration.oversight.browser import chromium_path, requires_chromium

CHROMIUM = chromium_path()
pytestmark = requires_chromium()


async def dump_dom(url: str) -> str:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        process = await asyncio.create_subprocess_exec(
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-javascript",
            f"--user-data-dir={profile}",
            "--dump-dom",
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return out.decode()


async def test_chromium_renders_the_form_without_javascript(hoster: Hoster) -> None:
    url = str(hoster.client.make_url(hoster.path))
    dom = await dump_dom(url)
    assert '<form method="post"' in dom
    assert 'name="csrf_token"' in dom and 'value="received"' in dom
    assert all(f"https://h.example/{n}" in dom for n in range(3))
    assert "Antwoord versturen" in dom  # the notice's language (Dutch)
