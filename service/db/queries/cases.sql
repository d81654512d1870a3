-- name: insert_reports
-- Insert one batch of validated reports. Rows overlapping an existing case (same normalised URL
-- and any equal hash, see the partial unique indexes) are skipped; each created case gets its
-- 'received' event and its resolve job in the same statement. Returns (position, id) per created
-- case: the 0-based position of the first report of the batch that created it.
WITH input AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[], $10::text[], $11::timestamptz[]
    ) WITH ORDINALITY AS r(url, url_original, host, sha256, sha1, md5, pdq, media_type,
                           classification, source_ref, detected_at, ord)
), inserted AS (
    INSERT INTO cases (url, url_original, host, sha256, sha1, md5, pdq, media_type,
                       classification, source_ref, detected_at, scanner_id)
    SELECT url, url_original, host, sha256, sha1, md5, pdq, media_type, classification,
           source_ref, detected_at, $12
    FROM input
    -- One lock order for every batch (fewer deadlocks); byte order, because any fixed order
    -- will do and comparing bytes is cheaper than the database's collation.
    ORDER BY url COLLATE "C", sha256 COLLATE "C", sha1 COLLATE "C", md5 COLLATE "C",
             pdq COLLATE "C"
    ON CONFLICT DO NOTHING
    RETURNING id, url, sha256, sha1, md5, pdq, received_at
), received AS (
    -- What every 'received' event of this batch shares: its detail, and the tail of its
    -- canonical form (actor, kind, from_state, to_state, detail; migration 0040), encoded once.
    SELECT jsonb_build_object('via', $14::text) AS detail,
           convert_to(audit_field($13) || audit_field('received') || audit_field(NULL)
                      || audit_field('received')
                      || audit_field(jsonb_build_object('via', $14::text)::text), 'UTF8') AS tail
), numbered AS (
    SELECT nextval('case_events_id_seq') AS event_id, id, received_at FROM inserted
), events AS (
    -- The 'received' event starts the case's audit chain (no predecessor), hashed here in the
    -- canonical form the trigger and `takedown audit verify` use: the per-event head (id,
    -- case_id, at — never NULL, so '<octets>:<text>') spelt out inline, because calling
    -- case_event_canonical per row costs ~10 µs (a SQL function PostgreSQL cannot inline
    -- for a row argument), then the shared tail.
    INSERT INTO case_events (id, case_id, actor, kind, to_state, detail, at, hash)
    SELECT n.event_id, n.id, $13, 'received', 'received', r.detail, n.received_at,
           sha256(convert_to(octet_length(h.event) || ':' || h.event
                             || octet_length(h.case_id) || ':' || h.case_id
                             || octet_length(h.at) || ':' || h.at, 'UTF8') || r.tail)
    FROM numbered n
    CROSS JOIN received r
    CROSS JOIN LATERAL (
        SELECT n.event_id::text AS event, n.id::text AS case_id,
               (extract(epoch FROM n.received_at) * 1000000)::bigint::text AS at
    ) h
), resolve_jobs AS (
    -- Every new case goes straight to the resolve stage.
    INSERT INTO jobs (kind, case_id, run_at) SELECT 'resolve', id, received_at FROM inserted
)
-- Matched here rather than in Python: two small integers a case instead of its URL and four
-- hashes to send, decode and compare.
SELECT min(r.ord) - 1 AS position, c.id
FROM inserted c
JOIN input r ON r.url = c.url
            AND r.sha256 IS NOT DISTINCT FROM c.sha256 AND r.sha1 IS NOT DISTINCT FROM c.sha1
            AND r.md5 IS NOT DISTINCT FROM c.md5 AND r.pdq IS NOT DISTINCT FROM c.pdq
GROUP BY c.id;

-- name: match_reports
-- For reports that were not inserted: the existing case each one overlaps (lowest id wins).
SELECT r.ord, c.id
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[])
     AS r(url, sha256, sha1, md5, pdq, ord)
CROSS JOIN LATERAL (
    SELECT id FROM cases c
    WHERE c.url = r.url
      AND (c.sha256 = r.sha256 OR c.sha1 = r.sha1 OR c.md5 = r.md5 OR c.pdq = r.pdq)
    ORDER BY id LIMIT 1
) c;

-- name: get_case
-- One case with everything a reader of the API needs.
SELECT c.*, t.name AS scanner_name
FROM cases c JOIN tokens t ON t.id = c.scanner_id
WHERE c.id = $1;

-- name: case_events
-- The case's history, oldest first.
SELECT id, at, actor, kind, from_state, to_state, detail
FROM case_events WHERE case_id = $1 ORDER BY id;

-- name: add_event
-- Append an event that records a decision or observation without a state change.
INSERT INTO case_events (case_id, actor, kind, detail) VALUES ($1, $2, $3, $4) RETURNING id;

-- name: case_state_for_update
-- Lock the case row while a stage decides what happens to it.
SELECT state FROM cases WHERE id = $1 FOR UPDATE;

-- name: database_now
-- The database's clock (the transaction's start): what now() in the statements that follow reads.
SELECT now();

-- name: count_cases_by_state
SELECT state, count(*) AS n FROM cases GROUP BY state ORDER BY state;

-- name: cases_per_hoster
-- Every case with its hoster (or host), clock and sent notices: the demo's summary table.
SELECT coalesce(r.hoster, c.host) AS hoster, c.state, c.first_notice_at, c.acknowledged_at,
       c.first_gone_at, c.removed_at,
       (SELECT array_agg(i.notice_id) FROM notice_items i JOIN notices n ON n.id = i.notice_id
        WHERE i.case_id = c.id AND n.sent_at IS NOT NULL) AS notices
FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
ORDER BY 1;

-- name: transition_many
-- Move every case of $1 that is in one of the states $3 to state $2, appending one event per
-- moved case, in one statement. Rows are locked in id order so concurrent batches cannot
-- deadlock on each other. {stamp} is replaced by a whitelisted clock column assignment.
WITH locked AS (
    SELECT id, state FROM cases
    WHERE id = ANY($1::bigint[]) AND state = ANY($3::case_state[])
    ORDER BY id
    FOR UPDATE
), moved AS (
    UPDATE cases c SET state = $2::case_state, updated_at = now() {stamp}
    FROM locked WHERE c.id = locked.id
    RETURNING c.id, locked.state AS from_state
), events AS (
    INSERT INTO case_events (case_id, actor, kind, from_state, to_state, detail)
    SELECT id, $4, $5, from_state, $2::case_state, $6::jsonb FROM moved ORDER BY id
)
SELECT id FROM moved;

-- name: add_events_many
-- The same event (no state change) on many cases.
INSERT INTO case_events (case_id, actor, kind, detail)
SELECT id, $2, $3, $4::jsonb FROM unnest($1::bigint[]) AS id ORDER BY id;
