"""Embedded PostgreSQL (pip package `pgserver`) when TAKEDOWN_DATABASE_URL is unset."""

from __future__ import annotations

import logging
from pathlib import Path

from service.errors import ConfigurationError

log = logging.getLogger(__name__)


def embedded_database_url(data_dir: Path) -> str:
    """Start (or reuse) the embedded server under data_dir and return its DSN.

    pgserver listens on a Unix socket inside the data directory and, when run as root,
    runs PostgreSQL as a `pgserver` system user it creates. The server keeps running after
    this process exits (pgserver shares it between processes) and is reused next time.
    """
    import warnings

    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
        warnings.simplefilter("ignore")
        import pgserver  # lazily: only needed when no server is configured

    pgdata = data_dir / "pgdata"
    try:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(pgdata, cleanup_mode=None)
    except Exception as exc:  # pgserver raises plain exceptions with the initdb/pg_ctl output
        raise ConfigurationError(
            f"could not start the embedded PostgreSQL under {pgdata}: {exc}. "
            "Set TAKEDOWN_DATABASE_URL to use an existing server instead."
        ) from exc
    uri: str = server.get_uri()
    log.info("embedded PostgreSQL running under %s", pgdata)
    return uri
