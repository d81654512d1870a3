-- name: mail_notice
-- The notice $1 (matched by its VERP return path).
SELECT * FROM notices WHERE id = $1;

-- name: mail_notice_by_message_ids
-- The newest notice whose Message-ID is one of $1 (a reply's In-Reply-To/References, a
-- bounce's returned Message-ID).
SELECT * FROM notices WHERE message_id = ANY($1::text[]) ORDER BY id DESC LIMIT 1;

-- name: mail_notice_by_reference
-- The notice $1 named by its reference in a subject (TT-N000123), when it went to a
-- recipient at the replying domain $2: a subject alone is easy to write, so the sender's
-- domain must be the recipient's (or one of its copies').
SELECT * FROM notices
WHERE id = $1
  AND (split_part(recipient, '@', 2) = $2
       OR EXISTS (SELECT FROM unnest(cc) AS c WHERE split_part(c, '@', 2) = $2));

-- name: mail_notice_cases
-- The cases notice $1 is about.
SELECT case_id FROM notice_items WHERE notice_id = $1 ORDER BY case_id;

-- name: mail_cases_by_reference
-- Of the cases $1 (case references in a subject), those notice $2 is about.
SELECT case_id FROM notice_items WHERE notice_id = $2 AND case_id = ANY($1::bigint[])
ORDER BY case_id;

-- name: mail_record
-- Record a mail taken in; nothing (no row) when it was taken in before: the same Message-ID
-- or the same bytes (fingerprint $12).
INSERT INTO inbound_mail (message_id, kind, notice_id, matched_by, sender, subject, ticket,
                          body_text, truncated, attachments, outcome, fingerprint)
SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12
WHERE NOT EXISTS (SELECT FROM inbound_mail WHERE message_id = $1 OR fingerprint = $12)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: mail_link_cases
-- The cases $2 a recorded mail $1 concerns.
INSERT INTO inbound_mail_cases (mail_id, case_id)
SELECT $1, id FROM unnest($2::bigint[]) AS id ON CONFLICT DO NOTHING;

-- name: mail_seen
-- Whether a mail with Message-ID $1 or the fingerprint $2 was taken in before.
SELECT EXISTS (SELECT FROM inbound_mail WHERE message_id = $1 OR fingerprint = $2);

-- name: mail_case_replies
-- The mail about case $1 that people and their systems wrote (bounces are on the timeline
-- already), newest first.
SELECT m.id, m.received_at, m.kind, m.sender, m.subject, m.ticket, m.body_text, m.truncated,
       m.attachments, m.notice_id, m.matched_by, m.reviewed_at, m.reviewed_by, m.purged_at
FROM inbound_mail_cases mc JOIN inbound_mail m ON m.id = mc.mail_id
WHERE mc.case_id = $1 AND m.kind IN ('reply', 'auto_reply')
ORDER BY m.id DESC LIMIT 50;

-- name: mail_review_case
-- An analyst ($2) has read the replies about case $1 (they leave the replies queue).
UPDATE inbound_mail m SET reviewed_at = now(), reviewed_by = $2
FROM inbound_mail_cases mc
WHERE mc.case_id = $1 AND m.id = mc.mail_id AND m.kind = 'reply' AND m.reviewed_at IS NULL
RETURNING m.id;

-- name: mail_counts
-- Mail taken in, by kind.
SELECT kind, count(*) AS n FROM inbound_mail GROUP BY kind;

-- name: mail_lock_notice
-- Take the key-share lock that recording a mail about notice $1 needs (its foreign key) before
-- any case is locked: the outbox holds a notice row and then locks its cases, so a reply that
-- arrives while its notice's sending is being recorded waits here instead of deadlocking.
SELECT id FROM notices WHERE id = $1 FOR KEY SHARE;

-- name: mail_lock_cases
-- Lock the cases $1 in id order before a mail's rows and events are written about them: the
-- acknowledgment page and the workers lock a notice's cases in the same order, so the two
-- cannot deadlock (linking rows alone would take key-share locks in any order).
SELECT id FROM cases WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE;

-- name: mail_count_failure
-- One more failed attempt at the mail with fingerprint $1 (channel $2, Message-ID $3, error
-- class $4); set aside once it reached $5 attempts. Its attempts so far.
INSERT INTO mail_in_failures AS f (fingerprint, channel, message_id, error, set_aside_at)
VALUES ($1, $2, $3, $4, CASE WHEN $5::int <= 1 THEN now() END)
ON CONFLICT (fingerprint) DO UPDATE
SET attempts = f.attempts + 1, error = EXCLUDED.error, last_failed_at = now(),
    set_aside_at = coalesce(f.set_aside_at, CASE WHEN f.attempts + 1 >= $5::int THEN now() END)
RETURNING attempts;

-- name: mail_set_aside
-- Mail set aside after repeated failures, the latest first (for the analysts).
SELECT fingerprint, channel, message_id, attempts, error, first_failed_at, last_failed_at,
       set_aside_at
FROM mail_in_failures WHERE set_aside_at IS NOT NULL
ORDER BY set_aside_at DESC LIMIT $1;

-- name: mail_set_aside_count
SELECT count(*) FROM mail_in_failures WHERE set_aside_at IS NOT NULL;

-- name: mail_unmatched
-- Replies and auto-replies no notice matched and no analyst has dealt with, newest first.
SELECT id, received_at, kind, sender, subject, ticket, body_text, truncated, attachments
FROM inbound_mail
WHERE matched_by IS NULL AND reviewed_at IS NULL AND kind IN ('reply', 'auto_reply')
ORDER BY id DESC LIMIT $1;

-- name: mail_attach
-- Analyst $2 attaches unmatched mail $1 to the cases it concerns (linked by mail_link_cases);
-- no row when the mail is not (or no longer) waiting.
UPDATE inbound_mail SET matched_by = 'analyst', attached_by = $2
WHERE id = $1 AND matched_by IS NULL AND reviewed_at IS NULL AND kind IN ('reply', 'auto_reply')
RETURNING id, kind, ticket, jsonb_array_length(attachments) AS attachments;

-- name: mail_dismiss
-- Analyst $2 has read unmatched mail $1 and it concerns no case (note $3); no row when the
-- mail is not (or no longer) waiting.
UPDATE inbound_mail SET reviewed_at = now(), reviewed_by = $2, review_note = $3
WHERE id = $1 AND matched_by IS NULL AND reviewed_at IS NULL AND kind IN ('reply', 'auto_reply')
RETURNING id, reviewed_at, reviewed_by;

-- name: mail_gauges
-- What /metrics says of the mailbox `takedown mail-in` (a process of its own) fills: mail
-- recorded by kind, unmatched mail waiting for an analyst, mail set aside, the newest mail's
-- time (a mailbox that stops delivering shows as a stale timestamp).
SELECT (SELECT coalesce(jsonb_object_agg(kind, n), '{}'::jsonb)
        FROM (SELECT kind, count(*) AS n FROM inbound_mail GROUP BY kind) k) AS by_kind,
       (SELECT count(*) FROM inbound_mail
        WHERE matched_by IS NULL AND reviewed_at IS NULL
          AND kind IN ('reply', 'auto_reply')) AS unmatched,
       (SELECT count(*) FROM mail_in_failures WHERE set_aside_at IS NOT NULL) AS set_aside,
       (SELECT max(received_at) FROM inbound_mail) AS newest;
