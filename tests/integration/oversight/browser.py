"""A headless Chromium driven over the Chrome DevTools protocol (aiohttp websocket client).

Only loopback: the browser is started with networking extras off and only ever navigates to
the test server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--disable-default-apps",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
)
_BACKGROUND: set[asyncio.Task[None]] = set()
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def chromium_path() -> str | None:
    return (
        shutil.which("chromium")
        or shutil.which("chromium-browser")
        or shutil.which("google-chrome")
    )


def requires_chromium() -> pytest.MarkDecorator:
    """Skip without a browser on a developer's machine, never in CI: `.ci/run` installs
    Chromium, so a missing one there is a failure to see, not a silent skip."""
    missing = chromium_path() is None and os.environ.get("CI", "").lower() != "true"
    return pytest.mark.skipif(
        missing, reason="chromium is not installed (apt-get install chromium)"
    )


class Page:
    """One tab: commands by id, events through a queue."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.put_nowait(data)

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_json({"id": self.next_id, "method": method, "params": params})
        reply = await asyncio.wait_for(future, 20)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def _loaded(self) -> None:
        while (await self.events.get())["method"] != "Page.loadEventFired":
            pass

    async def navigate(self, url: str) -> None:
        self._drain()
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(self._loaded(), 20)

    async def click_and_wait(self, selector: str) -> None:
        """Click an element that leads to a new page (a link or a submit button)."""
        self._drain()
        found = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " if (!e) return false; e.click(); return true; })()"
        )
        assert found, f"nothing matches {selector}"
        await asyncio.wait_for(self._loaded(), 20)

    async def fill(self, selector: str, value: str) -> None:
        ok = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            f" if (!e) return false; e.value = {json.dumps(value)}; return true; }})()"
        )
        assert ok, f"no field {selector}"

    def _drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()


@asynccontextmanager
async def chromium() -> AsyncIterator[Page]:
    binary = chromium_path()
    assert binary is not None
    with tempfile.TemporaryDirectory() as profile:
        proc = await asyncio.create_subprocess_exec(
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            browser_ws = await asyncio.wait_for(_devtools_url(proc), 30)
            port = browser_ws.split("/")[2]
            async with aiohttp.ClientSession() as http:
                targets = await (await http.get(f"http://{port}/json/list")).json()
                page_ws = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
                async with http.ws_connect(page_ws, max_msg_size=0) as ws:
                    page = Page(ws)
                    await page.send("Page.enable")
                    yield page
                    page.reader.cancel()
        finally:
            proc.terminate()
            await proc.wait()


async def _devtools_url(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    while line := await proc.stderr.readline():
        match = _LISTENING.search(line.decode(errors="replace"))
        if match:
            _BACKGROUND.add(asyncio.create_task(_discard(proc.stderr)))  # keep the pipe flowing
            return match.group(1)
    raise RuntimeError("chromium exited before opening DevTools")


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass
