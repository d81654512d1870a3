-- name: notify_case_for_outbox
-- A case's state and routing decision, locked so two outbox runs cannot both place it.
SELECT c.id, c.state, r.recipients, r.registrar, r.country
FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
WHERE c.id = $1
FOR UPDATE OF c;

-- name: notify_case_in_flight
-- Whether case $1 already waits in a notice of kind $2 that is not yet sent or failed.
SELECT EXISTS (
    SELECT FROM notice_items i JOIN notices n ON n.id = i.notice_id
    WHERE i.case_id = $1 AND n.kind = $2 AND n.state IN ('pending', 'sending')
);

-- name: notify_failing_among
-- Which of the addresses $1 are known to be failing.
SELECT address FROM contact_health WHERE failing AND address = ANY($1::text[]);

-- name: notify_open_batch
-- The open batch of recipient $1 and kind $2, created if none (the first item decides the
-- language and country). The no-op update makes RETURNING give the existing row too.
INSERT INTO notices (recipient, role, language, country, kind, message_id)
VALUES ($1, $3, $4, $5, $2, $6)
ON CONFLICT (recipient, kind) WHERE sealed_at IS NULL
DO UPDATE SET recipient = excluded.recipient
RETURNING id, created_at;

-- name: notify_add_item
-- Put case $2 into notice $1 (idempotent).
INSERT INTO notice_items (notice_id, case_id) VALUES ($1, $2) ON CONFLICT DO NOTHING;

-- name: notify_lock_notice
-- A notice, locked for the send attempt.
SELECT * FROM notices WHERE id = $1 FOR UPDATE;

-- name: notify_get_notice
SELECT * FROM notices WHERE id = $1;

-- name: notify_item_case_ids
-- The cases of notice $1, in a stable order (the split and the rendering rely on it).
SELECT case_id FROM notice_items WHERE notice_id = $1 ORDER BY case_id;

-- name: notify_new_sealed_notice
-- A notice split off an over-full batch: sealed at once, its items moved in afterwards.
INSERT INTO notices (recipient, role, language, country, kind, message_id, sealed_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
RETURNING id;

-- name: notify_move_items
-- Move the cases $3 from notice $1 to notice $2.
UPDATE notice_items SET notice_id = $2 WHERE notice_id = $1 AND case_id = ANY($3::bigint[]);

-- name: notify_start_attempt
-- Seal notice $1 (no more items join it) and count a send attempt; the deadline is fixed now.
UPDATE notices
SET state = 'sending', sealed_at = coalesce(sealed_at, now()), attempts = attempts + 1,
    deadline_at = coalesce(deadline_at, $2)
WHERE id = $1
RETURNING deadline_at;

-- name: notify_items
-- What a notice says about each item: URL, hashes, media type, first detection, last seen.
SELECT c.id AS case_id, c.url, c.sha256, c.sha1, c.md5, c.pdq, c.media_type, c.state,
       c.detected_at, c.last_seen_at
FROM notice_items i JOIN cases c ON c.id = i.case_id
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
INSERT INTO ack_answers (notice_id, case_id, answer, note) VALUES ($1, $2, $3, $4)
ON CONFLICT (notice_id, case_id, answer) DO NOTHING
RETURNING id;

-- name: notify_answer_queue
-- Answers the hotline must look at ("not ours", disputes), oldest first.
SELECT a.id, a.notice_id, a.case_id, a.answer, a.note, a.answered_at, n.recipient, c.url
FROM ack_answers a JOIN notices n ON n.id = a.notice_id JOIN cases c ON c.id = a.case_id
WHERE a.reviewed_at IS NULL AND a.answer IN ('not_ours', 'dispute')
ORDER BY a.answered_at
LIMIT $1;

-- name: notify_contact_health
-- Per address: delivered, bounced, acknowledged, failing, and the median notice→gone time.
SELECT h.address, h.delivered, h.bounced, h.acknowledged, h.failing, h.last_error,
       (SELECT percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM c.first_gone_at - c.first_notice_at))
        FROM notices n JOIN notice_items i ON i.notice_id = n.id JOIN cases c ON c.id = i.case_id
        WHERE n.recipient = h.address AND n.state = 'sent' AND c.first_gone_at IS NOT NULL
          AND c.first_notice_at IS NOT NULL) AS median_removal_seconds
FROM contact_health h
ORDER BY h.address
LIMIT $1;

-- name: notify_mark_bounced
-- A DSN reported notice $1 undeliverable; true only the first time (a repeated DSN is a no-op).
UPDATE notices SET bounced_at = now(), last_error = $2
WHERE id = $1 AND bounced_at IS NULL
RETURNING id;

-- name: notify_drop_stale_items
-- Before a notice is sealed, drop items whose case no longer wants it (held, gone, …).
DELETE FROM notice_items i USING cases c
WHERE i.notice_id = $1 AND c.id = i.case_id AND NOT (c.state::text = ANY($2::text[]))
RETURNING i.case_id;

-- name: notify_earlier_unsent
-- Whether recipient $1 has a notice created before notice $2 that is still to be sent:
-- per recipient, notices leave in the order they were created (also after a mail outage).
SELECT EXISTS (
    SELECT FROM notices WHERE recipient = $1 AND id < $2 AND state IN ('pending', 'sending')
);

-- name: notify_next_unsent
-- The oldest notice of recipient $1 still to be sent, and when it may go (its gathering
-- window $2 after creation): woken as soon as the notice before it has left.
SELECT id, greatest(now(), created_at + $2::interval) AS due
FROM notices WHERE recipient = $1 AND state IN ('pending', 'sending')
ORDER BY id LIMIT 1;
