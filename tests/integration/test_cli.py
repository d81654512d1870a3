"""The command line: migrate, tokens and the bulk import, run as a user would."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from service.db.tokens import authenticate
from service.settings import listen_address
from tests.integration.cli_runner import takedown


def _line(n: int, **changes: object) -> str:
    record: dict[str, object] = {
        "url": f"https://files{n % 3}.example.org/{n}.png",
        "hashes": {"sha256": hashlib.sha256(str(n).encode()).hexdigest()},
        "media_type": "image/png",
        "detected_at": (datetime.now(UTC) - timedelta(days=1)).isoformat(),
        "source_ref": f"crawl-{n}",
    }
    record.update(changes)
    return json.dumps(record)


async def test_migrate_twice_reports_up_to_date(db_url: str) -> None:
    result = await takedown("migrate", db_url=db_url)
    assert result.code == 0, result.err
    assert "up to date" in result.out


async def test_token_create_prints_a_working_secret_once_and_stores_only_its_hash(
    db_url: str, pool: asyncpg.Pool
) -> None:
    result = await takedown(
        "token", "create", "--role", "scanner", "--name", "crawler-1", db_url=db_url
    )
    secret = result.out.strip()
    async with pool.acquire() as conn:
        token = await authenticate(conn, secret)
        stored = await conn.fetchval(
            "SELECT count(*) FROM tokens WHERE secret_sha256 = $1", secret.encode()
        )
        raw_anywhere = await conn.fetchval(
            "SELECT count(*) FROM tokens WHERE position($1 in tokens::text) > 0", secret
        )
    assert result.code == 0
    assert token is not None and token.role == "scanner" and token.name == "crawler-1"
    assert stored == 0 and raw_anywhere == 0


async def test_token_revoke_and_duplicate_names(db_url: str, pool: asyncpg.Pool) -> None:
    created = await takedown("token", "create", "--role", "hotline", "--name", "ana", db_url=db_url)
    twice = await takedown("token", "create", "--role", "hotline", "--name", "ana", db_url=db_url)
    revoked = await takedown("token", "revoke", "ana", db_url=db_url)
    unknown = await takedown("token", "revoke", "ana", db_url=db_url)
    async with pool.acquire() as conn:
        still_valid = await authenticate(conn, created.out.strip())
    assert twice.code == 1 and "exists" in twice.err
    assert revoked.code == 0 and still_valid is None
    assert unknown.code == 1 and "no live token" in unknown.err


async def test_bad_role_is_a_readable_error(db_url: str) -> None:
    result = await takedown("token", "create", "--role", "admin", "--name", "x", db_url=db_url)
    assert result.code == 2 and "'admin' is not one of" in result.err


async def test_import_reports_created_duplicates_and_rejected_lines(
    db_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await takedown("token", "create", "--role", "scanner", "--name", "bulk", db_url=db_url)
    lines = [_line(n) for n in range(25)]
    lines.insert(3, "{broken json")
    lines.insert(10, _line(99, url="gopher://old.example/"))
    lines.append(_line(0))  # a duplicate of the first record
    lines.append("")
    file = tmp_path / "reports.ndjson"
    file.write_text("\n".join(lines) + "\n")
    result = await takedown(
        "import", str(file), "--scanner", "bulk", "--batch-size", "7", db_url=db_url
    )
    async with pool.acquire() as conn:
        count = await conn.fetchval("SELECT count(*) FROM cases")
        via = await conn.fetchval(
            "SELECT count(*) FROM case_events WHERE detail->>'via' = 'import'"
        )
    assert result.code == 1
    assert "created 25, duplicate 1, rejected 2" in result.out
    assert "line 4: not JSON" in result.out
    assert "line 11: url: only http and https" in result.out
    assert count == 25 and via == 25


async def test_import_rejects_a_line_with_a_nul_byte_alone(
    db_url: str, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await takedown("token", "create", "--role", "scanner", "--name", "bulk", db_url=db_url)
    lines = [_line(1), _line(2, source_ref="crawl\x00-2"), _line(3, classification="x\x00")]
    file = tmp_path / "reports.ndjson"
    file.write_text("\n".join([*lines, _line(4)]) + "\n")
    result = await takedown("import", str(file), "--scanner", "bulk", db_url=db_url)
    async with pool.acquire() as conn:
        count = await conn.fetchval("SELECT count(*) FROM cases")
    assert "Traceback" not in result.err
    assert result.code == 1 and "created 2, duplicate 0, rejected 2" in result.out
    assert "line 2: source_ref: source_ref must not contain control characters" in result.out
    assert "line 3: classification: classification must not contain control" in result.out
    assert count == 2


async def test_import_of_a_clean_file_exits_zero_and_is_idempotent(
    db_url: str, tmp_path: Path
) -> None:
    await takedown("token", "create", "--role", "scanner", "--name", "bulk", db_url=db_url)
    file = tmp_path / "reports.ndjson"
    file.write_text("\n".join(_line(n) for n in range(10)) + "\n")
    first = await takedown("import", str(file), "--scanner", "bulk", db_url=db_url)
    second = await takedown("import", str(file), "--scanner", "bulk", db_url=db_url)
    assert first.code == 0 and "created 10, duplicate 0, rejected 0" in first.out
    assert second.code == 0 and "created 0, duplicate 10, rejected 0" in second.out


async def test_import_with_an_unknown_scanner_is_refused(db_url: str, tmp_path: Path) -> None:
    file = tmp_path / "r.ndjson"
    file.write_text(_line(1) + "\n")
    result = await takedown("import", str(file), "--scanner", "ghost", db_url=db_url)
    assert result.code == 1 and "no live scanner token named 'ghost'" in result.err


async def test_unreachable_database_is_a_clear_message(tmp_path: Path) -> None:
    result = await takedown(
        "migrate",
        db_url="postgresql://nobody@127.0.0.1:1/none",
        env={"TAKEDOWN_DB_CONNECT_TIMEOUT": "1"},
    )
    assert result.code == 1
    assert "cannot reach PostgreSQL at postgresql://nobody@127.0.0.1:1/none" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("dsn", "shown", "sentence"),
    [
        (
            "postgresql://nobody:s3cret@127.0.0.1:5432/postgres",
            "postgresql://nobody:***@127.0.0.1:5432/postgres",
            'refused the connection: role "nobody" does not exist',
        ),
        (
            "postgresql://postgres:s3cret@127.0.0.1:5432/no_such_database",
            "postgresql://postgres:***@127.0.0.1:5432/no_such_database",
            'database "no_such_database" does not exist',
        ),
        (
            "postgresql://postgres:s3cret@127.0.0.1:port/x",
            "postgresql://postgres:***@127.0.0.1:port/x",
            "is not a usable PostgreSQL URL",
        ),
        ("mysql://db.example/x", "mysql://db.example/x", "is not a usable PostgreSQL URL"),
    ],
)
async def test_a_database_url_that_cannot_work_is_a_clear_message(
    dsn: str, shown: str, sentence: str
) -> None:
    result = await takedown("migrate", db_url=dsn, env={"TAKEDOWN_DB_CONNECT_TIMEOUT": "1"})
    assert result.code == 1
    assert shown in result.err and sentence in result.err
    assert "s3cret" not in result.err and "Traceback" not in result.err


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TAKEDOWN_LISTEN", "8080", "TAKEDOWN_LISTEN: '8080' is not host:port"),
        (
            "TAKEDOWN_ESCALATION_STEPS",
            '["police"]',
            "TAKEDOWN_ESCALATION_STEPS: unknown step 'police'; known: upstream, cdn",
        ),
        ("TAKEDOWN_ESCALATION_STEPS", "police", "TAKEDOWN_ESCALATION_STEPS: cannot be parsed"),
        (
            "TAKEDOWN_DNS_NAMESERVERS",
            "127.0.0.1:5x",
            "TAKEDOWN_DNS_NAMESERVERS: '127.0.0.1:5x': the port must be a number",
        ),
        (
            "TAKEDOWN_DNS_NAMESERVERS",
            "ns1.example",
            "TAKEDOWN_DNS_NAMESERVERS: 'ns1.example': a nameserver must be an IP address",
        ),
    ],
)
async def test_a_setting_that_cannot_work_is_refused_at_start_naming_its_variable(
    variable: str, value: str, message: str
) -> None:
    result = await takedown(
        "migrate",
        db_url="postgresql://nobody@127.0.0.1:1/none",  # never reached: settings come first
        env={variable: value, "TAKEDOWN_DB_CONNECT_TIMEOUT": "1"},
    )
    assert result.code == 1
    assert "invalid settings" in result.err and message in result.err
    assert "Traceback" not in result.err


async def test_probe_server_with_a_listen_address_that_cannot_work_says_so() -> None:
    result = await takedown("probe-server", "--listen", "abc", db_url="postgresql://unused/x")
    assert result.code != 0
    assert "'abc' is not host:port" in result.err and "Traceback" not in result.err


def test_listen_addresses_in_brackets_bind_the_bare_ipv6_address() -> None:
    assert listen_address("[::1]:8080") == ("::1", 8080)
    assert listen_address("0.0.0.0:0") == ("0.0.0.0", 0)
