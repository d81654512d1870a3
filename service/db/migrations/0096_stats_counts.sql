-- Statistics at a million cases (python -m bench scale --cases 1000000): the CLOSED part of
-- every time-to-removal histogram is kept as counts, maintained by triggers, so a statistics
-- request reads a few thousand counter rows plus the OPEN notified cases (≈ 15 %, a partial
-- index), censored at the request's "now". Notices per group and removals per day likewise.
--
-- The counts are a function of the current rows of cases, case_routes, notices and
-- notice_items; each trigger adds the change its own rows make, reading the other tables as
-- they are. Where two transactions could each change one side of the same join (a route or
-- a notice, and the case), the route and notice triggers lock the cases first, so one of
-- the two reads the other's committed rows. A single statement that changes two of these
-- tables at once (a data-modifying CTE over cases and notices) would be counted twice: none
-- exists; keep it so, or call stats_rebuild() afterwards. stats_*_recount are the from-scratch definitions (backfill,
-- bulk loads, tests).

-- One case's contribution, closed histograms: per dimension, clock and duration bucket
-- (stats_bucket, 0091): gone (first gone, the notice-clock statistics' "removed"),
-- confirmed (removal confirmed: `takedown stats`' "removed") and came back.
CREATE TABLE stats_removed (
    dimension text   NOT NULL CHECK (dimension IN ('hoster', 'asn', 'country')),
    group_key text,  -- NULL: no value (shown as "unknown")
    clock     text   NOT NULL CHECK (clock IN ('notice', 'detection')),
    bucket    bigint NOT NULL,
    gone      bigint NOT NULL DEFAULT 0,
    confirmed bigint NOT NULL DEFAULT 0,
    came_back bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX stats_removed_key ON stats_removed (dimension, clock, group_key, bucket)
    NULLS NOT DISTINCT;

-- Notice items about notified cases per group: sent, and failed or bounced.
CREATE TABLE stats_notices (
    dimension text   NOT NULL CHECK (dimension IN ('hoster', 'asn', 'country')),
    group_key text,
    sent      bigint NOT NULL DEFAULT 0,
    failed    bigint NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX stats_notices_key ON stats_notices (dimension, group_key) NULLS NOT DISTINCT;

-- Notified cases first gone per UTC day.
CREATE TABLE stats_removal_days (
    day     date   PRIMARY KEY,
    removed bigint NOT NULL DEFAULT 0
);

-- The open notified cases (removal not confirmed; cases_removed_needs_gone makes that a
-- superset of "not gone yet") with their groups: every statistics request reads them all
-- and censors them at its "now". A narrow copy (≈ 15 % of cases) instead of the join of
-- cases and routes, which at a million cases read ~90 000 pages per request.
CREATE TABLE stats_open (
    case_id         bigint      PRIMARY KEY,
    hoster          text        NOT NULL,
    asn             bigint,
    country         text,
    first_notice_at timestamptz NOT NULL,
    detected_at     timestamptz NOT NULL,
    gone            boolean     NOT NULL,  -- first gone, removal not confirmed yet
    reappeared      boolean     NOT NULL
);

-- A case as the counts see it: its groups (hoster already coalesced with the host) and
-- clocks, with the sign of its contribution (-1 before a change, +1 after).
CREATE TYPE stats_case AS (
    sign            integer,
    case_id         bigint,
    hoster          text,
    asn             bigint,
    country         text,
    first_notice_at timestamptz,
    detected_at     timestamptz,
    first_gone_at   timestamptz,
    removed_at      timestamptz,
    reappeared_at   timestamptz
);

-- The closed-histogram rows of one case (none unless notified and gone).
CREATE FUNCTION stats_removed_rows(c stats_case)
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
    WHERE c.first_notice_at IS NOT NULL AND c.first_gone_at IS NOT NULL
$$;

-- Add the contributions of `items` (signed) to the three count tables, in key order (so
-- concurrent writers lock counter rows in the same order). Rows summing to zero are skipped.
CREATE FUNCTION stats_apply(items stats_case[]) RETURNS void
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
    ORDER BY i.case_id;

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
    WHERE i.first_notice_at IS NOT NULL AND i.first_gone_at IS NOT NULL
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

-- cases: rows inserted or deleted (intake, the benchmark's COPY) in one pass per statement;
-- only notified cases contribute, so intake adds nothing but the scan of its own rows.
CREATE FUNCTION stats_cases_added() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_apply(array_agg(ROW(1, c.id, coalesce(r.hoster, c.host), r.asn, r.country,
            c.first_notice_at, c.detected_at, c.first_gone_at, c.removed_at,
            c.reappeared_at)::stats_case))
    FROM added c LEFT JOIN case_routes r ON r.case_id = c.id
    WHERE c.first_notice_at IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE FUNCTION stats_cases_dropped() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM stats_apply(array_agg(ROW(-1, c.id, coalesce(r.hoster, c.host), r.asn, r.country,
            c.first_notice_at, c.detected_at, c.first_gone_at, c.removed_at,
            c.reappeared_at)::stats_case))
    FROM dropped c LEFT JOIN case_routes r ON r.case_id = c.id
    WHERE c.first_notice_at IS NOT NULL;
    RETURN NULL;
END
$$;

-- cases: a clock stamp or the host changed (row by row, only for real changes: the probe's
-- quiet checks and every other update pay nothing).
CREATE FUNCTION stats_case_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    route case_routes%ROWTYPE;
BEGIN
    SELECT * INTO route FROM case_routes WHERE case_id = NEW.id;
    PERFORM stats_apply(ARRAY[
        ROW(-1, OLD.id, coalesce(route.hoster, OLD.host), route.asn, route.country,
            OLD.first_notice_at, OLD.detected_at, OLD.first_gone_at, OLD.removed_at,
            OLD.reappeared_at)::stats_case,
        ROW(1, NEW.id, coalesce(route.hoster, NEW.host), route.asn, route.country,
            NEW.first_notice_at, NEW.detected_at, NEW.first_gone_at, NEW.removed_at,
            NEW.reappeared_at)::stats_case]);
    RETURN NULL;
END
$$;

CREATE TRIGGER stats_cases_insert AFTER INSERT ON cases
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION stats_cases_added();
CREATE TRIGGER stats_cases_delete AFTER DELETE ON cases
    REFERENCING OLD TABLE AS dropped FOR EACH STATEMENT EXECUTE FUNCTION stats_cases_dropped();
CREATE TRIGGER stats_cases_update
    AFTER UPDATE OF first_notice_at, detected_at, first_gone_at, removed_at, reappeared_at, host
    ON cases FOR EACH ROW
    WHEN (OLD.first_notice_at IS DISTINCT FROM NEW.first_notice_at
          OR OLD.detected_at IS DISTINCT FROM NEW.detected_at
          OR OLD.first_gone_at IS DISTINCT FROM NEW.first_gone_at
          OR OLD.removed_at IS DISTINCT FROM NEW.removed_at
          OR (OLD.reappeared_at IS NULL) <> (NEW.reappeared_at IS NULL)
          OR OLD.host IS DISTINCT FROM NEW.host)
    EXECUTE FUNCTION stats_case_changed();

-- case_routes: a case's groups moved (routed, re-routed, route dropped). A missing route is
-- the same as one with no hoster, ASN or country (the host names the hoster then).
CREATE FUNCTION stats_routes_moved() RETURNS trigger
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
                    c.first_gone_at, c.removed_at, c.reappeared_at)::stats_case,
                ROW(1, c.id, coalesce(n.hoster, c.host), n.asn, n.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at)::stats_case])
            FROM new_routes n JOIN cases c ON c.id = n.case_id
            WHERE c.first_notice_at IS NOT NULL
              AND (n.hoster IS NOT NULL OR n.asn IS NOT NULL OR n.country IS NOT NULL)
        ) m (c);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM stats_apply(array_agg(m.c)) FROM (
            SELECT unnest(ARRAY[
                ROW(-1, c.id, coalesce(o.hoster, c.host), o.asn, o.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at)::stats_case,
                ROW(1, c.id, c.host, NULL, NULL, c.first_notice_at, c.detected_at,
                    c.first_gone_at, c.removed_at, c.reappeared_at)::stats_case])
            FROM old_routes o JOIN cases c ON c.id = o.case_id
            WHERE c.first_notice_at IS NOT NULL
              AND (o.hoster IS NOT NULL OR o.asn IS NOT NULL OR o.country IS NOT NULL)
        ) m (c);
    ELSE
        PERFORM stats_apply(array_agg(m.c)) FROM (
            SELECT unnest(ARRAY[
                ROW(-1, c.id, coalesce(o.hoster, c.host), o.asn, o.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at)::stats_case,
                ROW(1, c.id, coalesce(n.hoster, c.host), n.asn, n.country, c.first_notice_at,
                    c.detected_at, c.first_gone_at, c.removed_at, c.reappeared_at)::stats_case])
            FROM old_routes o JOIN new_routes n ON n.case_id = o.case_id
            JOIN cases c ON c.id = n.case_id
            WHERE c.first_notice_at IS NOT NULL
              AND (o.hoster, o.asn, o.country) IS DISTINCT FROM (n.hoster, n.asn, n.country)
        ) m (c);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER stats_routes_insert AFTER INSERT ON case_routes
    REFERENCING NEW TABLE AS new_routes FOR EACH STATEMENT EXECUTE FUNCTION stats_routes_moved();
CREATE TRIGGER stats_routes_update AFTER UPDATE ON case_routes
    REFERENCING OLD TABLE AS old_routes NEW TABLE AS new_routes
    FOR EACH STATEMENT EXECUTE FUNCTION stats_routes_moved();
CREATE TRIGGER stats_routes_delete AFTER DELETE ON case_routes
    REFERENCING OLD TABLE AS old_routes FOR EACH STATEMENT EXECUTE FUNCTION stats_routes_moved();

-- Items joined or left notices (statement by statement: the outbox adds them in batches):
-- their notices' (sent, failed) flags, added per group of notified cases.
CREATE FUNCTION stats_items_moved() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    sign integer := CASE TG_OP WHEN 'INSERT' THEN 1 ELSE -1 END;
    notice_ids bigint[];
    case_ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(notice_id), array_agg(case_id) INTO notice_ids, case_ids FROM new_items;
    ELSE
        SELECT array_agg(notice_id), array_agg(case_id) INTO notice_ids, case_ids FROM old_items;
    END IF;
    INSERT INTO stats_notices AS s (dimension, group_key, sent, failed)
    SELECT k.dimension, k.group_key,
           sign * count(*) FILTER (WHERE x.state = 'sent'),
           sign * count(*) FILTER (WHERE x.state = 'failed' OR x.bounced_at IS NOT NULL)
    FROM unnest(notice_ids, case_ids) AS d (notice_id, case_id)
    JOIN notices x ON x.id = d.notice_id
    JOIN cases c ON c.id = d.case_id
    LEFT JOIN case_routes r ON r.case_id = c.id
    CROSS JOIN LATERAL (VALUES ('hoster', coalesce(r.hoster, c.host)), ('asn', r.asn::text),
                               ('country', r.country)) AS k (dimension, group_key)
    WHERE c.first_notice_at IS NOT NULL
      AND (x.state IN ('sent', 'failed') OR x.bounced_at IS NOT NULL)
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (dimension, group_key) DO UPDATE
    SET sent = s.sent + excluded.sent, failed = s.failed + excluded.failed;
    RETURN NULL;
END
$$;

CREATE TRIGGER stats_items_insert AFTER INSERT ON notice_items
    REFERENCING NEW TABLE AS new_items FOR EACH STATEMENT EXECUTE FUNCTION stats_items_moved();
CREATE TRIGGER stats_items_delete AFTER DELETE ON notice_items
    REFERENCING OLD TABLE AS old_items FOR EACH STATEMENT EXECUTE FUNCTION stats_items_moved();

-- Notices were sent, failed or bounced: their items' cases change their groups' counts.
-- Statement by statement (the notify stage records a round in one statement), locking the
-- cases in id order first: a concurrent round that stamps one of them notified either
-- commits before (then its case is read as notified here) or waits for this transaction
-- (then its own trigger reads these notices as they are now); without the lock each would
-- read the other's rows as before and a notice would go uncounted.
CREATE FUNCTION stats_notices_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids bigint[];
    sent integer[];
    failed integer[];
BEGIN
    SELECT array_agg(n.id),
           array_agg((n.state = 'sent')::integer - (o.state = 'sent')::integer),
           array_agg((n.state = 'failed' OR n.bounced_at IS NOT NULL)::integer
                     - (o.state = 'failed' OR o.bounced_at IS NOT NULL)::integer)
    INTO ids, sent, failed
    FROM old_notices o JOIN new_notices n ON n.id = o.id
    WHERE (o.state = 'sent') <> (n.state = 'sent')
       OR (o.state = 'failed' OR o.bounced_at IS NOT NULL)
          <> (n.state = 'failed' OR n.bounced_at IS NOT NULL);
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM FROM cases
    WHERE id IN (SELECT case_id FROM notice_items WHERE notice_id = ANY(ids))
    ORDER BY id FOR UPDATE;
    INSERT INTO stats_notices AS s (dimension, group_key, sent, failed)
    SELECT k.dimension, k.group_key, sum(d.sent), sum(d.failed)
    FROM unnest(ids, sent, failed) AS d (notice_id, sent, failed)
    JOIN notice_items i ON i.notice_id = d.notice_id
    JOIN cases c ON c.id = i.case_id
    LEFT JOIN case_routes r ON r.case_id = c.id
    CROSS JOIN LATERAL (VALUES ('hoster', coalesce(r.hoster, c.host)), ('asn', r.asn::text),
                               ('country', r.country)) AS k (dimension, group_key)
    WHERE c.first_notice_at IS NOT NULL
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (dimension, group_key) DO UPDATE
    SET sent = s.sent + excluded.sent, failed = s.failed + excluded.failed;
    RETURN NULL;
END
$$;

CREATE TRIGGER stats_notices_update AFTER UPDATE ON notices
    REFERENCING OLD TABLE AS old_notices NEW TABLE AS new_notices
    FOR EACH STATEMENT EXECUTE FUNCTION stats_notices_changed();

-- From scratch: what the count tables must hold (their rows with a nonzero count).
CREATE VIEW stats_removed_recount AS
SELECT d.dimension, d.group_key, d.clock, d.bucket, sum(d.gone) AS gone,
       sum(d.confirmed) AS confirmed, sum(d.came_back) AS came_back
FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
CROSS JOIN LATERAL stats_removed_rows(ROW(1, c.id, coalesce(r.hoster, c.host), r.asn,
    r.country, c.first_notice_at, c.detected_at, c.first_gone_at, c.removed_at,
    c.reappeared_at)::stats_case) d
WHERE c.first_notice_at IS NOT NULL AND c.first_gone_at IS NOT NULL
GROUP BY 1, 2, 3, 4;

CREATE VIEW stats_notices_recount AS
SELECT k.dimension, k.group_key,
       count(*) FILTER (WHERE n.state = 'sent') AS sent,
       count(*) FILTER (WHERE n.state = 'failed' OR n.bounced_at IS NOT NULL) AS failed
FROM notice_items i
JOIN notices n ON n.id = i.notice_id
JOIN cases c ON c.id = i.case_id
LEFT JOIN case_routes r ON r.case_id = c.id
CROSS JOIN LATERAL (VALUES ('hoster', coalesce(r.hoster, c.host)), ('asn', r.asn::text),
                           ('country', r.country)) AS k (dimension, group_key)
WHERE c.first_notice_at IS NOT NULL AND (n.state IN ('sent', 'failed') OR n.bounced_at IS NOT NULL)
GROUP BY 1, 2;

CREATE VIEW stats_removal_days_recount AS
SELECT (first_gone_at AT TIME ZONE 'UTC')::date AS day, count(*) AS removed
FROM cases WHERE first_notice_at IS NOT NULL AND first_gone_at IS NOT NULL
GROUP BY 1;

CREATE VIEW stats_open_recount AS
SELECT c.id AS case_id, coalesce(r.hoster, c.host) AS hoster, r.asn, r.country,
       c.first_notice_at, c.detected_at, c.first_gone_at IS NOT NULL AS gone,
       c.reappeared_at IS NOT NULL AS reappeared
FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
WHERE c.first_notice_at IS NOT NULL AND c.removed_at IS NULL;

-- Recompute the counts from scratch (the backfill below; bulk loads that bypass triggers).
CREATE FUNCTION stats_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- writers wait (their triggers would add to counts being replaced)
    LOCK TABLE cases, case_routes, notices, notice_items IN SHARE MODE;
    LOCK TABLE stats_removed, stats_notices, stats_removal_days, stats_open IN EXCLUSIVE MODE;
    DELETE FROM stats_open;
    DELETE FROM stats_removed;
    DELETE FROM stats_notices;
    DELETE FROM stats_removal_days;
    INSERT INTO stats_removed SELECT * FROM stats_removed_recount;
    INSERT INTO stats_notices SELECT * FROM stats_notices_recount;
    INSERT INTO stats_removal_days SELECT * FROM stats_removal_days_recount;
    INSERT INTO stats_open SELECT * FROM stats_open_recount;
END
$$;

SELECT stats_rebuild();
