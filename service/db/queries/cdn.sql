-- name: cdn_case
-- What the CDN channel needs about case $1: URL, state, the route's CDN and the case's last
-- filed report (NULL when none), locked while a report is filed or read.
SELECT c.id, c.url, c.state::text AS state, c.sha256, c.pdq, c.reappeared_at, r.cdn,
       k.id AS report_row, k.channel, k.report_id, k.filed_at, k.read_at
FROM cases c
LEFT JOIN case_routes r ON r.case_id = c.id
LEFT JOIN LATERAL (SELECT * FROM cdn_reports x WHERE x.case_id = c.id
                   ORDER BY x.filed_at DESC, x.id DESC LIMIT 1) k ON true
WHERE c.id = $1
FOR UPDATE OF c;

-- name: cdn_insert_report
-- A report filed for case $1 through channel $2 with the CDN's id $3.
INSERT INTO cdn_reports (case_id, channel, report_id) VALUES ($1, $2, $3) RETURNING id;

-- name: cdn_read_report
-- What reading report row $1 back said.
UPDATE cdn_reports
SET read_at = now(), status = $2, external_host_notified = $3, origin_host = $4
WHERE id = $1;

-- name: cdn_add_origin_route
-- The origin host a CDN named becomes a route of case $1 of its own (after the other
-- networks'), unless a route with that recipient exists. Returns the position, or nothing.
INSERT INTO case_address_routes (case_id, position, ip_addresses, hoster, recipients)
SELECT $1, coalesce((SELECT max(position) FROM case_address_routes WHERE case_id = $1), 0) + 1,
       coalesce((SELECT ip_addresses FROM case_routes WHERE case_id = $1), '{}'::inet[]),
       $2, $3::jsonb
WHERE NOT EXISTS (SELECT FROM case_address_routes a, jsonb_array_elements(a.recipients) e
                  WHERE a.case_id = $1 AND e->>'address' = $4)
  AND coalesce(cardinality((SELECT ip_addresses FROM case_routes WHERE case_id = $1)), 0) > 0
RETURNING position;

-- name: cdn_reports_summary
-- Reports filed through CDN APIs: per channel, how many, read back, origin told, origin named.
SELECT channel, count(*)::bigint AS filed, count(read_at)::bigint AS read,
       count(*) FILTER (WHERE external_host_notified)::bigint AS origin_notified,
       count(origin_host)::bigint AS origin_named
FROM cdn_reports GROUP BY channel ORDER BY channel;
