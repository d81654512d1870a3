"""A private embedded PostgreSQL that a test may stop and start (never the shared server)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class PrivatePostgres:
    """pgserver under a temporary directory, with stop/start through its own pg_ctl."""

    def __init__(self, root: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            self.server: Any = pgserver.get_server(root / "pgdata", cleanup_mode=None)
        from pgserver import _commands

        self._pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]
        self.uri: str = self.server.get_uri()
        self.socket_dir = parse_qs(urlsplit(self.uri).query)["host"][0]

    def _ctl(self, *args: str) -> None:
        self._pg_ctl(
            list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=30
        )

    def stop(self) -> None:
        self._ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        self._ctl(
            "-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.server.log), "start"
        )

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    async def astart(self) -> None:
        await asyncio.to_thread(self.start)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    root = Path(tempfile.mkdtemp(prefix="tdt-fault-"))  # short: Unix socket paths are limited
    root.chmod(0o755)
    pg = PrivatePostgres(root)
    try:
        yield pg
    finally:
        try:
            pg.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
