-- name: partners_set_hotline
-- Create or replace a country's hotline with its policy and, for 'forward', the partner
-- instance's base URL and the scanner token it issued us.
INSERT INTO hotlines (country, name, address, language, policy, url, token)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (country) DO UPDATE
SET name = EXCLUDED.name, address = EXCLUDED.address, language = EXCLUDED.language,
    policy = EXCLUDED.policy, url = EXCLUDED.url, token = EXCLUDED.token, updated_at = now();

-- name: partners_divertable
-- Of the resolved cases $1, those whose route names a country with policy 'forward' and that
-- were not handed back to our own mail: (case, country, partner URL). Locked, id order.
SELECT c.id, h.country, h.url
FROM cases c
JOIN case_routes r ON r.case_id = c.id
JOIN hotlines h ON h.country = r.hotline ->> 'country' AND h.policy = 'forward'
LEFT JOIN forwards f ON f.case_id = c.id
WHERE c.id = ANY($1::bigint[]) AND c.state = 'resolved'
  AND (f.case_id IS NULL OR f.state = 'pending')
ORDER BY c.id
FOR UPDATE OF c;

-- name: partners_open_forward
-- Case $1 is to be handed to the partner of country $2 at $3 (idempotent).
INSERT INTO forwards (case_id, country, url) VALUES ($1, $2, $3)
ON CONFLICT (case_id) DO NOTHING;

-- name: partners_forward_for_submit
-- The hand-over of case $1 with what the partner's intake needs, and the partner's token.
SELECT f.case_id, f.country, f.state, f.created_at, f.attempts, f.url, h.token,
       h.policy = 'forward' AS still_forward, h.name AS partner_name,
       f.partner_case_id, f.withdrawn_at, f.withdrawal_error,
       c.state AS case_state, c.url_original, c.url AS case_url, c.sha256, c.sha1, c.md5,
       c.pdq, c.media_type, c.detected_at, c.classification
FROM forwards f
JOIN cases c ON c.id = f.case_id
LEFT JOIN hotlines h ON h.country = f.country
WHERE f.case_id = $1;

-- name: partners_submitted
-- The partner's intake took case $1 as its case $2.
UPDATE forwards SET state = 'submitted', submitted_at = now(), partner_case_id = $2,
                    attempts = attempts + 1, last_error = NULL
WHERE case_id = $1 AND state = 'pending';

-- name: partners_attempt_failed
-- A hand-over attempt of case $1 failed with $2; returns whether the fallback delay $3 since
-- the hand-over began has passed.
UPDATE forwards SET attempts = attempts + 1, last_error = $2
WHERE case_id = $1 AND state = 'pending'
RETURNING now() - created_at >= $3::interval AS overdue;

-- name: partners_fall_back
-- Hand-overs of cases $1 are given up: the cases go to our own mail.
UPDATE forwards SET state = 'fallen_back', fallen_back_at = now(), last_error = $2
WHERE case_id = ANY($1::bigint[]) AND state <> 'fallen_back';

-- name: partners_forward_partners
-- Partners we hand cases to, with where we are in their feeds.
SELECT h.country, h.name, h.url, h.token, p.cursor, p.failing_since
FROM hotlines h LEFT JOIN partner_feeds p ON p.country = h.country
WHERE h.policy = 'forward'
ORDER BY h.country;

-- name: partners_feed_read
-- Partner $1's feed was read up to cursor $2.
INSERT INTO partner_feeds (country, cursor, last_polled_at, failing_since, last_error)
VALUES ($1, $2, now(), NULL, NULL)
ON CONFLICT (country) DO UPDATE
SET cursor = EXCLUDED.cursor, last_polled_at = now(), failing_since = NULL, last_error = NULL;

-- name: partners_feed_failed
-- Partner $1's feed could not be read ($2); returns whether it has failed for the fallback
-- delay $3 already.
INSERT INTO partner_feeds (country, failing_since, last_error) VALUES ($1, now(), $2)
ON CONFLICT (country) DO UPDATE
SET failing_since = coalesce(partner_feeds.failing_since, now()), last_error = EXCLUDED.last_error
RETURNING now() - failing_since >= $3::interval AS overdue;

-- name: partners_case_of
-- Our case handed to partner $1 as its case $2, locked, with its state.
SELECT c.id, c.state
FROM forwards f JOIN cases c ON c.id = f.case_id
WHERE f.country = $1 AND f.partner_case_id = $2
FOR UPDATE OF c;

-- name: partners_forwarded_of
-- Our cases forwarded to partner $1 and not yet closed there (state 'forwarded'), id order.
SELECT c.id FROM forwards f JOIN cases c ON c.id = f.case_id
WHERE f.country = $1 AND f.state = 'submitted' AND c.state = 'forwarded'
ORDER BY c.id;

-- name: partners_stamp
-- The partner's time $2 for the clock column {column} of case $1 (kept if already set);
-- {column} is whitelisted by the caller.
UPDATE cases SET {column} = coalesce({column}, $2::timestamptz), updated_at = now()
WHERE id = $1;

-- name: partners_submitted_among
-- Of cases $1, those a partner's instance took (their withdrawal is to be passed on).
SELECT case_id FROM forwards
WHERE case_id = ANY($1::bigint[]) AND state = 'submitted' AND withdrawn_at IS NULL
ORDER BY case_id;

-- name: partners_withdrawn
-- The partner took in the withdrawal of case $1 ($2: NULL, or why it refused it for good).
UPDATE forwards SET withdrawn_at = now(), withdrawal_error = $2
WHERE case_id = $1 AND withdrawn_at IS NULL
RETURNING case_id;
