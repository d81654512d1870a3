"""SQL that derives the notify/oversight/probe rows of the scale benchmark from the COPYed cases.

Kept apart from the generator so each reads on its own. Everything here is set-based: one
statement per table, whatever the number of cases.
"""

from __future__ import annotations

# One notice per (recipient, day): items of a hoster's cases of one day share a message,
# as the outbox aggregates them. 2 % bounced; the rest delivered.
NOTICES = """
INSERT INTO notices (recipient, language, country, kind, message_id, state, sealed_at,
                     created_at, deadline_at, sent_at, bounced_at, attempts)
SELECT r.recipients->0->>'address', 'en', min(r.country), 'notice',
       '<' || md5(r.recipients->0->>'address' || date_trunc('day', c.first_notice_at)) || '@bench>',
       'sent', min(c.first_notice_at), min(c.first_notice_at),
       min(c.first_notice_at) + interval '72 hours', min(c.first_notice_at),
       CASE WHEN random() < 0.02 THEN min(c.first_notice_at) + interval '1 hour' END, 1
FROM cases c JOIN case_routes r ON r.case_id = c.id
WHERE c.first_notice_at IS NOT NULL
GROUP BY r.recipients->0->>'address', date_trunc('day', c.first_notice_at)
"""
NOTICE_ITEMS = """
INSERT INTO notice_items (notice_id, case_id, added_at)
SELECT n.id, c.id, c.first_notice_at
FROM cases c JOIN case_routes r ON r.case_id = c.id
JOIN notices n ON n.message_id =
     '<' || md5(r.recipients->0->>'address' || date_trunc('day', c.first_notice_at)) || '@bench>'
WHERE c.first_notice_at IS NOT NULL
"""
# Analysts' queues: 1 % of open cases have an unreviewed "not ours" or "dispute" answer.
ANSWERS = """
INSERT INTO ack_answers (notice_id, case_id, answer, note, answered_at)
SELECT i.notice_id, i.case_id, CASE WHEN i.case_id % 2 = 0 THEN 'not_ours' ELSE 'dispute' END,
       '', i.added_at + interval '2 hours'
FROM notice_items i JOIN cases c ON c.id = i.case_id
WHERE c.state IN ('notified', 'acknowledged', 'escalated') AND c.id % 100 = 7
"""
RECEIVED_ANSWERS = """
INSERT INTO ack_answers (notice_id, case_id, answer, answered_at)
SELECT i.notice_id, i.case_id, 'received', c.acknowledged_at
FROM notice_items i JOIN cases c ON c.id = i.case_id
WHERE c.acknowledged_at IS NOT NULL
"""
# The ladder: escalated cases are on step 1+, a third of the other open ones have been looked at.
ESCALATIONS = """
INSERT INTO escalations (case_id, next_step, triggered, next_step_at, wake_at, updated_at)
SELECT c.id, CASE WHEN c.state = 'escalated' THEN 1 + c.id % 3 ELSE 0 END, false,
       c.first_notice_at + interval '72 hours', c.first_notice_at + interval '96 hours', now()
FROM cases c
WHERE c.state = 'escalated' OR (c.state IN ('notified', 'acknowledged') AND c.id % 3 = 0)
"""
HOLDS = """
INSERT INTO holds (case_id, reason, created_by, created_at)
SELECT id, 'law enforcement request', 'analyst:bench', updated_at FROM cases WHERE state = 'held'
"""
HOSTER_HOLD = """
INSERT INTO holds (hoster, reason, created_by) VALUES ('Hoster 49', 'investigation', 'analyst:bench')
"""
CONTACT_HEALTH = """
INSERT INTO contact_health (address, delivered, bounced, acknowledged, failing)
SELECT n.recipient, count(*) FILTER (WHERE n.bounced_at IS NULL),
       count(*) FILTER (WHERE n.bounced_at IS NOT NULL), 0, false
FROM notices n GROUP BY n.recipient
"""
TRACKING = """
INSERT INTO probe_tracking (case_id, streak_started_at, streak_last_gone, streak_count,
                            resume_state, cycle_started_at)
SELECT id, first_gone_at, first_gone_at, 1, 'notified', first_notice_at
FROM cases WHERE state = 'gone_pending'
"""
RECIDIVISM = """
INSERT INTO hoster_recidivism (hoster, reappearances, last_reappeared_at)
SELECT r.hoster, count(*), max(c.reappeared_at)
FROM cases c JOIN case_routes r ON r.case_id = c.id
WHERE c.reappeared_at IS NOT NULL AND r.hoster IS NOT NULL
GROUP BY r.hoster
"""
DERIVED = (
    NOTICES,
    NOTICE_ITEMS,
    ANSWERS,
    RECEIVED_ANSWERS,
    ESCALATIONS,
    HOLDS,
    HOSTER_HOLD,
    CONTACT_HEALTH,
    TRACKING,
    RECIDIVISM,
)
# Identity sequences past the COPYed ids, then statistics and visibility maps for the planner.
FINISH = (
    "SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))",
    "SELECT setval('case_events_id_seq', (SELECT max(id) FROM case_events))",
    "VACUUM (ANALYZE) cases, case_routes, case_events, jobs, notices, notice_items,"
    " ack_answers, escalations, holds, probe_tracking, stats_removed, stats_notices,"
    " stats_removal_days, stats_open, stats_open_bins",
)
