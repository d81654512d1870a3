-- name: probe_cases
-- Everything the probe stage needs about the cases $1 (a claimed batch, or one case):
-- hashes, clock, streak, hoster, in one round trip.
SELECT c.id, c.url, c.host, c.state, c.sha256, c.sha1, c.md5, c.pdq, c.detected_at,
       c.first_notice_at, c.first_gone_at, c.removed_at, c.reappeared_at, c.last_checked_at,
       t.streak_started_at, t.streak_last_gone, coalesce(t.streak_count, 0) AS streak_count,
       t.resume_state, t.cycle_started_at, t.last_removed_at,
       coalesce(r.hoster, c.host) AS hoster,
       -- A host served from several networks is checked at each of its addresses.
       CASE WHEN EXISTS (SELECT FROM case_address_routes a WHERE a.case_id = c.id)
            THEN ARRAY(SELECT host(x) FROM unnest(r.ip_addresses) AS x) END AS addresses
FROM cases c
LEFT JOIN probe_tracking t ON t.case_id = c.id
LEFT JOIN case_routes r ON r.case_id = c.id
WHERE c.id = ANY($1::bigint[]);

-- name: probe_lock_case
-- Lock the case while a check's outcome is recorded; the state may have moved meanwhile.
SELECT state FROM cases WHERE id = $1 FOR UPDATE;

-- name: probe_insert_check
-- One observation. Only metadata: never a byte of what was served.
INSERT INTO checks (case_id, at, verdict, reason, status, matched, pdq_distance, hops, profile,
                    total_ms, first_byte_ms, state_before, state_after, why)
VALUES ($1, $2, $3, left($4, 300), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING id;

-- name: probe_save_tracking
-- Upsert the streak and cycle bookkeeping of a case.
INSERT INTO probe_tracking (case_id, streak_started_at, streak_last_gone, streak_count,
                            resume_state, cycle_started_at, last_removed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (case_id) DO UPDATE
SET streak_started_at = excluded.streak_started_at, streak_last_gone = excluded.streak_last_gone,
    streak_count = excluded.streak_count, resume_state = excluded.resume_state,
    cycle_started_at = excluded.cycle_started_at, last_removed_at = excluded.last_removed_at;

-- name: probe_touch_case
-- When the case was last checked, and last seen serving the content ($3).
UPDATE cases SET last_checked_at = $2,
                 last_seen_at = CASE WHEN $3 THEN $2 ELSE last_seen_at END
WHERE id = $1;

-- name: probe_stamp_first_gone
-- first_gone_at = the first gone of the confirming streak (kept from the first removal).
UPDATE cases SET first_gone_at = coalesce(first_gone_at, $2) WHERE id = $1;

-- name: probe_count_reappearance
-- The hoster let removed content come back once more.
INSERT INTO hoster_recidivism (hoster, reappearances, last_reappeared_at) VALUES ($1, 1, $2)
ON CONFLICT (hoster) DO UPDATE
SET reappearances = hoster_recidivism.reappearances + 1, last_reappeared_at = excluded.last_reappeared_at
RETURNING reappearances;

-- name: probe_stats_rows
-- Time to removal of notified cases per hoster as a histogram, on both clocks (or clock $2):
-- for each duration bucket (stats_bucket, 0091) the cases removed (first gone, removal
-- confirmed) after it and those not removed yet (censored at $1, "now"). Removed cases come
-- from the trigger-maintained counts (stats_removed, 0096), the others from stats_open.
SELECT t.hoster, t.clock, t.seconds, sum(t.removed)::bigint AS removed,
       sum(t.censored)::bigint AS censored
FROM (
    SELECT s.group_key AS hoster, s.clock, s.bucket AS seconds, s.confirmed AS removed,
           0 AS censored
    FROM stats_removed s
    WHERE s.dimension = 'hoster' AND s.confirmed <> 0 AND ($2::text IS NULL OR s.clock = $2)
    UNION ALL
    SELECT o.hoster, k.clock, stats_bucket(k.span), 0, 1
    FROM stats_open o
    CROSS JOIN LATERAL (VALUES ('notice', $1::timestamptz - o.first_notice_at),
                               ('detection', $1::timestamptz - o.detected_at)) AS k (clock, span)
    WHERE $2::text IS NULL OR k.clock = $2
) t
GROUP BY 1, 2, 3;

-- name: probe_stats_histograms
-- probe_stats_rows for clock $2 ($1 "now"), one row per hoster with the buckets as arrays
-- in length order, plus one row over every hoster (overall = true).
SELECT h.hoster, h.overall, array_agg(h.seconds ORDER BY h.seconds) AS seconds,
       array_agg(h.removed ORDER BY h.seconds) AS removed,
       array_agg(h.censored ORDER BY h.seconds) AS censored
FROM (
    SELECT t.hoster, GROUPING(t.hoster) = 1 AS overall, t.seconds,
           sum(t.removed)::bigint AS removed, sum(t.censored)::bigint AS censored
    FROM (
        SELECT s.group_key AS hoster, s.bucket AS seconds, s.confirmed AS removed,
               0 AS censored
        FROM stats_removed s
        WHERE s.dimension = 'hoster' AND s.clock = $2::text AND s.confirmed <> 0
        UNION ALL
        SELECT o.hoster,
               stats_bucket($1::timestamptz - CASE $2::text WHEN 'notice' THEN o.first_notice_at
                                                            ELSE o.detected_at END), 0, 1
        FROM stats_open o
    ) t
    GROUP BY GROUPING SETS ((t.hoster, t.seconds), (t.seconds))
) h
GROUP BY h.hoster, h.overall;

-- name: probe_recidivism
-- Reappearance counts per hoster.
SELECT hoster, reappearances, last_reappeared_at FROM hoster_recidivism ORDER BY hoster;

-- name: probe_case_checks
-- A case's observations, oldest first.
SELECT id, at, verdict, why, reason, status, matched, pdq_distance, hops, profile, total_ms,
       first_byte_ms, state_before, state_after
FROM checks WHERE case_id = $1 ORDER BY at, id;

-- name: probe_record_quiet
-- A check that changes no state (the common case) in one statement: the observation, the
-- case's clock columns and the streak bookkeeping. It applies only while the case is still
-- in state $12 (the UPDATE locks the row and re-checks that); otherwise nothing is written
-- and the caller takes the locking path. $19 is what was seen instead of the content.
WITH touched AS (
    UPDATE cases
    SET last_checked_at = $2,
        last_seen_at = CASE WHEN $3::probe_verdict = 'present' THEN $2 ELSE last_seen_at END
    WHERE id = $1 AND state = $12::case_state
    RETURNING id
), observed AS (
    INSERT INTO checks (case_id, at, verdict, reason, status, matched, pdq_distance, hops,
                        profile, total_ms, first_byte_ms, state_before, state_after, why)
    SELECT $1, $2, $3, left($4, 300), $5, $6, $7, $8, $9, $10, $11, $12, $12, $19 FROM touched
    RETURNING id
), tracked AS (
    INSERT INTO probe_tracking (case_id, streak_started_at, streak_last_gone, streak_count,
                                resume_state, cycle_started_at, last_removed_at)
    SELECT $1, $13, $14, $15, $16, $17, $18 FROM touched
    ON CONFLICT (case_id) DO UPDATE
    SET streak_started_at = excluded.streak_started_at,
        streak_last_gone = excluded.streak_last_gone, streak_count = excluded.streak_count
)
SELECT id FROM observed;

-- name: probe_record_quiet_many
-- probe_record_quiet for a batch of checks that change no state, and their jobs' reschedule,
-- in one statement. One element per check in each array: $1 case ids … $12 the state each
-- case was loaded in; $13–$15 its streak after the check ($15 NULL: unchanged, nothing to
-- write: a case without a tracking row reads as an empty streak); $16 its job, $17 the
-- claim it was handled under, $18 the job's next run (NULL: not rescheduled here). A case
-- whose state moved meanwhile gets nothing written and its job is left alone: it takes the
-- locking path. A job is rescheduled only while its claim still holds (as reschedule_jobs:
-- a run requested meanwhile wins if earlier). Returns the cases recorded and whether their
-- job was rescheduled (false: the lease was lost, or no next run was given). $19: what each
-- check saw instead of the content.
WITH obs AS (
    SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::int[],
                         $6::text[], $7::int[], $8::int[], $9::text[], $10::real[], $11::real[],
                         $12::text[], $13::timestamptz[], $14::timestamptz[], $15::int[],
                         $16::bigint[], $17::bigint[], $18::timestamptz[], $19::text[])
        AS o(case_id, at, verdict, reason, status, matched, pdq_distance, hops, profile,
             total_ms, first_byte_ms, state, streak_started_at, streak_last_gone, streak_count,
             job_id, claim_id, run_at, why)
), touched AS (
    -- Only unindexed columns change, so the update can stay on its page (HOT, see 0095).
    UPDATE cases c
    SET last_checked_at = o.at,
        last_seen_at = CASE WHEN o.verdict = 'present' THEN o.at ELSE c.last_seen_at END
    FROM obs o
    WHERE c.id = o.case_id AND c.state = o.state::case_state
    RETURNING c.id
), observed AS (
    INSERT INTO checks (case_id, at, verdict, reason, status, matched, pdq_distance, hops,
                        profile, total_ms, first_byte_ms, state_before, state_after, why)
    SELECT o.case_id, o.at, o.verdict::probe_verdict, left(o.reason, 300), o.status, o.matched,
           o.pdq_distance, o.hops, o.profile, o.total_ms, o.first_byte_ms,
           o.state::case_state, o.state::case_state, o.why
    FROM obs o JOIN touched t ON t.id = o.case_id
    ORDER BY o.case_id
), tracked AS (
    -- Only the streak is written: the other columns change on the locking path alone, and
    -- a case that has no row yet read them as NULL, which is what a new row holds.
    INSERT INTO probe_tracking (case_id, streak_started_at, streak_last_gone, streak_count)
    SELECT o.case_id, o.streak_started_at, o.streak_last_gone, o.streak_count
    FROM obs o JOIN touched t ON t.id = o.case_id
    WHERE o.streak_count IS NOT NULL
    ORDER BY o.case_id
    ON CONFLICT (case_id) DO UPDATE
    SET streak_started_at = excluded.streak_started_at,
        streak_last_gone = excluded.streak_last_gone, streak_count = excluded.streak_count
), rescheduled AS (
    UPDATE jobs j
    SET run_at = least(o.run_at, coalesce(j.requeue_at, o.run_at)), requeue_at = NULL,
        claim_id = NULL, claimed_by = NULL, attempts = 0, last_error = NULL
    FROM obs o JOIN touched t ON t.id = o.case_id
    WHERE j.id = o.job_id AND j.claim_id = o.claim_id AND o.run_at IS NOT NULL
    RETURNING j.id
)
SELECT o.case_id AS id, r.id IS NOT NULL AS rescheduled
FROM obs o JOIN touched t ON t.id = o.case_id LEFT JOIN rescheduled r ON r.id = o.job_id;

-- name: probe_sight_placeholder
-- Host $1 served bytes $2 (sha256) in place of case $3's content: note it once per case and
-- say how many cases of the host were answered with the same bytes.
WITH noted AS (
    INSERT INTO placeholder_sightings (host, sha256, case_id) VALUES ($1, $2, $3)
    ON CONFLICT DO NOTHING
)
SELECT count(*) + CASE WHEN EXISTS (SELECT 1 FROM placeholder_sightings
                                    WHERE host = $1 AND sha256 = $2 AND case_id = $3)
                       THEN 0 ELSE 1 END AS cases
FROM placeholder_sightings WHERE host = $1 AND sha256 = $2;

-- name: probe_removals_by_reason
-- Confirmed removals per hoster and what the confirming check saw (the removal event's
-- detail 'why'; removals before reasons were recorded count as 'unknown').
SELECT coalesce(r.hoster, c.host) AS hoster, coalesce(e.detail->>'why', 'unknown') AS why,
       count(*)::bigint AS removals
FROM case_events e
JOIN cases c ON c.id = e.case_id
LEFT JOIN case_routes r ON r.case_id = e.case_id
WHERE e.kind = 'removal'
GROUP BY 1, 2
ORDER BY 1, 2;
