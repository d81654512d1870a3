"""Partner hand-over rules: what counts as the partner taking our report, how its outcomes
are mirrored, and that the forward policy keeps the direct route as the mail fallback."""

from __future__ import annotations

from service.domain.partners import accepted_case_id, mirror_of, refusal_of
from service.domain.routing import Hotline, Recipient
from service.domain.routing_policy import apply_jurisdiction
from service.domain.states import CaseState


def test_the_partner_took_the_report_when_it_names_a_case() -> None:
    for status in ("created", "duplicate", "reopened"):
        answer = {"results": [{"index": 0, "status": status, "case_id": 7}]}
        assert accepted_case_id(answer) == 7
    refused = {"results": [{"index": 0, "status": "rejected", "problem": {"detail": "withdrawn"}}]}
    assert accepted_case_id(refused) is None and refusal_of(refused) == "withdrawn"
    for odd in (None, [], {"results": []}, {"results": [{"status": "created"}]}, "x"):
        assert accepted_case_id(odd) is None


def test_removals_close_and_reappearances_reopen_only_from_the_right_state() -> None:
    removed, back = mirror_of("removed"), mirror_of("reappeared")
    assert removed and removed.to_state is CaseState.REMOVED
    assert removed.when == {CaseState.FORWARDED} and removed.stamp == "first_gone_at"
    assert back and back.to_state is CaseState.FORWARDED and back.when == {CaseState.REMOVED}
    acknowledged = mirror_of("acknowledged")
    assert (
        acknowledged and acknowledged.to_state is None and acknowledged.stamp == "acknowledged_at"
    )
    assert mirror_of("escalated") is None  # not an outcome a partner's feed speaks of


def test_forward_keeps_the_hosters_desk_as_the_mail_fallback() -> None:
    desk = [Recipient("abuse@host.example", "abuse", "rdap", "high")]
    notes: list[str] = []
    partner = Hotline("BE", "Child Focus", None, None, "forward")
    assert apply_jurisdiction(partner, desk, notes) == desk
    assert any("Child Focus" in note for note in notes)
