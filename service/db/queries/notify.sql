-- name: notify_failing_among
-- Which of the addresses $1 are known to be failing.
SELECT address FROM contact_health WHERE failing AND address = ANY($1::text[]);

-- name: notify_open_batch
-- The open batch of recipient $1, kind $2 and copies $7 (sorted), created if none (the first
-- item decides the language and country). The no-op update makes RETURNING give the existing
-- row too.
INSERT INTO notices (recipient, role, language, country, kind, message_id, cc)
VALUES ($1, $3, $4, $5, $2, $6, $7::text[])
ON CONFLICT (recipient, kind, cc) WHERE sealed_at IS NULL
DO UPDATE SET recipient = excluded.recipient
RETURNING id, created_at;

-- name: notify_add_item
-- Put case $2 into notice $1 (idempotent).
INSERT INTO notice_items (notice_id, case_id) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- name: notify_item_case_ids
-- The cases of notice $1, in a stable order (the split and the rendering rely on it).
SELECT case_id FROM notice_items WHERE notice_id = $1 ORDER BY case_id;

-- name: notify_new_sealed_notice
-- A notice split off an over-full batch (copied to the same Cc $7): sealed at once, its
-- items moved in afterwards.
INSERT INTO notices (recipient, role, language, country, kind, message_id, sealed_at, cc)
VALUES ($1, $2, $3, $4, $5, $6, now(), $7::text[])
RETURNING id;

-- name: notify_move_items
-- Move the cases $3 from notice $1 to notice $2.
UPDATE notice_items SET notice_id = $2 WHERE notice_id = $1 AND case_id = ANY($3::bigint[]);

-- name: notify_items
-- What a notice says about each item: URL, hashes, media type, first detection, last seen,
-- and for content that came back after a confirmed removal, when it was last removed.
SELECT c.id AS case_id, c.url, c.sha256, c.sha1, c.md5, c.pdq, c.media_type, c.state,
       c.classification, c.detected_at, c.last_seen_at,
       c.reappeared_at IS NOT NULL AS reappeared,
       coalesce(t.last_removed_at, c.removed_at) AS removed_before
FROM notice_items i JOIN cases c ON c.id = i.case_id
LEFT JOIN probe_tracking t ON t.case_id = c.id
WHERE i.notice_id = $1
ORDER BY c.id;

-- name: notify_insert_ack_token
-- Store the hash of a new acknowledgment token for notice $2.
INSERT INTO ack_tokens (sha256, notice_id, csrf_secret, expires_at) VALUES ($1, $2, $3, $4);

-- name: notify_mark_sent
-- The SMTP server accepted notice $1; only a notice being sent can become sent.
UPDATE notices SET state = 'sent', sent_at = now(), last_error = NULL
WHERE id = $1 AND state = 'sending'
RETURNING sent_at;

-- name: notify_mark_failed
-- Notice $1 was refused for good ($2 says why).
UPDATE notices SET state = 'failed', last_error = $2 WHERE id = $1 AND state <> 'sent';

-- name: notify_note_error
-- Keep the last transient error of notice $1 for operators.
UPDATE notices SET last_error = $2 WHERE id = $1;

-- name: notify_health_delivered
INSERT INTO contact_health (address, delivered) VALUES ($1, 1)
ON CONFLICT (address) DO UPDATE
SET delivered = contact_health.delivered + 1, updated_at = now();

-- name: notify_health_failed
-- Address $1 refused or bounced ($2 = 1 for a bounce): it is skipped from now on.
INSERT INTO contact_health (address, bounced, failing, failing_since, last_error)
VALUES ($1, $2, true, now(), $3)
ON CONFLICT (address) DO UPDATE
SET bounced = contact_health.bounced + $2, failing = true,
    failing_since = coalesce(contact_health.failing_since, now()),
    last_error = $3, updated_at = now();

-- name: notify_health_acknowledged
INSERT INTO contact_health (address, acknowledged) VALUES ($1, 1)
ON CONFLICT (address) DO UPDATE
SET acknowledged = contact_health.acknowledged + 1, updated_at = now();

-- name: notify_notice_by_message_id
SELECT * FROM notices WHERE message_id = $1;

-- name: notify_token
-- The acknowledgment token with hash $1 and its notice.
SELECT t.sha256, t.notice_id, t.csrf_secret, t.expires_at, t.used_at, t.answers,
       t.expires_at <= now() AS expired, n.language, n.recipient, n.message_id, n.kind
FROM ack_tokens t JOIN notices n ON n.id = t.notice_id
WHERE t.sha256 = $1;

-- name: notify_token_used
UPDATE ack_tokens SET used_at = coalesce(used_at, now()), answers = answers + 1 WHERE sha256 = $1;

-- name: notify_insert_answer
-- An answer to one item; the same answer twice is recorded once.
INSERT INTO ack_answers (notice_id, case_id, answer, note, responsible, dispute_reason)
VALUES ($1, $2, $3, $4, coalesce($5, ''), $6)
ON CONFLICT (notice_id, case_id, answer) DO NOTHING
RETURNING id;

-- name: notify_answer_queue
-- Answers the hotline must look at ("not ours", disputes), oldest first.
SELECT a.id, a.notice_id, a.case_id, a.answer, a.note, a.responsible, a.dispute_reason,
       a.answered_at, n.recipient, c.url
FROM ack_answers a JOIN notices n ON n.id = a.notice_id JOIN cases c ON c.id = a.case_id
WHERE a.reviewed_at IS NULL AND a.answer IN ('not_ours', 'dispute')
ORDER BY a.answered_at
LIMIT $1;

-- name: notify_contact_health
-- Per address: delivered, bounced, acknowledged, failing, and the median notice→gone time
-- over the cases it was sent (each case once: reminders must not weigh a slow case more).
SELECT h.address, h.delivered, h.bounced, h.acknowledged, h.failing, h.last_error,
       (SELECT percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM c.first_gone_at - c.first_notice_at))
        FROM cases c
        WHERE c.first_gone_at IS NOT NULL AND c.first_notice_at IS NOT NULL
          AND c.id IN (SELECT i.case_id FROM notices n
                       JOIN notice_items i ON i.notice_id = n.id
                       WHERE n.recipient = h.address AND n.state = 'sent')
       ) AS median_removal_seconds
FROM contact_health h
ORDER BY h.address
LIMIT $1;

-- name: notify_cc_failed
-- Copies of notice $1 the mail server refused or that bounced: {address: why} merged into
-- cc_failed (the notice itself stays as it is: its main recipient got it).
UPDATE notices SET cc_failed = cc_failed || $2::jsonb WHERE id = $1;

-- name: notify_mark_bounced
-- A DSN reported notice $1 undeliverable; true only the first time (a repeated DSN is a no-op).
UPDATE notices SET bounced_at = now(), last_error = $2
WHERE id = $1 AND bounced_at IS NULL
RETURNING id;

-- name: notify_next_unsent
-- The oldest notice of recipient $1 still to be sent, and when it may go (its due time; rows
-- from before due_at: the gathering window $2 after creation): woken as soon as the notice before it has left.
SELECT id, greatest(now(), coalesce(due_at, created_at + $2::interval)) AS due
FROM notices WHERE recipient = $1 AND state IN ('pending', 'sending')
ORDER BY id LIMIT 1;

-- name: notify_lock_round
-- The notices $1 of one send round, locked in id order (concurrent rounds cannot deadlock),
-- each with whether an earlier notice of its recipient is still to be sent (per recipient,
-- notices leave in creation order) and the transaction's time (deadlines, token expiry).
SELECT n.*, now() AS tx_now,
       EXISTS (SELECT FROM notices e
               WHERE e.recipient = n.recipient AND e.id < n.id
                 AND e.state IN ('pending', 'sending')) AS behind
FROM notices n
WHERE n.id = ANY($1::bigint[])
ORDER BY n.id
FOR UPDATE OF n;

-- name: notify_round_items
-- What the notices $1 say about each item, by notice and case; a case that came back after a
-- confirmed removal says when it was last removed (the probe's latest, else the first). The
-- notices $2 (those being sealed now) first lose the items whose case no longer wants a
-- notice (state not in $3: held, gone, …); the select does not see the statement's own
-- delete, hence the anti-join.
WITH dropped AS (
    DELETE FROM notice_items i USING cases c
    WHERE i.notice_id = ANY($2::bigint[]) AND c.id = i.case_id
      AND NOT (c.state::text = ANY($3::text[]))
    RETURNING i.notice_id, i.case_id
)
SELECT i.notice_id, c.id AS case_id, c.url, c.sha256, c.sha1, c.md5, c.pdq, c.media_type,
       c.state, c.classification, c.detected_at, c.last_seen_at,
       c.reappeared_at IS NOT NULL AS reappeared,
       coalesce(t.last_removed_at, c.removed_at) AS removed_before
FROM notice_items i JOIN cases c ON c.id = i.case_id
LEFT JOIN probe_tracking t ON t.case_id = c.id
WHERE i.notice_id = ANY($1::bigint[])
  AND NOT EXISTS (SELECT FROM dropped d WHERE d.notice_id = i.notice_id AND d.case_id = i.case_id)
ORDER BY i.notice_id, c.id;

-- name: notify_start_round
-- Seal the notices $1 and count a send attempt each (deadline $2 per notice, fixed at the
-- first attempt), and store each attempt's acknowledgment token: hash $3, CSRF secret $4,
-- expiring at $5. Returns every notice's fixed deadline.
WITH started AS (
    UPDATE notices n
    SET state = 'sending', sealed_at = coalesce(n.sealed_at, now()), attempts = n.attempts + 1,
        deadline_at = coalesce(n.deadline_at, a.deadline_at)
    FROM unnest($1::bigint[], $2::timestamptz[]) AS a(id, deadline_at)
    WHERE n.id = a.id
    RETURNING n.id, n.deadline_at
), tokens AS (
    INSERT INTO ack_tokens (sha256, notice_id, csrf_secret, expires_at)
    SELECT t.sha256, t.notice_id, t.csrf_secret, $5::timestamptz
    FROM unnest($3::bytea[], $1::bigint[], $4::bytea[]) AS t(sha256, notice_id, csrf_secret)
)
SELECT id, deadline_at FROM started;

-- name: notify_lock_sending
-- Of the notices $1 the mail server accepted, those still 'sending' (a rerun after a crash
-- finds the others sent and records nothing for them), locked in id order.
SELECT id FROM notices WHERE id = ANY($1::bigint[]) AND state = 'sending' ORDER BY id FOR UPDATE;

-- name: notify_record_round
-- The locked, accepted notices $1 become sent, their recipients' health counts the
-- deliveries (copies too, unless the server refused them), and each recipient's next notice still to be sent is returned with when it may
-- go (gathering window $2), so that it can be woken. `due` of a sent row is the transaction's
-- time.
WITH sent AS (
    UPDATE notices SET state = 'sent', sent_at = now(), last_error = NULL
    WHERE id = ANY($1::bigint[]) AND state = 'sending'
    RETURNING id, recipient, cc, cc_failed
), delivered AS (
    SELECT recipient AS address FROM sent
    UNION ALL
    SELECT copy FROM sent, unnest(sent.cc) AS copy WHERE NOT sent.cc_failed ? copy
), health AS (
    INSERT INTO contact_health (address, delivered)
    SELECT address, count(*) FROM delivered GROUP BY address ORDER BY address
    ON CONFLICT (address) DO UPDATE
    SET delivered = contact_health.delivered + excluded.delivered, updated_at = now()
), following AS (
    SELECT DISTINCT ON (n.recipient) n.id,
           greatest(now(), coalesce(n.due_at, n.created_at + $2::interval)) AS due
    FROM notices n
    WHERE n.recipient IN (SELECT recipient FROM sent) AND n.state IN ('pending', 'sending')
      AND n.id NOT IN (SELECT id FROM sent)
    ORDER BY n.recipient, n.id
)
SELECT id, true AS sent, now() AS due FROM sent
UNION ALL
SELECT id, false, due FROM following;

-- name: notify_cases_notified
-- The cases of accepted notices ($1, each with its notice's event detail $2), as
-- cases.transition_many would record them but with a detail per notice, in one statement:
-- a case awaiting its notice (state in $3) moves to 'notified', stamped first_notice_at,
-- with a 'notice' event from its old state; a case already on the clock (reminder, rerouted
-- item) gets the event only. Rows are locked in id order (no deadlock between rounds). A
-- case in two notices of the round moves once, with the first one's event. Returns the ids
-- that moved.
WITH sent AS (
    SELECT s.case_id, s.detail,
           row_number() OVER (PARTITION BY s.case_id ORDER BY s.ord) AS nth
    FROM unnest($1::bigint[], $2::jsonb[]) WITH ORDINALITY AS s(case_id, detail, ord)
), locked AS (
    SELECT id, state FROM cases
    WHERE id = ANY($1::bigint[]) AND state = ANY($3::case_state[])
    ORDER BY id
    FOR UPDATE
), moved AS (
    UPDATE cases c
    SET state = 'notified', updated_at = now(), first_notice_at = coalesce(c.first_notice_at, now())
    FROM locked
    WHERE c.id = locked.id
      AND c.id = ANY($1::bigint[])  -- an index path for `c` too, never a scan of all cases
    RETURNING c.id, locked.state AS from_state
), events AS (
    INSERT INTO case_events (case_id, actor, kind, from_state, to_state, detail)
    SELECT s.case_id, $4, 'notice', m.from_state,
           CASE WHEN m.id IS NOT NULL THEN 'notified'::case_state END, s.detail
    FROM sent s LEFT JOIN moved m ON m.id = s.case_id AND s.nth = 1
    ORDER BY s.case_id, s.nth
)
SELECT id FROM moved;

-- name: notify_cases_for_outbox_many
-- Cases $1 with their state and routing decision, and whether each already waits in a
-- notice of kind $2 that is not yet sent or failed. Not locked: the outbox decides from this
-- read, locks the notices and then the cases (notify_lock_cases), and checks again.
SELECT c.id, c.state, r.recipients, r.registrar, r.country, r.cdn,
       EXISTS (SELECT FROM notice_items i JOIN notices n ON n.id = i.notice_id
               WHERE i.case_id = c.id AND n.kind = $2::notice_kind
                 AND n.state IN ('pending', 'sending')) AS in_flight
FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
WHERE c.id = ANY($1::bigint[])
ORDER BY c.id;

-- name: notify_lock_cases
-- Lock the cases $1 in id order (after the notices they join: the lock order of everything
-- that writes about a notice's cases).
SELECT FROM cases WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE;

-- name: notify_still_needing
-- Of the (locked) cases $1, those in a state of $3 that wait in no notice of kind $2 still
-- to be sent: two outbox rounds never both place a case.
SELECT c.id FROM cases c
WHERE c.id = ANY($1::bigint[]) AND c.state::text = ANY($3::text[])
  AND NOT EXISTS (SELECT FROM notice_items i JOIN notices n ON n.id = i.notice_id
                  WHERE i.case_id = c.id AND n.kind = $2::notice_kind
                    AND n.state IN ('pending', 'sending'));

-- name: notify_lock_open_batches
-- The open batches of kind $1 for the (recipient $2, copies $3) pairs (copies a sorted
-- comma-joined list, '' = none), locked in id order as a send round locks notices
-- (notify_lock_round): outbox and send rounds wait for each other, never in a cycle. A batch
-- sealed while we waited no longer matches and is left out.
SELECT n.id, n.recipient, n.cc, n.created_at
FROM notices n
JOIN unnest($2::text[], $3::text[]) AS b(recipient, cc)
  ON n.recipient = b.recipient AND n.cc = string_to_array(b.cc, ',')
WHERE n.kind = $1::notice_kind AND n.sealed_at IS NULL
ORDER BY n.id
FOR UPDATE OF n;

-- name: notify_create_batches
-- New open batches ($1 recipients with role $2, language $3, country $4, Message-ID $6 and
-- copies $7, a sorted comma-joined list, '' = none; kind $5), in address order: (id,
-- recipient, cc, created_at) of each created. One another transaction created meanwhile is
-- left out (the caller undoes its attempt and locks it in order).
INSERT INTO notices (recipient, role, language, country, kind, message_id, cc)
SELECT b.recipient, b.role, b.language, b.country, $5::notice_kind, b.message_id,
       string_to_array(b.cc, ',')
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $6::text[], $7::text[])
     AS b(recipient, role, language, country, message_id, cc)
ORDER BY b.recipient, b.cc
ON CONFLICT (recipient, kind, cc) WHERE sealed_at IS NULL DO NOTHING
RETURNING id, recipient, cc, created_at;

-- name: notify_add_items
-- Put the cases $2 into the notices $1 (pairwise; idempotent; the notices locked by the
-- caller), and bring each notice's due time forward to the gathering window $3 after its
-- earliest item became ready: a freshly resolved case's resolution, else (content back, which
-- the probe stage hands over at once; moved from a failed contact; a lifted hold) now.
-- Returns each notice's due time.
WITH pairs AS (
    SELECT * FROM unnest($1::bigint[], $2::bigint[]) AS p(notice_id, case_id)
), added AS (
    INSERT INTO notice_items (notice_id, case_id)
    SELECT notice_id, case_id FROM pairs ORDER BY 1, 2
    ON CONFLICT DO NOTHING
), ready AS (
    SELECT p.notice_id,
           min(least(now(), CASE WHEN c.state = 'resolved' THEN c.resolved_at END)) AS ready_at
    FROM pairs p JOIN cases c ON c.id = p.case_id
    GROUP BY p.notice_id
)
UPDATE notices n
SET due_at = least(n.due_at, r.ready_at + $3::interval)
FROM ready r
WHERE n.id = r.notice_id
RETURNING n.id, n.due_at;

-- name: notify_address_routes
-- The routes of the other networks of cases $1 (a host served from several networks), in
-- order: each network's desk gets its own notice.
SELECT case_id, position, recipients, country
FROM case_address_routes WHERE case_id = ANY($1::bigint[])
ORDER BY case_id, position;
