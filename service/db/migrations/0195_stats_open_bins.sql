-- Statistics by group at any size (issue 18): the OPEN notified cases are kept as counts per
-- group and minute of their first notice, so a statistics request reads bins, not cases; and
-- withdrawn cases leave the statistics.
--
-- Withdrawn: a case the hotline took back (a confirmed dispute, a withdrawn hash) is neither
-- open nor removed. Until now the counts of 0096 kept it where it was — open for ever when it
-- was withdrawn before its content went — so a hoster's open share and open-beyond-42-days
-- grew with every withdrawal. Its notices stay counted: they were sent.
--
-- Open bins: an open case's duration bucket (stats_bucket, 0091) is its age at the request's
-- "now", which moves, so it cannot be counted ahead. Its minute of first notice can: the
-- bucket edges are whole minutes of age (the finest grid step is a minute), so every case of
-- one minute falls into one bucket unless an edge passes through that minute at this "now" —
-- then that minute's cases are bucketed one by one from stats_open (by first_notice_at). Under
-- an hour every minute is crossed (1-minute grid), under 24 h one in five, under 72 h one in
-- fifteen, then one in sixty and one in 1440: the cases read one by one are those notified in
-- a few hundred minutes, whatever the number of cases. The figures are exactly those of the
-- per-case bucketing.

DROP VIEW stats_removed_recount, stats_open_recount, stats_removal_days_recount;

ALTER TYPE stats_case ADD ATTRIBUTE withdrawn boolean;

-- The minute (UTC, any session time zone) of a first notice.
CREATE FUNCTION stats_minute(at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_bin('1 minute', at, timestamptz '2000-01-01 00:00:00+00')
$$;

-- Open notified cases not gone yet, per group and minute of first notice (what the notice-clock
-- histograms censor), and how many of them came back after an earlier removal.
CREATE TABLE stats_open_bins (
    dimension  text        NOT NULL CHECK (dimension IN ('hoster', 'asn', 'country')),
    group_key  text,  -- NULL: no value (shown as "unknown")
    bin        timestamptz NOT NULL,  -- stats_minute(first_notice_at)
    open       bigint      NOT NULL DEFAULT 0,
    reappeared bigint      NOT NULL DEFAULT 0
);
-- (dimension, bin) first: emptied bins are found by it (group_key may be NULL)
CREATE UNIQUE INDEX stats_open_bins_key ON stats_open_bins (dimension, bin, group_key)
    NULLS NOT DISTINCT;

-- The cases of the minutes an age edge crosses are read one by one.
CREATE INDEX stats_open_notice ON stats_open (first_notice_at);

-- The closed-histogram rows of one case (none unless notified and gone, and not withdrawn).
CREATE OR REPLACE FUNCTION stats_removed_rows(c stats_case)
RETURNS TABLE (dimension text, group_key text, clock text, bucket bigint, gone integer,
               confirmed integer, came_back integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT k.dimension, k.group_key, k.clock, stats_bucket(c.first_gone_at - k.start), c.sign,
           c.sign * (c.removed_at IS NOT NULL)::integer,
           c.sign * (c.reappeared_at IS NOT NULL)::integer
    FROM (VALUES ('hoster', c.hoster, 'notice', c.first_notice_at),
                 ('asn', c.asn::text, 'notice', c.first_notice_at),
                 ('country', c.country, 'notice', c.first_notice_at),
                 ('hoster', c.hoster, 'detection', c.detected_at))
         AS k (dimension, group_key, clock, start)
    WHERE c.first_notice_at IS NOT NULL AND c.first_gone_at IS NOT NULL AND NOT c.withdrawn
$$;

-- Add the contributions of `items` (signed) to the count tables, in key order (so concurrent
-- writers lock counter rows in the same order). Rows summing to zero are skipped.
CREATE OR REPLACE FUNCTION stats_apply(items stats_case[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF items IS NULL OR cardinality(items) = 0 THEN
        RETURN;
    END IF;
    -- the open set: snapshots before a change leave, snapshots after it enter
    DELETE FROM stats_open o USING unnest(items) i
    WHERE i.sign < 0 AND o.case_id = i.case_id;
    INSERT INTO stats_open (case_id, hoster, asn, country, first_notice_at, detected_at, gone,
                            reappeared)
    SELECT i.case_id, i.hoster, i.asn, i.country, i.first_notice_at, i.detected_at,
           i.first_gone_at IS NOT NULL, i.reappeared_at IS NOT NULL
    FROM unnest(items) i
    WHERE i.sign > 0 AND i.first_notice_at IS NOT NULL AND i.removed_at IS NULL
      AND NOT i.withdrawn
    ORDER BY i.case_id;

    -- the open cases not gone yet, counted per group and minute of first notice
    INSERT INTO stats_open_bins AS s (dimension, group_key, bin, open, reappeared)
    SELECT k.dimension, k.group_key, stats_minute(i.first_notice_at), sum(i.sign),
           sum(i.sign * (i.reappeared_at IS NOT NULL)::integer)
    FROM unnest(items) i
    CROSS JOIN LATERAL (VALUES ('hoster', i.hoster), ('asn', i.asn::text),
                               ('country', i.country)) AS k (dimension, group_key)
    WHERE i.first_notice_at IS NOT NULL AND i.first_gone_at IS NULL AND i.removed_at IS NULL
      AND NOT i.withdrawn
    GROUP BY 1, 2, 3
    HAVING sum(i.sign) <> 0 OR sum(i.sign * (i.reappeared_at IS NOT NULL)::integer) <> 0
    ORDER BY 1, 3, 2
    ON CONFLICT (dimension, bin, group_key) DO UPDATE
    SET open = s.open + excluded.open, reappeared = s.reappeared + excluded.reappeared;
    -- bins that emptied leave: the readers scan these
    DELETE FROM stats_open_bins s
    WHERE s.open = 0
      AND (s.dimension, s.bin) IN (
          SELECT k.dimension, stats_minute(i.first_notice_at)
          FROM unnest(items) i
          CROSS JOIN (VALUES ('hoster'), ('asn'), ('country')) AS k (dimension)
          WHERE i.sign < 0 AND i.first_notice_at IS NOT NULL);

    INSERT INTO stats_removed AS s (dimension, group_key, clock, bucket, gone, confirmed,
                                    came_back)
    SELECT d.dimension, d.group_key, d.clock, d.bucket, sum(d.gone), sum(d.confirmed),
           sum(d.came_back)
    FROM unnest(items) i CROSS JOIN LATERAL stats_removed_rows(i) d
    GROUP BY 1, 2, 3, 4
    HAVING sum(d.gone) <> 0 OR sum(d.confirmed) <> 0 OR sum(d.came_back) <> 0
    ORDER BY 1, 3, 2, 4
    ON CONFLICT (dimension, clock, group_key, bucket) DO UPDATE
    SET gone = s.gone + excluded.gone, confirmed = s.confirmed + excluded.confirmed,
        came_back = s.came_back + excluded.came_back;
    -- counts that fell to zero (a case moved group or bucket) leave: the readers scan these
    DELETE FROM stats_removed s
    WHERE s.gone = 0 AND s.confirmed = 0 AND s.came_back = 0
      AND (s.dimension, s.clock, s.group_key, s.bucket) IN (
          SELECT d.dimension, d.clock, d.group_key, d.bucket
          FROM unnest(items) i CROSS JOIN LATERAL stats_removed_rows(i) d WHERE d.gone < 0);

    INSERT INTO stats_removal_days AS s (day, removed)
    SELECT (i.first_gone_at AT TIME ZONE 'UTC')::date, sum(i.sign)
    FROM unnest(items) i
    WHERE i.first_notice_at IS NOT NULL AND i.first_gone_at IS NOT NULL AND NOT i.withdrawn
    GROUP BY 1 HAVING sum(i.sign) <> 0 ORDER BY 1
    ON CONFLICT (day) DO UPDATE SET removed = s.removed + excluded.removed;
    DELETE FROM stats_removal_days WHERE removed = 0;

    INSERT INTO stats_notices AS s (dimension, group_key, sent, failed)
    SELECT k.dimension, k.group_key, sum(i.sign * n.sent), sum(i.sign * n.failed)
    FROM unnest(items) i
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE x.state = 'sent') AS sent,
               count(*) FILTER (WHERE x.state = 'failed' OR x.bounced_at IS NOT NULL) AS failed
        FROM notice_items ni JOIN notices x ON x.id = ni.notice_id
        WHERE ni.case_id = i.case_id
    ) n
    CROSS JOIN LATERAL (VALUES ('hoster', i.hoster), ('asn', i.asn::text),
                               ('country', i.country)) AS k (dimension, group_key)
    WHERE i.first_notice_at IS NOT NULL AND (n.sent <> 0 OR n.failed <> 0)
    GROUP BY 1, 2 HAVING sum(i.sign * n.sent) <> 0 OR sum(i.sign * n.failed) <> 0
    ORDER BY 1, 2
    ON CONFLICT (dimension, group_key) DO UPDATE
    SET sent = s.sent + excluded.sent, failed = s.failed + excluded.failed;
END
$$;

-- cases: rows inserted or deleted, in one pass per statement.
CREATE OR REPLACE FUNCTION stats_cases_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_apply(array_agg(ROW(1, c.id, coalesce(r.hoster, c.host), r.asn, r.country,
            c.first_notice_at, c.detected_at, c.first_gone_at, c.removed_at,
            c.reappeared_at, c.state = 'withdrawn')::stats_case))
    FROM added c LEFT JOIN case_routes r ON r.case_id = c.id
    WHERE c.first_notice_at IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION stats_cases_dropped() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_apply(array_agg(ROW(-1, c.id, coalesce(r.hoster, c.host), r.asn, r.country,
            c.first_notice_at, c.detected_at, c.first_gone_at, c.removed_at,
            c.reappeared_at, c.state = 'withdrawn')::stats_case))
    FROM dropped c LEFT JOIN case_routes r ON r.case_id = c.id
    WHERE c.first_notice_at IS NOT NULL;
    RETURN NULL;
END
$$;

-- cases: a clock stamp, the host or withdrawal changed (once per statement, only the rows
-- that really changed one of them).
CREATE OR REPLACE FUNCTION stats_cases_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_apply(array_agg(x.item))
    FROM (
        SELECT unnest(ARRAY[
            ROW(-1, o.id, coalesce(r.hoster, o.host), r.asn, r.country, o.first_notice_at,
                o.detected_at, o.first_gone_at, o.removed_at, o.reappeared_at,
                o.state = 'withdrawn')::stats_case,
            ROW(1, n.id, coalesce(r.hoster, n.host), r.asn, r.country, n.first_notice_at,
                n.detected_at, n.first_gone_at, n.removed_at, n.reappeared_at,
                n.state = 'withdrawn')::stats_case
        ]) AS item
        FROM before_rows o
        JOIN after_rows n ON n.id = o.id
        LEFT JOIN case_routes r ON r.case_id = n.id
        WHERE o.first_notice_at IS DISTINCT FROM n.first_notice_at
           OR o.detected_at IS DISTINCT FROM n.detected_at
           OR o.first_gone_at IS DISTINCT FROM n.first_gone_at
           OR o.removed_at IS DISTINCT FROM n.removed_at
           OR (o.reappeared_at IS NULL) <> (n.reappeared_at IS NULL)
           OR o.host IS DISTINCT FROM n.host
           OR (o.state = 'withdrawn') <> (n.state = 'withdrawn')
    ) AS x;
    RETURN NULL;
END
$$;

-- case_routes: a case's groups moved (routed, re-routed, route dropped).
CREATE OR REPLACE FUNCTION stats_routes_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- The cases' rows are read below: wait for a concurrent change of them to commit first
    -- (its own trigger read the route as it was; this one then sees the case as it is now).
    IF TG_OP = 'DELETE' THEN
        PERFORM FROM cases WHERE id IN (SELECT case_id FROM old_routes) ORDER BY id FOR SHARE;
    ELSE
        PERFORM FROM cases WHERE id IN (SELECT case_id FROM new_routes) ORDER BY id FOR SHARE;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM stats_apply(array_agg(m.c)) FROM (
            SELECT unnest(ARRAY[
                ROW(-1, c.id, c.host, NULL, NULL, c.first_notice_at, c.detected_at,
                    c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case,
                ROW(1, c.id, coalesce(n.hoster, c.host), n.asn, n.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case])
            FROM new_routes n JOIN cases c ON c.id = n.case_id
            WHERE c.first_notice_at IS NOT NULL
              AND (n.hoster IS NOT NULL OR n.asn IS NOT NULL OR n.country IS NOT NULL)
        ) m (c);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stats_apply(array_agg(m.c)) FROM (
            SELECT unnest(ARRAY[
                ROW(-1, c.id, coalesce(o.hoster, c.host), o.asn, o.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case,
                ROW(1, c.id, c.host, NULL, NULL, c.first_notice_at, c.detected_at,
                    c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case])
            FROM old_routes o JOIN cases c ON c.id = o.case_id
            WHERE c.first_notice_at IS NOT NULL
              AND (o.hoster IS NOT NULL OR o.asn IS NOT NULL OR o.country IS NOT NULL)
        ) m (c);
    ELSE
        PERFORM stats_apply(array_agg(m.c)) FROM (
            SELECT unnest(ARRAY[
                ROW(-1, c.id, coalesce(o.hoster, c.host), o.asn, o.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case,
                ROW(1, c.id, coalesce(n.hoster, c.host), n.asn, n.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at,
                    c.state = 'withdrawn')::stats_case])
            FROM old_routes o JOIN new_routes n ON n.case_id = o.case_id
            JOIN cases c ON c.id = n.case_id
            WHERE c.first_notice_at IS NOT NULL
              AND (o.hoster, o.asn, o.country) IS DISTINCT FROM (n.hoster, n.asn, n.country)
        ) m (c);
    END IF;
    RETURN NULL;
END
$$;

-- From scratch: what the count tables must hold (their rows with a nonzero count).
CREATE VIEW stats_removed_recount AS
SELECT d.dimension, d.group_key, d.clock, d.bucket, sum(d.gone) AS gone,
       sum(d.confirmed) AS confirmed, sum(d.came_back) AS came_back
FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
CROSS JOIN LATERAL stats_removed_rows(ROW(1, c.id, coalesce(r.hoster, c.host), r.asn,
    r.country, c.first_notice_at, c.detected_at, c.first_gone_at, c.removed_at,
    c.reappeared_at, c.state = 'withdrawn')::stats_case) d
WHERE c.first_notice_at IS NOT NULL AND c.first_gone_at IS NOT NULL
  AND c.state <> 'withdrawn'
GROUP BY 1, 2, 3, 4;

CREATE VIEW stats_removal_days_recount AS
SELECT (first_gone_at AT TIME ZONE 'UTC')::date AS day, count(*) AS removed
FROM cases
WHERE first_notice_at IS NOT NULL AND first_gone_at IS NOT NULL AND state <> 'withdrawn'
GROUP BY 1;

CREATE VIEW stats_open_recount AS
SELECT c.id AS case_id, coalesce(r.hoster, c.host) AS hoster, r.asn, r.country,
       c.first_notice_at, c.detected_at, c.first_gone_at IS NOT NULL AS gone,
       c.reappeared_at IS NOT NULL AS reappeared
FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
WHERE c.first_notice_at IS NOT NULL AND c.removed_at IS NULL AND c.state <> 'withdrawn';

CREATE VIEW stats_open_bins_recount AS
SELECT k.dimension, k.group_key, stats_minute(o.first_notice_at) AS bin, count(*) AS open,
       count(*) FILTER (WHERE o.reappeared) AS reappeared
FROM stats_open_recount o
CROSS JOIN LATERAL (VALUES ('hoster', o.hoster), ('asn', o.asn::text),
                           ('country', o.country)) AS k (dimension, group_key)
WHERE NOT o.gone
GROUP BY 1, 2, 3;

-- Recompute the counts from scratch (the backfill below; bulk loads that bypass triggers).
CREATE OR REPLACE FUNCTION stats_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- writers wait (their triggers would add to counts being replaced)
    LOCK TABLE cases, case_routes, notices, notice_items IN SHARE MODE;
    LOCK TABLE stats_removed, stats_notices, stats_removal_days, stats_open, stats_open_bins
        IN EXCLUSIVE MODE;
    DELETE FROM stats_open;
    DELETE FROM stats_open_bins;
    DELETE FROM stats_removed;
    DELETE FROM stats_notices;
    DELETE FROM stats_removal_days;
    INSERT INTO stats_removed SELECT * FROM stats_removed_recount;
    INSERT INTO stats_notices SELECT * FROM stats_notices_recount;
    INSERT INTO stats_removal_days SELECT * FROM stats_removal_days_recount;
    INSERT INTO stats_open SELECT * FROM stats_open_recount;
    INSERT INTO stats_open_bins SELECT * FROM stats_open_bins_recount;
END
$$;

SELECT stats_rebuild();
