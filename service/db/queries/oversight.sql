-- name: oversight_sweep_due
-- Cases on the notice clock whose ladder needs looking at: never looked at, due, triggered,
-- or changed since we last looked (e.g. back on the clock after a false removal).
SELECT c.id, c.state, c.host, c.first_notice_at, coalesce(r.hoster, c.host) AS hoster,
       r.country, r.recipients, r.cdn, r.registrar, r.hotline,
       coalesce(e.next_step, 0) AS next_step, coalesce(e.paused, false) AS paused,
       coalesce(e.triggered, false) AS triggered, e.next_step_at, e.last_reminder_at,
       (SELECT max(n.sent_at) FROM notice_items i JOIN notices n ON n.id = i.notice_id
        WHERE i.case_id = c.id AND n.state = 'sent' AND n.kind IN ('notice', 'reminder'))
           AS last_notice_at
FROM cases c
LEFT JOIN case_routes r ON r.case_id = c.id
LEFT JOIN escalations e ON e.case_id = c.id
WHERE c.state IN ('notified', 'acknowledged', 'escalated')
  AND (e.case_id IS NULL OR e.triggered OR e.wake_at <= $1 OR e.updated_at < c.updated_at)
ORDER BY c.id
LIMIT $2;

-- name: oversight_next_wake
-- The earliest moment any ladder is due (the sweep sleeps until then at most).
SELECT min(e.wake_at) FROM escalations e JOIN cases c ON c.id = e.case_id
WHERE c.state IN ('notified', 'acknowledged', 'escalated');

-- name: oversight_ladder
-- The ladder of case $1 (absent: a fresh one), locked for an analyst action.
SELECT next_step, paused, triggered, next_step_at, last_reminder_at
FROM escalations WHERE case_id = $1 FOR UPDATE;

-- name: oversight_save_ladder
INSERT INTO escalations (case_id, next_step, paused, triggered, next_step_at, last_reminder_at,
                         wake_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now())
ON CONFLICT (case_id) DO UPDATE
SET next_step = excluded.next_step, paused = excluded.paused, triggered = excluded.triggered,
    next_step_at = excluded.next_step_at, last_reminder_at = excluded.last_reminder_at,
    wake_at = excluded.wake_at, updated_at = now();

-- name: oversight_wake_case
-- Make case $1's ladder due now (the upstream lookup it waits for has settled).
UPDATE escalations SET wake_at = now() WHERE case_id = $1;

-- name: oversight_contacted
-- Every address a notice about case $1 went (or is going) to.
SELECT DISTINCT n.recipient FROM notice_items i JOIN notices n ON n.id = i.notice_id
WHERE i.case_id = $1 AND n.state <> 'failed';

-- name: oversight_reminder_targets
-- Who is reminded about case $1: for each of its routes (a host served from several networks
-- has one per network, each with its own desk), the recipient of the latest sent first notice
-- to one of that route's contacts, with the copies that notice went to (a reminder reaches
-- everyone the notice did); one row per recipient. When no sent notice names a route's
-- contact (e.g. one sent through the country's hotline), the latest sent first notice.
WITH routes AS (
    SELECT 0 AS position, recipients FROM case_routes WHERE case_id = $1
    UNION ALL
    SELECT position, recipients FROM case_address_routes WHERE case_id = $1
), sent AS (
    SELECT n.id, n.recipient, n.role, n.language, n.country, n.cc, n.sent_at
    FROM notice_items i JOIN notices n ON n.id = i.notice_id
    WHERE i.case_id = $1 AND n.kind = 'notice' AND n.state = 'sent'
), per_route AS (
    SELECT DISTINCT ON (r.position) s.*
    FROM routes r
    JOIN sent s ON s.recipient IN (SELECT c ->> 'address' FROM jsonb_array_elements(r.recipients) c)
    ORDER BY r.position, s.sent_at DESC, s.id DESC
), chosen AS (
    SELECT * FROM per_route
    UNION ALL
    (SELECT * FROM sent WHERE NOT EXISTS (SELECT FROM per_route)
     ORDER BY sent_at DESC, id DESC LIMIT 1)
)
SELECT DISTINCT ON (recipient) recipient, role, language, country, cc
FROM chosen
ORDER BY recipient, sent_at DESC, id DESC;

-- name: oversight_insert_handoff
INSERT INTO handoffs (case_id, step, recipient, detail, created_by) VALUES ($1, $2, $3, $4, $5)
RETURNING id;

-- name: oversight_case_handoffs
SELECT id, step, recipient, detail, created_by, created_at FROM handoffs
WHERE case_id = $1 ORDER BY id;

-- name: oversight_case_notices
-- The notices about case $1, oldest first.
SELECT n.id, n.kind, n.role, n.recipient, n.state, n.created_at, n.sent_at, n.deadline_at,
       n.bounced_at, n.last_error
FROM notice_items i JOIN notices n ON n.id = i.notice_id
WHERE i.case_id = $1 ORDER BY n.id;

-- name: oversight_case_answers
-- What hosters answered about case $1 through the acknowledgment page, oldest first.
SELECT a.answer, a.responsible, a.dispute_reason, a.note, a.answered_at, a.reviewed_at,
       n.recipient
FROM ack_answers a JOIN notices n ON n.id = a.notice_id
WHERE a.case_id = $1 ORDER BY a.id;

-- name: oversight_case_overview
-- One case with its routing facts and ladder.
SELECT c.*, coalesce(r.hoster, c.host) AS hoster, r.asn, r.country, r.recipients, r.cdn,
       r.registrar, r.hotline, r.no_contact_reason, e.next_step, e.paused, e.triggered,
       e.next_step_at, e.last_reminder_at, e.wake_at
FROM cases c
LEFT JOIN case_routes r ON r.case_id = c.id
LEFT JOIN escalations e ON e.case_id = c.id
WHERE c.id = $1;

-- name: oversight_insert_hold
INSERT INTO holds (case_id, hoster, domain, reason, created_by) VALUES ($1, $2, $3, $4, $5)
RETURNING id, case_id, hoster, domain, reason, created_by, created_at, lifted_by, lifted_at;

-- name: oversight_lift_hold
-- Lift hold $1 (once).
UPDATE holds SET lifted_at = now(), lifted_by = $2 WHERE id = $1 AND lifted_at IS NULL
RETURNING id, case_id, hoster, domain, reason, created_by, created_at, lifted_by, lifted_at;

-- name: oversight_holds
-- Holds, active first, newest first.
SELECT id, case_id, hoster, domain, reason, created_by, created_at, lifted_by, lifted_at
FROM holds ORDER BY (lifted_at IS NULL) DESC, id DESC LIMIT $1;

-- name: oversight_cases_to_hold
-- Cases an active hold covers that are not held yet (hold $1, or every active hold if NULL).
-- Removed cases stay removed; the hold matters again if the content reappears.
SELECT DISTINCT ON (c.id) c.id, c.state, h.id AS hold_id, h.reason
FROM holds h
JOIN cases c ON h.case_id = c.id OR h.case_id IS NULL
LEFT JOIN case_routes r ON r.case_id = c.id
WHERE h.lifted_at IS NULL AND ($1::bigint IS NULL OR h.id = $1)
  AND c.state NOT IN ('held', 'removed', 'withdrawn', 'forwarded')
  AND (h.case_id = c.id
       OR lower(h.hoster) = lower(coalesce(r.hoster, c.host))
       OR c.host = h.domain OR c.host LIKE '%.' || h.domain)
ORDER BY c.id, h.id
LIMIT $2;

-- name: oversight_cases_to_release
-- Held cases of hold $1 (just lifted) that no other active hold still covers, with the state
-- each was in when it was last put on hold (`before_hold`).
SELECT c.id, r.case_id IS NOT NULL AND r.no_contact_reason IS NULL AS routable,
       (SELECT e.from_state::text FROM case_events e
        WHERE e.case_id = c.id AND e.kind = 'hold' AND e.to_state = 'held'
        ORDER BY e.id DESC LIMIT 1) AS before_hold
FROM holds h
JOIN cases c ON h.case_id = c.id OR h.case_id IS NULL
LEFT JOIN case_routes r ON r.case_id = c.id
WHERE h.id = $1 AND c.state = 'held'
  AND (h.case_id = c.id
       OR lower(h.hoster) = lower(coalesce(r.hoster, c.host))
       OR c.host = h.domain OR c.host LIKE '%.' || h.domain)
  AND NOT EXISTS (
      SELECT FROM holds o
      WHERE o.lifted_at IS NULL AND o.id <> h.id
        AND (o.case_id = c.id
             OR lower(o.hoster) = lower(coalesce(r.hoster, c.host))
             OR c.host = o.domain OR c.host LIKE '%.' || o.domain));

-- name: oversight_queue_rows
-- Every case with what the queues filter on. $1 default SLA, $2/$3 per-hoster (lower-case
-- names, allowances), $4/$5 per-country (allowances in seconds: a fixed shift of the clock in
-- every session time zone); filters $6 hoster, $7 country, $8 asn, $9 state, $10 URL
-- substring (NULL = any). The repository adds the queue condition and keyset paging.
SELECT * FROM (
    SELECT c.id, c.url, c.host, c.state::text AS state, coalesce(r.hoster, c.host) AS hoster,
           r.asn, r.country, c.received_at, c.first_notice_at, c.reappeared_at,
           c.first_notice_at + coalesce(hs.allow, cs.allow, $1::float8) * interval '1 second'
               AS deadline,
           coalesce(e.paused, false) AS paused, coalesce(e.next_step, 0) AS next_step,
           r.no_contact_reason,
           -- the latest notice about the case failed or bounced
           (SELECT CASE WHEN n.state = 'failed' OR n.bounced_at IS NOT NULL
                        THEN coalesce(n.last_error, 'bounced') END
            FROM notice_items i JOIN notices n ON n.id = i.notice_id
            WHERE i.case_id = c.id ORDER BY n.id DESC LIMIT 1) AS bounce,
           -- who the hoster says is responsible comes first: the analyst routes to them
           (SELECT coalesce(nullif(concat_ws(' — ', nullif(a.responsible, ''),
                                             nullif(a.note, '')), ''), 'not our network')
            FROM ack_answers a
            WHERE a.case_id = c.id AND a.answer = 'not_ours' AND a.reviewed_at IS NULL
            ORDER BY a.id DESC LIMIT 1) AS not_ours,
           (SELECT coalesce(nullif(concat_ws(': ', replace(a.dispute_reason, '_', ' '),
                                             nullif(a.note, '')), ''), 'disputed')
            FROM ack_answers a
            WHERE a.case_id = c.id AND a.answer = 'dispute' AND a.reviewed_at IS NULL
            ORDER BY a.id DESC LIMIT 1) AS dispute,
           -- the case's own holds and the few hoster/domain holds, each on its own index
           -- (0090): one OR over every hold scanned all active holds per row
           (SELECT h.reason FROM (
                SELECT id, reason FROM holds WHERE case_id = c.id AND lifted_at IS NULL
                UNION ALL
                SELECT id, reason FROM holds
                WHERE case_id IS NULL AND lifted_at IS NULL
                  AND (lower(hoster) = lower(coalesce(r.hoster, c.host))
                       OR c.host = domain OR c.host LIKE '%.' || domain)) h
            ORDER BY h.id LIMIT 1) AS hold_reason,
           -- the newest reply by mail an analyst has not read yet (0130's case index)
           (SELECT left(concat_ws(': ', m.sender, nullif(m.subject, '')), 300)
            FROM inbound_mail_cases mc JOIN inbound_mail m ON m.id = mc.mail_id
            WHERE mc.case_id = c.id AND m.kind = 'reply' AND m.reviewed_at IS NULL
            ORDER BY mc.mail_id DESC LIMIT 1) AS reply
    FROM cases c
    LEFT JOIN case_routes r ON r.case_id = c.id
    LEFT JOIN escalations e ON e.case_id = c.id
    LEFT JOIN unnest($2::text[], $3::float8[]) AS hs (name, allow)
           ON hs.name = lower(coalesce(r.hoster, c.host))
    LEFT JOIN unnest($4::text[], $5::float8[]) AS cs (country, allow) ON cs.country = r.country
) q
WHERE ($6::text IS NULL OR lower(q.hoster) = lower($6))
  AND ($7::text IS NULL OR q.country = upper($7))
  AND ($8::bigint IS NULL OR q.asn = $8)
  AND ($9::text IS NULL OR q.state = $9)
  AND ($10::text IS NULL OR strpos(lower(q.url), lower($10)) > 0)

-- name: oversight_overdue_walk
-- The ids of one page of the overdue queue by deadline, at a cost that follows the page size,
-- not the number of open cases. deadline = first_notice_at + allowance, and the allowance
-- takes few values (default, per country, per hoster): within one allowance deadline order
-- is notice order. So each distinct allowance walks cases_on_notice_clock (0090) from the
-- cursor shifted back by that allowance, keeps the cases whose allowance it is (and that pass
-- the filters), and stops after $13 rows; the classes' rows are then merged by deadline.
-- $1–$10 as oversight_queue_rows; $11/$12 the cursor (deadline as text, id; sentinels
-- -infinity/0 or infinity/max when none); $13 page size + 1. The repository fills in the
-- direction: {cmp} is > or <, {dir} ASC or DESC.
WITH classes AS (
    SELECT DISTINCT a.allow * interval '1 second' AS allow
    FROM unnest($3::float8[] || $5::float8[] || $1::float8) AS a (allow)
)
SELECT w.id, w.deadline
FROM classes k
CROSS JOIN LATERAL (
    SELECT c.id, c.first_notice_at + k.allow AS deadline
    FROM cases c
    LEFT JOIN case_routes r ON r.case_id = c.id
    WHERE c.state IN ('notified', 'acknowledged', 'escalated')
      AND c.first_notice_at < now() - k.allow
      AND (c.first_notice_at, c.id) {cmp} ($11::text::timestamptz - k.allow, $12::bigint)
      -- CASE hides the class test from the planner's selectivity guess (0.5% for an `=`
      -- on an expression), which otherwise prices the ordered walk as a scan of the whole
      -- clock and hash-joins and sorts every open case instead
      AND CASE WHEN coalesce(
              (SELECT hs.allow FROM unnest($2::text[], $3::float8[]) AS hs (name, allow)
               WHERE hs.name = lower(coalesce(r.hoster, c.host)) LIMIT 1),
              (SELECT cs.allow FROM unnest($4::text[], $5::float8[]) AS cs (country, allow)
               WHERE cs.country = r.country LIMIT 1),
              $1::float8) * interval '1 second' = k.allow THEN true ELSE false END
      AND ($6::text IS NULL OR lower(coalesce(r.hoster, c.host)) = lower($6))
      AND ($7::text IS NULL OR r.country = upper($7))
      AND ($8::bigint IS NULL OR r.asn = $8)
      AND ($9::text IS NULL OR c.state::text = $9)
      AND ($10::text IS NULL OR strpos(lower(c.url), lower($10)) > 0)
    ORDER BY c.first_notice_at {dir}, c.id {dir}
    LIMIT $13
) w
ORDER BY w.deadline {dir}, w.id {dir}
LIMIT $13;

-- name: oversight_prefer_recipient
-- An analyst's chosen recipient $2 (a recipients entry) goes first in case $1's route; the
-- other contacts stay behind it (a bounce moves on to them) and "no contact" no longer holds.
INSERT INTO case_routes (case_id, recipients) VALUES ($1, jsonb_build_array($2::jsonb))
ON CONFLICT (case_id) DO UPDATE
SET recipients = jsonb_build_array($2::jsonb) || coalesce(
        (SELECT jsonb_agg(e ORDER BY n)
         FROM jsonb_array_elements(case_routes.recipients) WITH ORDINALITY AS r(e, n)
         WHERE lower(e->>'address') IS DISTINCT FROM lower($2::jsonb->>'address')),
        '[]'::jsonb),
    no_contact_reason = NULL;

-- name: oversight_review_answers
-- The hotline looked at the unreviewed answers $2 ('not_ours', 'dispute') of case $1.
UPDATE ack_answers SET reviewed_at = now()
WHERE case_id = $1 AND answer = ANY($2::text[]) AND reviewed_at IS NULL
RETURNING id, answer;

-- name: oversight_stats_rows
-- Every notified case (withdrawn ones are out of the statistics) with its groups, notice
-- clock, reappearance and notice delivery counts.
SELECT c.id, coalesce(r.hoster, c.host) AS hoster, r.asn, r.country, c.first_notice_at,
       c.first_gone_at, c.reappeared_at IS NOT NULL AS reappeared,
       (SELECT count(*) FROM notice_items i JOIN notices n ON n.id = i.notice_id
        WHERE i.case_id = c.id AND n.state = 'sent') AS notices_sent,
       (SELECT count(*) FROM notice_items i JOIN notices n ON n.id = i.notice_id
        WHERE i.case_id = c.id AND (n.state = 'failed' OR n.bounced_at IS NOT NULL))
           AS notices_failed
FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
WHERE c.first_notice_at IS NOT NULL AND c.state <> 'withdrawn';

-- name: oversight_stats_tallies
-- Time to removal on the notice clock as a histogram per group ($1: 'hoster', 'asn' or
-- 'country'): for each duration bucket (stats_bucket, 0091) the cases removed (first gone)
-- after it, those still open after it (censored at $2, "now"), and how many came back.
-- Everything comes from trigger-maintained counts: removed cases from stats_removed (0096),
-- open ones from stats_open_bins (0195) — a minute of first notice whole when no bucket edge
-- crosses it at $2, else its cases one by one from stats_open (by stats_open_minute).
-- Withdrawn cases are in neither.
WITH bins AS (
    SELECT b.group_key, b.bin, b.open, b.reappeared
    FROM stats_open_bins b
    WHERE b.dimension = $1::text AND b.open <> 0
), minutes AS (  -- each minute's bucket once, and whether an edge crosses it
    SELECT m.bin, stats_bucket($2::timestamptz - m.bin) AS seconds,
           stats_bucket($2::timestamptz - m.bin - interval '59.999999 seconds')
               <> stats_bucket($2::timestamptz - m.bin) AS crossed
    FROM (SELECT DISTINCT bin FROM bins) m
)
SELECT t.grp, t.seconds, sum(t.removed)::bigint AS removed, sum(t.open)::bigint AS open,
       sum(t.reappeared)::bigint AS reappeared
FROM (
    SELECT s.group_key AS grp, s.bucket AS seconds, s.gone AS removed, 0 AS open,
           s.came_back AS reappeared
    FROM stats_removed s
    WHERE s.dimension = $1::text AND s.clock = 'notice' AND s.gone <> 0
    UNION ALL
    SELECT b.group_key, m.seconds, 0, b.open, b.reappeared
    FROM bins b JOIN minutes m ON m.bin = b.bin
    WHERE NOT m.crossed
    UNION ALL
    SELECT CASE $1::text WHEN 'hoster' THEN o.hoster WHEN 'asn' THEN o.asn::text
                         ELSE o.country END,
           stats_bucket($2::timestamptz - o.first_notice_at), 0, 1, o.reappeared::integer
    FROM minutes m JOIN stats_open o ON stats_minute(o.first_notice_at) = m.bin
    WHERE m.crossed AND NOT o.gone
) t
GROUP BY 1, 2;

-- name: oversight_stats_histograms
-- The histograms of oversight_stats_tallies ($1, $2 and the sources as there), one row per
-- group with the buckets as arrays in length order, plus one row over every group
-- (overall = true): a few thousand rows leave the database instead of a few hundred thousand.
WITH bins AS (
    SELECT b.group_key, b.bin, b.open, b.reappeared
    FROM stats_open_bins b
    WHERE b.dimension = $1::text AND b.open <> 0
), minutes AS (  -- each minute's bucket once, and whether an edge crosses it
    SELECT m.bin, stats_bucket($2::timestamptz - m.bin) AS seconds,
           stats_bucket($2::timestamptz - m.bin - interval '59.999999 seconds')
               <> stats_bucket($2::timestamptz - m.bin) AS crossed
    FROM (SELECT DISTINCT bin FROM bins) m
)
SELECT h.grp, h.overall, array_agg(h.seconds ORDER BY h.seconds) AS seconds,
       array_agg(h.removed ORDER BY h.seconds) AS removed,
       array_agg(h.open ORDER BY h.seconds) AS open, sum(h.reappeared)::bigint AS reappeared
FROM (
    SELECT t.grp, GROUPING(t.grp) = 1 AS overall, t.seconds, sum(t.removed)::bigint AS removed,
           sum(t.open)::bigint AS open, sum(t.reappeared)::bigint AS reappeared
    FROM (
        SELECT s.group_key AS grp, s.bucket AS seconds, s.gone AS removed, 0 AS open,
               s.came_back AS reappeared
        FROM stats_removed s
        WHERE s.dimension = $1::text AND s.clock = 'notice' AND s.gone <> 0
        UNION ALL
        SELECT b.group_key, m.seconds, 0, b.open, b.reappeared
        FROM bins b JOIN minutes m ON m.bin = b.bin
        WHERE NOT m.crossed
        UNION ALL
        SELECT CASE $1::text WHEN 'hoster' THEN o.hoster WHEN 'asn' THEN o.asn::text
                             ELSE o.country END,
               stats_bucket($2::timestamptz - o.first_notice_at), 0, 1, o.reappeared::integer
        FROM minutes m JOIN stats_open o ON stats_minute(o.first_notice_at) = m.bin
        WHERE m.crossed AND NOT o.gone
    ) t
    GROUP BY GROUPING SETS ((t.grp, t.seconds), (t.seconds))
) h
GROUP BY h.grp, h.overall;

-- name: oversight_stats_groups_page
-- One page of the groups of $1 with notified cases, most cases first (trigger-kept counts,
-- 0221): $2 groups after the first $3; the group's name breaks ties, "unknown" (NULL) last.
SELECT group_key AS grp, cases FROM stats_groups
WHERE dimension = $1::text
ORDER BY cases DESC, group_key
LIMIT $2 OFFSET $3;

-- name: oversight_stats_groups_count
-- How many groups of $1 have notified cases.
SELECT count(*) FROM stats_groups WHERE dimension = $1::text;

-- name: oversight_stats_group_named
-- The group of $1 named $2, whatever its letter case (the hoster page's address).
SELECT group_key AS grp FROM stats_groups
WHERE dimension = $1::text AND lower(group_key) = lower($2::text)
ORDER BY cases DESC LIMIT 1;

-- name: oversight_stats_histograms_of
-- oversight_stats_histograms for the groups $3 of $1 only (and the "unknown" group when $4),
-- one row per group: the counts are read by (dimension, group_key), so the cost is the
-- page's groups', not every group's (0221).
WITH bins AS (
    SELECT b.group_key, b.bin, b.open, b.reappeared
    FROM stats_open_bins b
    WHERE b.dimension = $1::text AND b.open <> 0
      AND (b.group_key = ANY($3::text[]) OR ($4::boolean AND b.group_key IS NULL))
), minutes AS (  -- each minute's bucket once, and whether an edge crosses it
    SELECT m.bin, stats_bucket($2::timestamptz - m.bin) AS seconds,
           stats_bucket($2::timestamptz - m.bin - interval '59.999999 seconds')
               <> stats_bucket($2::timestamptz - m.bin) AS crossed
    FROM (SELECT DISTINCT bin FROM bins) m
)
SELECT h.grp, array_agg(h.seconds ORDER BY h.seconds) AS seconds,
       array_agg(h.removed ORDER BY h.seconds) AS removed,
       array_agg(h.open ORDER BY h.seconds) AS open, sum(h.reappeared)::bigint AS reappeared
FROM (
    SELECT t.grp, t.seconds, sum(t.removed)::bigint AS removed, sum(t.open)::bigint AS open,
           sum(t.reappeared)::bigint AS reappeared
    FROM (
        SELECT s.group_key AS grp, s.bucket AS seconds, s.gone AS removed, 0 AS open,
               s.came_back AS reappeared
        FROM stats_removed s
        WHERE s.dimension = $1::text AND s.clock = 'notice' AND s.gone <> 0
          AND (s.group_key = ANY($3::text[]) OR ($4::boolean AND s.group_key IS NULL))
        UNION ALL
        SELECT b.group_key, m.seconds, 0, b.open, b.reappeared
        FROM bins b JOIN minutes m ON m.bin = b.bin
        WHERE NOT m.crossed
        UNION ALL
        SELECT g.grp, stats_bucket($2::timestamptz - o.first_notice_at), 0, 1,
               o.reappeared::integer
        FROM minutes m JOIN stats_open o ON stats_minute(o.first_notice_at) = m.bin
        CROSS JOIN LATERAL (SELECT CASE $1::text WHEN 'hoster' THEN o.hoster
                                                 WHEN 'asn' THEN o.asn::text
                                                 ELSE o.country END AS grp) g
        WHERE m.crossed AND NOT o.gone
          AND (g.grp = ANY($3::text[]) OR ($4::boolean AND g.grp IS NULL))
    ) t
    GROUP BY t.grp, t.seconds
) h
GROUP BY h.grp;

-- name: oversight_stats_notices
-- Notices about notified cases per group ($1 as above): sent, and failed or bounced
-- (trigger-maintained counts, 0096).
SELECT group_key AS grp, sent, failed FROM stats_notices
WHERE dimension = $1::text AND (sent <> 0 OR failed <> 0);

-- name: oversight_stats_removals_per_day
-- Notified cases first gone per UTC day (trigger-maintained counts, 0096).
SELECT day, removed FROM stats_removal_days WHERE removed <> 0 ORDER BY day;

-- name: oversight_hoster_contacts
-- The addresses that received notices about hoster $1's cases, with their health (delivered,
-- bounced, acknowledged, failing) and the median time from first notice to removal of the
-- hoster's cases they were sent (each case once: reminders to the same address do not
-- weigh a slow case more).
WITH items AS (
    SELECT n.recipient, n.id AS notice_id, n.state = 'sent' AS sent, c.id AS case_id,
           extract(epoch FROM c.first_gone_at - c.first_notice_at) AS removal_seconds
    FROM notices n
    JOIN notice_items i ON i.notice_id = n.id
    JOIN cases c ON c.id = i.case_id
    LEFT JOIN case_routes r ON r.case_id = c.id
    WHERE lower(coalesce(r.hoster, c.host)) = lower($1)
), removals AS (
    SELECT DISTINCT recipient, case_id, removal_seconds
    FROM items WHERE sent AND removal_seconds IS NOT NULL
)
SELECT t.recipient AS address, count(DISTINCT t.notice_id) AS notices,
       coalesce(h.delivered, 0) AS delivered, coalesce(h.bounced, 0) AS bounced,
       coalesce(h.acknowledged, 0) AS acknowledged, coalesce(h.failing, false) AS failing,
       (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY m.removal_seconds)
        FROM removals m WHERE m.recipient = t.recipient) AS median_removal_seconds
FROM items t
LEFT JOIN contact_health h ON h.address = t.recipient
GROUP BY t.recipient, h.delivered, h.bounced, h.acknowledged, h.failing
ORDER BY t.recipient;

-- name: oversight_content_timeline
-- Where one piece of known content (any of its hashes equal to $1) was seen, in time order.
SELECT c.id, c.url, c.host, coalesce(r.hoster, c.host) AS hoster, r.country, r.asn,
       c.state::text AS state, c.detected_at, c.first_notice_at, c.first_gone_at,
       c.removed_at, c.reappeared_at
FROM cases c LEFT JOIN case_routes r ON r.case_id = c.id
WHERE c.sha256 = $1 OR c.sha1 = $1 OR c.md5 = $1 OR c.pdq = $1
ORDER BY c.detected_at, c.id
LIMIT $2;

-- name: oversight_waterbed
-- Where content goes after removal: for each case that went offline, the first case with the
-- same SHA-256 or PDQ at another hoster detected after that; counted per (from, to) hoster.
WITH moves AS (
    SELECT DISTINCT ON (a.id) coalesce(ra.hoster, a.host) AS from_hoster,
           coalesce(rb.hoster, b.host) AS to_hoster, rb.country AS to_country,
           b.detected_at - a.first_gone_at AS lag
    FROM cases a
    LEFT JOIN case_routes ra ON ra.case_id = a.id
    JOIN cases b ON b.id <> a.id AND b.detected_at >= a.first_gone_at
                AND (b.sha256 = a.sha256 OR b.pdq = a.pdq)
    LEFT JOIN case_routes rb ON rb.case_id = b.id
    WHERE a.first_gone_at IS NOT NULL
      AND coalesce(rb.hoster, b.host) <> coalesce(ra.hoster, a.host)
    ORDER BY a.id, b.detected_at, b.id
)
SELECT from_hoster, to_hoster, to_country, count(*) AS moves,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM lag)) AS median_lag_seconds
FROM moves
GROUP BY from_hoster, to_hoster, to_country
ORDER BY moves DESC, from_hoster, to_hoster
LIMIT $1;

-- name: oversight_create_analyst
INSERT INTO analysts (username, password_hash, role) VALUES ($1, $2, $3)
ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,
                                     role = excluded.role, disabled_at = NULL
RETURNING id, username, role::text AS role;

-- name: oversight_analyst_by_name
SELECT id, username, role::text AS role, password_hash FROM analysts
WHERE username = $1 AND disabled_at IS NULL;

-- name: oversight_create_session
INSERT INTO analyst_sessions (token_sha256, analyst_id, expires_at) VALUES ($1, $2, now() + $3);

-- name: oversight_end_session
UPDATE analyst_sessions SET ended_at = now() WHERE token_sha256 = $1 AND ended_at IS NULL;

-- name: oversight_holds_covering_cases
-- oversight_hold_covering_case for the cases $1: per covered case (only those), the oldest
-- active hold covering it. With no active hold at all (the usual case) it reads no case.
SELECT DISTINCT ON (c.id) c.id AS case_id, h.id AS hold_id, h.reason, c.state
FROM cases c
LEFT JOIN case_routes r ON r.case_id = c.id
JOIN holds h ON h.lifted_at IS NULL
    AND (h.case_id = c.id
         OR lower(h.hoster) = lower(coalesce(r.hoster, c.host))
         OR c.host = h.domain OR c.host LIKE '%.' || h.domain)
WHERE c.id = ANY($1::bigint[])
  AND EXISTS (SELECT FROM holds WHERE lifted_at IS NULL)
ORDER BY c.id, h.id;

-- name: oversight_hold_covering_case
-- The oldest active hold that covers case $1 (by case, hoster or domain), if any. The outbox
-- asks this right before a case joins a notice batch, so a fresh hoster/domain hold never
-- waits for the next escalation sweep.
SELECT h.id AS hold_id, h.reason, c.state
FROM cases c
LEFT JOIN case_routes r ON r.case_id = c.id
JOIN holds h ON h.lifted_at IS NULL
    AND (h.case_id = c.id
         OR lower(h.hoster) = lower(coalesce(r.hoster, c.host))
         OR c.host = h.domain OR c.host LIKE '%.' || h.domain)
WHERE c.id = $1
ORDER BY h.id
LIMIT 1;
