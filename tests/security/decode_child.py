"""Run as a child process by test_decode_memory: 8 parallel checks of large images through
the probe's own fetcher against a loopback web server; prints the peak RSS and the reports.

A child of its own so that its ru_maxrss measures nothing but this.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
from pathlib import Path

from aiohttp import web

from service.probe.runner import LocalProbe
from service.settings import Settings

CHECKS = 8


async def main(folder: Path, expected_pdq: list[str]) -> None:
    images = sorted(folder.glob("*.png"))
    app = web.Application()
    app.router.add_get("/{n}", lambda r: web.FileResponse(images[int(r.match_info["n"]) % 2]))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    probe = LocalProbe(
        Settings(
            database_url="postgresql://unused/db",
            allow_private_targets=True,
            probe_cloak_profiles=[],
            probe_timeout=120.0,
        )
    )
    reports = await asyncio.gather(
        *(
            probe.check(
                f"http://127.0.0.1:{port}/{n}", {"sha256": "0" * 64, "pdq": expected_pdq[n % 2]}
            )
            for n in range(CHECKS)
        )
    )
    await probe.close()
    await runner.cleanup()
    peak_kib = _peak_kib()
    print(json.dumps({"peak_mb": peak_kib / 1024, "reports": [r.to_json() for r in reports]}))


def _peak_kib() -> int:
    """This process's peak RSS. VmHWM belongs to the memory map this program got at exec;
    ru_maxrss also carries the peak of the process it was spawned from (Linux keeps the
    larger across execve), which in a long test run is the test process's own."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    # Should the bound break, this child fails instead of taking the shared machine's memory.
    # (Set here, not with preexec_fn: that is unsafe when the test process has threads.)
    resource.setrlimit(resource.RLIMIT_AS, (6 * 1024**3, 6 * 1024**3))
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2:]))
