-- The statistics page one page of groups at a time (issue 18): by hoster the page computed
-- every hoster's histogram — 210 831 (hoster, bucket) cells for 2 001 hosters at a million
-- cases, growing with the cases, while an analyst reads the largest few. Now the page ranks
-- the groups by how many notified cases each has, a trigger-kept count with one row per
-- (dimension, group) — stats_groups, appended to and folded like the counts of 0211 — and
-- computes the histograms of one page of groups only, found by (dimension, group_key).
--
-- A group's cases: notified, not withdrawn, and either gone (stats_removed, notice clock) or
-- still open (stats_open_bins) — exactly the cases of its histogram, so the groups with a
-- count are the groups with a histogram, and paging over them covers each once.

CREATE TABLE stats_groups (
    dimension text   NOT NULL CHECK (dimension IN ('hoster', 'asn', 'country')),
    group_key text,  -- NULL: no value (shown as "unknown")
    cases     bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX stats_groups_key ON stats_groups (dimension, group_key) NULLS NOT DISTINCT;
-- the page's order: most cases first
CREATE INDEX stats_groups_rank ON stats_groups (dimension, cases DESC, group_key);
CREATE TABLE stats_groups_pending (LIKE stats_groups INCLUDING DEFAULTS);

-- one page's groups' open bins without reading the others'
CREATE INDEX stats_open_bins_group ON stats_open_bins (dimension, group_key, bin);

CREATE VIEW stats_groups_recount AS
SELECT dimension, group_key, sum(cases)::bigint AS cases
FROM (SELECT dimension, group_key, gone AS cases FROM stats_removed_recount
      WHERE clock = 'notice'
      UNION ALL
      SELECT dimension, group_key, open FROM stats_open_bins_recount) t
GROUP BY 1, 2 HAVING sum(cases) <> 0;

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
    INSERT INTO stats_open_bins_pending (dimension, group_key, bin, open, reappeared)
    SELECT k.dimension, k.group_key, stats_minute(i.first_notice_at), sum(i.sign),
           sum(i.sign * (i.reappeared_at IS NOT NULL)::integer)
    FROM unnest(items) i
    CROSS JOIN LATERAL (VALUES ('hoster', i.hoster), ('asn', i.asn::text),
                               ('country', i.country)) AS k (dimension, group_key)
    WHERE i.first_notice_at IS NOT NULL AND i.first_gone_at IS NULL AND i.removed_at IS NULL
      AND NOT i.withdrawn
    GROUP BY 1, 2, 3
    HAVING sum(i.sign) <> 0 OR sum(i.sign * (i.reappeared_at IS NOT NULL)::integer) <> 0;

    INSERT INTO stats_removed_pending (dimension, group_key, clock, bucket, gone, confirmed,
                                       came_back)
    SELECT d.dimension, d.group_key, d.clock, d.bucket, sum(d.gone), sum(d.confirmed),
           sum(d.came_back)
    FROM unnest(items) i CROSS JOIN LATERAL stats_removed_rows(i) d
    GROUP BY 1, 2, 3, 4
    HAVING sum(d.gone) <> 0 OR sum(d.confirmed) <> 0 OR sum(d.came_back) <> 0;

    INSERT INTO stats_removal_days_pending (day, removed)
    SELECT (i.first_gone_at AT TIME ZONE 'UTC')::date, sum(i.sign)
    FROM unnest(items) i
    WHERE i.first_notice_at IS NOT NULL AND i.first_gone_at IS NOT NULL AND NOT i.withdrawn
    GROUP BY 1 HAVING sum(i.sign) <> 0;

    INSERT INTO stats_notices_pending (dimension, group_key, sent, failed)
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
    GROUP BY 1, 2 HAVING sum(i.sign * n.sent) <> 0 OR sum(i.sign * n.failed) <> 0;

    -- notified cases per group, removed or open (the statistics page's ranking and paging)
    INSERT INTO stats_groups_pending (dimension, group_key, cases)
    SELECT k.dimension, k.group_key, sum(i.sign)
    FROM unnest(items) i
    CROSS JOIN LATERAL (VALUES ('hoster', i.hoster), ('asn', i.asn::text),
                               ('country', i.country)) AS k (dimension, group_key)
    WHERE i.first_notice_at IS NOT NULL AND NOT i.withdrawn
      AND (i.first_gone_at IS NOT NULL OR i.removed_at IS NULL)
    GROUP BY 1, 2 HAVING sum(i.sign) <> 0;
END
$$;

CREATE OR REPLACE FUNCTION stats_fold() RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('takedown:stats_fold')) THEN
        RETURN false;
    END IF;
    WITH moved AS (DELETE FROM stats_open_bins_pending RETURNING *)
    INSERT INTO stats_open_bins AS s (dimension, group_key, bin, open, reappeared)
    SELECT dimension, group_key, bin, sum(open), sum(reappeared) FROM moved
    GROUP BY 1, 2, 3 HAVING sum(open) <> 0 OR sum(reappeared) <> 0
    ORDER BY 1, 3, 2
    ON CONFLICT (dimension, bin, group_key) DO UPDATE
    SET open = s.open + excluded.open, reappeared = s.reappeared + excluded.reappeared;
    DELETE FROM stats_open_bins WHERE open = 0;

    WITH moved AS (DELETE FROM stats_removed_pending RETURNING *)
    INSERT INTO stats_removed AS s (dimension, group_key, clock, bucket, gone, confirmed,
                                    came_back)
    SELECT dimension, group_key, clock, bucket, sum(gone), sum(confirmed), sum(came_back)
    FROM moved
    GROUP BY 1, 2, 3, 4 HAVING sum(gone) <> 0 OR sum(confirmed) <> 0 OR sum(came_back) <> 0
    ORDER BY 1, 3, 2, 4
    ON CONFLICT (dimension, clock, group_key, bucket) DO UPDATE
    SET gone = s.gone + excluded.gone, confirmed = s.confirmed + excluded.confirmed,
        came_back = s.came_back + excluded.came_back;
    DELETE FROM stats_removed WHERE gone = 0 AND confirmed = 0 AND came_back = 0;

    WITH moved AS (DELETE FROM stats_removal_days_pending RETURNING *)
    INSERT INTO stats_removal_days AS s (day, removed)
    SELECT day, sum(removed) FROM moved GROUP BY 1 HAVING sum(removed) <> 0 ORDER BY 1
    ON CONFLICT (day) DO UPDATE SET removed = s.removed + excluded.removed;
    DELETE FROM stats_removal_days WHERE removed = 0;

    WITH moved AS (DELETE FROM stats_notices_pending RETURNING *)
    INSERT INTO stats_notices AS s (dimension, group_key, sent, failed)
    SELECT dimension, group_key, sum(sent), sum(failed) FROM moved
    GROUP BY 1, 2 HAVING sum(sent) <> 0 OR sum(failed) <> 0
    ORDER BY 1, 2
    ON CONFLICT (dimension, group_key) DO UPDATE
    SET sent = s.sent + excluded.sent, failed = s.failed + excluded.failed;
    WITH moved AS (DELETE FROM stats_groups_pending RETURNING *)
    INSERT INTO stats_groups AS s (dimension, group_key, cases)
    SELECT dimension, group_key, sum(cases) FROM moved
    GROUP BY 1, 2 HAVING sum(cases) <> 0
    ORDER BY 1, 2
    ON CONFLICT (dimension, group_key) DO UPDATE SET cases = s.cases + excluded.cases;
    DELETE FROM stats_groups WHERE cases = 0;
    RETURN true;
END
$$;

CREATE OR REPLACE FUNCTION stats_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- writers wait (their triggers would add to counts being replaced)
    LOCK TABLE cases, case_routes, notices, notice_items IN SHARE MODE;
    LOCK TABLE stats_removed, stats_notices, stats_removal_days, stats_open, stats_open_bins,
        stats_open_bins_pending, stats_removed_pending, stats_removal_days_pending,
        stats_notices_pending, stats_groups, stats_groups_pending IN EXCLUSIVE MODE;
    DELETE FROM stats_open_bins_pending;
    DELETE FROM stats_removed_pending;
    DELETE FROM stats_removal_days_pending;
    DELETE FROM stats_notices_pending;
    DELETE FROM stats_groups_pending;
    DELETE FROM stats_groups;
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
    INSERT INTO stats_groups SELECT * FROM stats_groups_recount;
END
$$;

INSERT INTO stats_groups SELECT * FROM stats_groups_recount;
