-- Indexes the scale benchmark (python -m bench scale --cases 1000000) showed missing.
-- Each serves a per-row lookup of the analysts' queues, which ran as a scan of a whole
-- (growing) set per page row.

-- Active holds of one case; and the few hoster/domain holds (case_id NULL) on their own,
-- so the queue's hold lookup no longer reads every active hold for every row it shows.
CREATE INDEX holds_active_case ON holds (case_id, id) WHERE lifted_at IS NULL AND case_id IS NOT NULL;
CREATE INDEX holds_active_scope ON holds (id) WHERE lifted_at IS NULL AND case_id IS NULL;

-- Unreviewed "not ours"/"dispute" answers of one case (ack_answers_queue is keyed by answer,
-- so a per-case lookup filtered every open answer of that kind).
CREATE INDEX ack_answers_open_case ON ack_answers (case_id, id)
    WHERE reviewed_at IS NULL AND answer IN ('not_ours', 'dispute');

-- Cases on the notice clock in clock order: the overdue queue and the escalation sweep
-- read only these (a sixth of a live system), never the removed majority.
CREATE INDEX cases_on_notice_clock ON cases (first_notice_at, id)
    WHERE state IN ('notified', 'acknowledged', 'escalated');
