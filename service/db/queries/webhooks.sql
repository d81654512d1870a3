-- name: insert_webhook
-- A new receiver of scanner $1's outcomes, starting at feed position ($4 txid, $5 id).
INSERT INTO webhooks (scanner_id, url, secret, cursor_txid, cursor_id, created_by)
VALUES ($1, $2, $3, $4::text::xid8, $5, $6)
RETURNING id, scanner_id, url, created_at;

-- name: list_webhooks
-- Live receivers (of one scanner when $1 is not null) with their delivery counts.
SELECT w.id, t.name AS scanner, w.url, w.created_at, w.created_by,
       count(d.id) FILTER (WHERE d.state = 'pending') AS pending,
       count(d.id) FILTER (WHERE d.state = 'delivered') AS delivered,
       count(d.id) FILTER (WHERE d.state = 'parked') AS parked
FROM webhooks w
JOIN tokens t ON t.id = w.scanner_id
LEFT JOIN webhook_deliveries d ON d.webhook_id = w.id
WHERE w.removed_at IS NULL AND ($1::bigint IS NULL OR w.scanner_id = $1)
GROUP BY w.id, t.name
ORDER BY w.id;

-- name: remove_webhook
-- Stop a receiver (the row and its deliveries stay for the record).
UPDATE webhooks SET removed_at = now() WHERE id = $1 AND removed_at IS NULL RETURNING id;

-- name: webhook_for_update
-- Lock a live receiver while its new outcomes are turned into deliveries. A receiver whose
-- scanner token was revoked gets nothing more (as that scanner could read nothing more).
SELECT w.id, w.scanner_id, w.url, w.secret, w.cursor_txid::text AS cursor_txid, w.cursor_id
FROM webhooks w JOIN tokens t ON t.id = w.scanner_id AND t.revoked_at IS NULL
WHERE w.id = $1 AND w.removed_at IS NULL
FOR UPDATE OF w;

-- name: live_webhook
-- The same without a lock: a look for new outcomes that usually finds none.
SELECT w.id, w.scanner_id, w.url, w.secret, w.cursor_txid::text AS cursor_txid, w.cursor_id
FROM webhooks w JOIN tokens t ON t.id = w.scanner_id AND t.revoked_at IS NULL
WHERE w.id = $1 AND w.removed_at IS NULL;

-- name: insert_deliveries
-- One delivery per outcome id in $2 (feed order) for receiver $1, and its new position.
WITH added AS (
    INSERT INTO webhook_deliveries (webhook_id, outcome_id, case_id)
    SELECT $1, o.id, o.case_id
    FROM unnest($2::bigint[]) WITH ORDINALITY AS u (outcome_id, ord)
    JOIN scanner_outcomes o ON o.id = u.outcome_id
    ORDER BY u.ord
    ON CONFLICT (webhook_id, outcome_id) DO NOTHING
    RETURNING 1
)
UPDATE webhooks SET cursor_txid = $3::text::xid8, cursor_id = $4
WHERE id = $1;  -- (a data-modifying CTE runs whether or not it is read)

-- name: due_deliveries
-- For receiver $1, the first open delivery of each case (order within a case is kept: a
-- later one waits while an earlier one is pending or parked), when it is pending and due;
-- at most $2, oldest first, with what the payload says.
SELECT d.id, d.outcome_id, d.case_id, d.attempts, d.first_failed_at, o.outcome, o.case_state,
       o.reason, o.at, c.url, c.source_ref, c.first_gone_at, c.removed_at
FROM (
    SELECT DISTINCT ON (case_id) id, outcome_id, case_id, state, attempts, first_failed_at, next_at
    FROM webhook_deliveries
    WHERE webhook_id = $1 AND state <> 'delivered'
    ORDER BY case_id, id
) d
JOIN scanner_outcomes o ON o.id = d.outcome_id
JOIN cases c ON c.id = d.case_id
WHERE d.state = 'pending' AND d.next_at <= now()
ORDER BY d.id
LIMIT $2;

-- name: next_delivery_at
-- When receiver $1 next has a pending delivery due (null: none).
SELECT min(next_at) FROM webhook_deliveries WHERE webhook_id = $1 AND state = 'pending';

-- name: delivery_succeeded
UPDATE webhook_deliveries
SET state = 'delivered', attempts = attempts + 1, delivered_at = now(), last_attempt_at = now(),
    last_error = NULL
WHERE id = $1 AND state = 'pending';

-- name: delivery_failed
-- A failed attempt: due again after $3, or parked when it has failed for $4 already.
UPDATE webhook_deliveries
SET attempts = attempts + 1,
    last_attempt_at = now(),
    last_error = $2,
    first_failed_at = coalesce(first_failed_at, now()),
    next_at = now() + $3::interval,
    state = CASE WHEN now() - coalesce(first_failed_at, now()) >= $4::interval
                 THEN 'parked' ELSE 'pending' END,
    parked_at = CASE WHEN now() - coalesce(first_failed_at, now()) >= $4::interval
                     THEN now() END
WHERE id = $1 AND state = 'pending'
RETURNING state;

-- name: parked_deliveries
-- Deliveries that gave up, newest first: for analysts.
SELECT d.id, d.webhook_id, w.url, t.name AS scanner, d.case_id, o.outcome, o.at,
       d.attempts, d.first_failed_at, d.parked_at, d.last_error
FROM webhook_deliveries d
JOIN webhooks w ON w.id = d.webhook_id
JOIN tokens t ON t.id = w.scanner_id
JOIN scanner_outcomes o ON o.id = d.outcome_id
WHERE d.state = 'parked' AND w.removed_at IS NULL  -- a removed receiver's are nobody's work
ORDER BY d.parked_at DESC, d.id DESC
LIMIT $1;

-- name: retry_parked
-- An analyst sends a receiver's parked deliveries again (a new retry period starts).
UPDATE webhook_deliveries
SET state = 'pending', next_at = now(), first_failed_at = NULL, parked_at = NULL
WHERE webhook_id = $1 AND state = 'parked'
  AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = $1 AND w.removed_at IS NULL)
RETURNING id;

-- name: live_webhook_ids
SELECT id FROM webhooks WHERE removed_at IS NULL ORDER BY id;
