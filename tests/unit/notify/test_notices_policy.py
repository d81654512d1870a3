"""Pure notice policy: recipients, batching, deadlines, languages, safe wording."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from service.domain.notices import (
    choose_language,
    choose_recipient,
    deadline,
    defang,
    header_safe,
    notice_reference,
    parse_recipients,
    registrar_recipient,
    split_batches,
    subject,
)


def test_recipients_are_ranked_and_hostile_addresses_dropped() -> None:
    raw = [
        {"address": "second@b.example", "rank": 1},
        {"address": "evil@x.example\r\nBcc: v@y.example", "rank": 0},
        {"address": "First@A.example", "rank": 0, "language": "de"},
        {"address": "no-at-sign", "rank": 2},
        {"address": "a..b@c.example", "rank": 3},
    ]
    assert [r.address for r in parse_recipients(raw)] == ["first@a.example", "second@b.example"]


def test_best_working_contact_then_registrar_then_nobody() -> None:
    ranked = parse_recipients([{"address": "a@x.example"}, {"address": "b@x.example"}])
    registrar = registrar_recipient({"abuse": "abuse@reg.example"})
    assert choose_recipient(ranked, registrar, set()).address == "a@x.example"
    assert choose_recipient(ranked, registrar, {"a@x.example"}).address == "b@x.example"
    failing = {"a@x.example", "b@x.example"}
    assert choose_recipient(ranked, registrar, failing).role == "registrar"
    assert choose_recipient(ranked, registrar, failing | {"abuse@reg.example"}) is None
    assert registrar_recipient({"abuse": None}) is None


def test_batches_respect_the_cap_and_keep_order() -> None:
    assert split_batches(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert split_batches([], 3) == []
    with pytest.raises(ValueError):
        split_batches([1], 0)


def test_deadline_uses_the_country_norm_else_the_default() -> None:
    sent = datetime(2024, 1, 1, tzinfo=UTC)
    norms = {"NL": timedelta(hours=24)}
    assert deadline(sent, "nl", timedelta(hours=72), norms) == sent + timedelta(hours=24)
    assert deadline(sent, None, timedelta(hours=72), norms) == sent + timedelta(hours=72)


@pytest.mark.parametrize(
    ("language", "country", "expected"),
    [
        ("nl", "DE", "nl"),
        ("pt", "FR", "fr"),
        (None, "AT", "de"),
        (None, "US", "en"),
        ("DE-at", None, "de"),
    ],
)
def test_language_choice(language: str | None, country: str | None, expected: str) -> None:
    assert choose_language(language, country) == expected


def test_defanged_urls_are_unclickable_and_show_hidden_characters() -> None:
    assert defang("https://bad.example.com/a.b/c") == "hxxps://bad[.]example[.]com/a.b/c"
    assert defang("http://x.example/\r\n\u202e") == "hxxp://x[.]example/\\u000d\\u000a\\u202e"


def test_subject_carries_a_stable_reference_and_no_control_characters() -> None:
    assert notice_reference(42) == "TT-N000042"
    text = subject("notice", "en", 42, 3)
    assert "TT-N000042" in text and "3 URL" in text
    assert header_safe("a\r\nBcc: x\u202e\tb") == "a Bcc: x b"
