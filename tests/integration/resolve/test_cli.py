"""`takedown contacts …` and `takedown hotlines …` change what the resolver decides."""

from __future__ import annotations

import asyncpg

from service.db import resolve_repo
from tests.integration.cli_runner import takedown


async def test_contact_book_and_hotline_commands(db_url: str, pool: asyncpg.Pool) -> None:
    added = await takedown(
        "contacts",
        "add",
        "--cidr",
        "185.61.148.7/22",
        "--address",
        "desk@tulpnet.nl",
        "--language",
        "nl",
        "--cc",
        "legal@tulpnet.nl",
        db_url=db_url,
    )
    assert added.code == 0, added.err
    both = await takedown("contacts", "add", "--asn", "1", "--domain", "x.nl", db_url=db_url)
    assert both.code != 0 and "exactly one" in both.err
    listed = await takedown("contacts", "list", db_url=db_url)
    assert "cidr=185.61.148.0/22" in listed.out and "desk@tulpnet.nl" in listed.out
    hot = await takedown(
        "hotlines",
        "set",
        "nl",
        "--name",
        "Meldpunt",
        "--address",
        "meld@hotline.example.nl",
        "--policy",
        "both",
        db_url=db_url,
    )
    assert hot.code == 0, hot.err
    async with pool.acquire() as conn:
        rules = await resolve_repo.all_rules(conn)
        hotlines = await resolve_repo.all_hotlines(conn)
    assert rules[0]["cc"] == ["legal@tulpnet.nl"]
    assert (hotlines[0]["country"], hotlines[0]["policy"]) == ("NL", "both")
    removed = await takedown("contacts", "remove", str(rules[0]["id"]), db_url=db_url)
    assert removed.code == 0
    missing = await takedown("contacts", "remove", "999", db_url=db_url)
    assert missing.code != 0 and "no contact rule 999" in missing.err
