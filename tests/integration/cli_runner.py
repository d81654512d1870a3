"""Run the real `takedown` command in a subprocess against a test database."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass


@dataclass
class CliResult:
    code: int
    out: str
    err: str


async def takedown(*args: str, db_url: str, env: dict[str, str] | None = None) -> CliResult:
    full_env = {**os.environ, "TAKEDOWN_DATABASE_URL": db_url, **(env or {})}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        *args,
        env=full_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=100)
    assert proc.returncode is not None
    return CliResult(proc.returncode, out.decode(), err.decode())
