"""Every X-ARF v4 report a notice carries validates against the official schemas
(../shared/xarf-v4, resolved locally), and the notice is shaped as X-ARF sends by mail."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from service.notify.compose import NoticeDraft, Sender, build_message
from service.notify.items import NoticeItem
from service.notify.xarf import reports_in

SCHEMAS = Path(__file__).resolve().parents[4] / "shared" / "xarf-v4"
CSAM = "https://xarf.org/schemas/v4/types/content-csam.json"
AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SENDER = Sender("Example Hotline", "notices@hotline.example", "desk@hotline.example")
HOSTILE = "http://e.example/\r\n--- !!python/object:x\n'\"\\<b>\u202e\x00😀é"

pytestmark = pytest.mark.skipif(
    not SCHEMAS.is_dir(), reason=f"X-ARF v4 schemas not found at {SCHEMAS} (../shared absent)"
)


def validator() -> Draft202012Validator:
    """The csam schema with its $refs (content-base, xarf-core) resolved from the local files
    by their $id: nothing is fetched."""
    resources = []
    for path in sorted((SCHEMAS / "schemas").rglob("*.json")):
        document = json.loads(path.read_text())
        resources.append((document["$id"], Resource.from_contents(document)))
    registry: Registry[Any] = Registry().with_resources(resources)
    schema = registry.contents(CSAM)
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


def notice(items: list[NoticeItem]) -> EmailMessage:
    draft = NoticeDraft(
        5, "notice", "en", "abuse@h.example", "<n.5@hotline.example>", "NL", items, AT,
        "http://127.0.0.1:8080/ack/T", AT,
    )  # fmt: skip
    message = message_from_bytes(build_message(draft, SENDER).as_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


ITEMS = [
    NoticeItem(1, "https://img.host.example/a/b.png", {"sha256": "ab" * 32}, "image/png", AT, AT,
               classification="A1"),
    NoticeItem(2, "http://203.0.113.7:8080/x?y=1", {"md5": "cd" * 16, "sha1": "ef" * 20},
               "video/mp4", AT, None, classification="category B"),
    NoticeItem(3, HOSTILE, {"pdq": "01" * 32}, "application/octet-stream", AT, AT,
               reappeared=True, removed_at=AT),
    NoticeItem(4, "https://xn--bcher-kva.example/é", {"sha256": "00" * 32}, "image/jpeg", AT, AT,
               classification="b2"),
]  # fmt: skip


def test_the_schemas_accept_the_specifications_own_sample_and_refuse_a_broken_one() -> None:
    sample = json.loads((SCHEMAS / "samples" / "content-csam.json").read_text())
    assert not list(validator().iter_errors(sample))
    broken = dict(sample, classification="C", reporter={"org": "x"})
    assert len(list(validator().iter_errors(broken))) >= 2


def test_every_report_of_a_notice_validates() -> None:
    reports = reports_in(notice(ITEMS))
    assert len(reports) == len(ITEMS)
    check = validator()
    for report in reports:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in check.iter_errors(report)]
        assert errors == [], report["url"]


def test_reports_carry_the_urls_hashes_and_classification_exactly() -> None:
    one, two, three, four = reports_in(notice(ITEMS))
    assert [r["url"] for r in (one, two, four)] == [
        ITEMS[0].url,
        ITEMS[1].url,
        "https://xn--bcher-kva.example/%C3%A9",
    ]
    assert unquote(three["url"]) == HOSTILE  # what a URI cannot hold, percent-encoded
    assert (one["category"], one["type"], one["detection_method"]) == (
        "content",
        "csam",
        "hash_match",
    )
    assert one["classification"] == "A1" and four["classification"] == "B2"
    assert two["classification"] == "baseline"  # not in the v4 vocabulary
    assert one["hash_values"] == {"sha256": "ab" * 32} and three["hash_values"] == {
        "pdq": "01" * 32
    }
    assert one["domain"] == "img.host.example" and "domain" not in two
    assert two["source_identifier"] == "203.0.113.7" and two["media_type"] == "video"
    assert one["reporter"] == {"org": "Example Hotline", "contact": "desk@hotline.example",
                               "domain": "hotline.example"}  # fmt: skip
    assert (
        "takedown:reappeared" in three["tags"]
        and three["previously_removed_at"] == "2024-05-01T12:00:00Z"
    )
    assert len({r["report_id"] for r in (one, two, three, four)}) == 4


def test_the_notice_is_an_xarf_mail_report() -> None:
    message = notice(ITEMS[:1])
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "feedback-report"
    assert "X-ARF" not in message
    first, fields, report, csv = message.iter_parts()
    assert first.get_content_type() == "multipart/alternative"
    assert fields.get_content_type() == "message/feedback-report"
    (block,) = fields.get_payload()
    assert (block["Feedback-Type"], block["Version"]) == ("xarf", "1")
    assert block["User-Agent"]
    assert report.get_content_type() == "application/json"
    assert report["Content-Transfer-Encoding"] == "base64"
    assert report.get_filename() == "xarf-TT-C0000001.json"
    assert csv.get_content_type() == "text/csv"


def test_the_same_notice_rendered_again_keeps_its_report_ids() -> None:
    assert [r["report_id"] for r in reports_in(notice(ITEMS))] == [
        r["report_id"] for r in reports_in(notice(ITEMS))
    ]
