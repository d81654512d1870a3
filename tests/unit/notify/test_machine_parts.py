"""The CSV and X-ARF parts parse back exactly; spreadsheets never see a formula."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import unquote

from service.notify.csvpart import items_csv, parse_items_csv, safe_cell
from service.notify.items import NoticeItem
from service.notify.xarf import Reporter, report_json, xarf_reports

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
HOSTILE = "http://e.example/\r\n--- !!python/object:os.system\n'\"<b>\u202e\u0000é"


def item(url: str, case_id: int = 7) -> NoticeItem:
    return NoticeItem(case_id, url, {"sha256": "ab" * 32, "md5": "cd" * 16}, "image/png", AT, None)


def test_formula_cells_are_neutralised() -> None:
    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(dangerous) == "'" + dangerous
    assert safe_cell("https://x.example/=1") == "https://x.example/=1"


def test_csv_round_trips_urls_and_hashes_exactly() -> None:
    rows = parse_items_csv(items_csv([item(HOSTILE), item("https://ok.example/a,b", 8)]))
    assert [r["url"] for r in rows] == [HOSTILE, "https://ok.example/a,b"]
    assert rows[0]["sha256"] == "ab" * 32 and rows[0]["reference"] == "TT-C0000007"
    assert rows[0]["first_detected"] == "2024-05-01T12:00:00Z" and rows[0]["last_seen"] == ""


def test_xarf_reports_round_trip_urls_and_hashes_exactly() -> None:
    reports = xarf_reports(
        [item(HOSTILE), item("https://ok.example/x", 8)],
        reporter=Reporter("Hotline", "n@hotline.example"),
        notice_ref="TT-N000001",
        message_id="<n.1@hotline.example>",
    )
    docs = [json.loads(report_json(r)) for r in reports]
    assert [unquote(d["url"]) for d in docs] == [HOSTILE, "https://ok.example/x"]
    assert docs[0]["xarf_version"].startswith("4.") and docs[0]["type"] == "csam"
    assert docs[0]["hash_values"] == {"sha256": "ab" * 32, "md5": "cd" * 16}
    assert docs[1]["tags"] == ["takedown:tt-c0000008"]
