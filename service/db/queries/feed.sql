-- name: feed_page
-- Scanner $1's outcomes after the cursor ($2 txid, $3 id), at most $4, in feed order.
-- Only rows of transactions older than the oldest one of this database still running are read
-- (feed_horizon, 0220): every transaction that can still commit here has an id at or above
-- that horizon, so the rows below it form a prefix that no later commit changes (no gap, no
-- repeat; see migration 0140).
SELECT o.id, o.txid::text AS txid, o.case_id, o.outcome, o.case_state, o.reason, o.at,
       c.url, c.source_ref, c.first_gone_at, c.removed_at
FROM scanner_outcomes o JOIN cases c ON c.id = o.case_id
WHERE o.scanner_id = $1
  AND (o.txid, o.id) > ($2::text::xid8, $3::bigint)
  AND o.txid < (SELECT feed_horizon())
ORDER BY o.txid, o.id
LIMIT $4;

-- name: feed_horizon
-- The cursor of "now": past every outcome visible so far (webhooks start from here, so a new
-- receiver gets the changes from its creation on, not the history).
-- Every visible row has a txid below the horizon, every later one at or above it.
SELECT feed_horizon()::text AS horizon;

-- name: scanner_case
-- What the scanner view of a case is built from: no event, no actor, no detail.
SELECT c.id, c.url, c.state, c.media_type, c.sha256, c.sha1, c.md5, c.pdq, c.source_ref,
       c.detected_at, c.received_at, c.first_notice_at, c.acknowledged_at, c.first_gone_at,
       c.removed_at, c.reappeared_at
FROM cases c WHERE c.id = $1 AND c.scanner_id = $2;

-- name: scanner_case_outcomes
-- A case's outcomes, oldest first.
SELECT outcome, at, reason FROM scanner_outcomes WHERE case_id = $1 ORDER BY id;
