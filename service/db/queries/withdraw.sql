-- name: withdraw_cancel_unsent
-- Cases $1 were withdrawn: they leave every notice not yet sent (pending, or sending and
-- waiting for a retry); a notice left with no item is cancelled (state 'cancelled', reason $2:
-- never sent, and no contact failure of its recipient) and never sent. Withdrawal notices themselves are kept. Returns how many notices lost an
-- item and how many of them were cancelled.
WITH dropped AS (
    DELETE FROM notice_items i USING notices n
    WHERE i.case_id = ANY($1::bigint[]) AND n.id = i.notice_id
      AND n.state IN ('pending', 'sending') AND n.kind <> 'withdrawal'
    RETURNING i.notice_id
), emptied AS (
    UPDATE notices n
    SET state = 'cancelled', sealed_at = coalesce(n.sealed_at, now()), last_error = $2
    WHERE n.id IN (SELECT notice_id FROM dropped)
      AND NOT EXISTS (SELECT FROM notice_items i
                      WHERE i.notice_id = n.id AND NOT i.case_id = ANY($1::bigint[]))
    RETURNING n.id
)
SELECT (SELECT count(DISTINCT notice_id) FROM dropped) AS touched,
       (SELECT count(*) FROM emptied) AS cancelled;

-- name: withdraw_quiet_ladders
-- Withdrawn cases $1 have nothing left due on their escalation ladder (no reminder, no step).
UPDATE escalations SET wake_at = NULL, triggered = false, updated_at = now()
WHERE case_id = ANY($1::bigint[]);

-- name: withdraw_notified_recipients
-- Who was told about cases $1 (a sent notice, reminder or escalation), once per address:
-- the cases each was told about, the language and country of the latest notice to it, and
-- the copies those notices went to.
WITH told AS (
    SELECT DISTINCT n.id, n.recipient, n.role, n.language, n.country, n.cc, i.case_id
    FROM notice_items i JOIN notices n ON n.id = i.notice_id
    WHERE i.case_id = ANY($1::bigint[]) AND n.state = 'sent' AND n.kind <> 'withdrawal'
)
SELECT t.recipient,
       (array_agg(t.role ORDER BY t.id DESC))[1] AS role,
       (array_agg(t.language ORDER BY t.id DESC))[1] AS language,
       (array_agg(t.country ORDER BY t.id DESC))[1] AS country,
       array_agg(DISTINCT t.case_id ORDER BY t.case_id) AS case_ids,
       coalesce((SELECT array_agg(DISTINCT copy ORDER BY copy)
                 FROM told o, unnest(o.cc) AS copy
                 WHERE o.recipient = t.recipient AND copy <> t.recipient), '{}') AS cc
FROM told t
GROUP BY t.recipient
ORDER BY t.recipient;

-- name: withdraw_insert_notice
-- A withdrawal notice to recipient $1 (role $2, language $3, country $4, Message-ID $5,
-- copies $6) about cases $7: sealed at once (it gathers nothing more), sent by the notify stage.
WITH notice AS (
    INSERT INTO notices (recipient, role, language, country, kind, message_id, cc, sealed_at)
    VALUES ($1, $2, $3, $4, 'withdrawal', $5, $6::text[], now())
    RETURNING id
), items AS (
    INSERT INTO notice_items (notice_id, case_id)
    SELECT notice.id, c FROM notice, unnest($7::bigint[]) AS c ORDER BY c
)
SELECT id FROM notice;

-- name: withdraw_record_hash
-- Withdraw hash $1:$2 with reason $3 by $4 (the first withdrawal stands; a repeat returns it
-- unchanged, `created` false).
WITH new AS (
    INSERT INTO withdrawn_hashes (algorithm, digest, reason, created_by)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (algorithm, digest) DO NOTHING
    RETURNING *, true AS created
)
SELECT * FROM new
UNION ALL
SELECT *, false FROM withdrawn_hashes WHERE algorithm = $1 AND digest = $2
    AND NOT EXISTS (SELECT FROM new);

-- name: withdraw_count_hash
-- Hash withdrawal $1 withdrew $2 more cases.
UPDATE withdrawn_hashes SET cases_withdrawn = cases_withdrawn + $2 WHERE id = $1;

-- name: withdraw_cases_with_hash
-- Cases carrying hash $1:$2 that are not withdrawn yet, in id order (one lock order). The
-- algorithm name is whitelisted by the caller: {column} is replaced by it.
SELECT id FROM cases WHERE {column} = $1 AND state <> 'withdrawn' ORDER BY id;

-- name: withdraw_hashes_list
-- Withdrawn hashes, newest first.
SELECT id, algorithm, digest, reason, created_by, created_at, cases_withdrawn
FROM withdrawn_hashes ORDER BY id DESC LIMIT $1;

-- name: withdraw_hashes_matching
-- Of the reports' hashes (one row per hash: $1 the report's position, $2 the algorithm, $3 the
-- digest), those withdrawn, with the reason. Each is looked up on the unique (algorithm,
-- digest) index.
SELECT h.position, w.algorithm, w.digest, w.reason
FROM unnest($1::int[], $2::text[], $3::text[]) AS h(position, algorithm, digest)
JOIN withdrawn_hashes w ON w.algorithm = h.algorithm AND w.digest = h.digest
ORDER BY h.position, w.id;

-- name: withdraw_any
-- Whether any hash is withdrawn at all: while none is, intake ships no hashes to look up.
SELECT EXISTS (SELECT FROM withdrawn_hashes);

-- name: withdraw_dispute_answers
-- The unreviewed dispute answers of case $1 (the reason the hoster gave, and its note).
SELECT id, dispute_reason, note, answered_at FROM ack_answers
WHERE case_id = $1 AND answer = 'dispute' AND reviewed_at IS NULL
ORDER BY id;

-- name: reopen_candidates
-- Of cases $1, those whose content was removed and whose watch after removal has ended (no
-- re-check is scheduled any more): a new report of them reopens the case. Locked, id order.
SELECT c.id, t.last_removed_at
FROM cases c LEFT JOIN probe_tracking t ON t.case_id = c.id
WHERE c.id = ANY($1::bigint[]) AND c.state = 'removed'
  AND NOT EXISTS (SELECT FROM jobs j WHERE j.kind = 'probe' AND j.case_id = c.id)
ORDER BY c.id
FOR UPDATE OF c;

-- name: reopen_tracking
-- A reopened case starts a new re-check cycle now: no streak, no state to resume.
INSERT INTO probe_tracking (case_id, streak_count, cycle_started_at)
VALUES ($1, 0, now())
ON CONFLICT (case_id) DO UPDATE
SET streak_started_at = NULL, streak_last_gone = NULL, streak_count = 0, resume_state = NULL,
    cycle_started_at = now();

-- name: withdraw_reporter_of
-- The scanner token that reported case $1 (locked: its withdrawal follows in this transaction).
SELECT scanner_id FROM cases WHERE id = $1 FOR UPDATE;
