-- name: resolve_network_for_ip
-- The most specific live cached network (or negative entry) containing an address.
SELECT negative, record, start_addr, end_addr, origin_asn,
       extract(epoch FROM expires_at - now()) AS remaining
FROM rdap_networks
WHERE start_addr <= $1::inet AND end_addr >= $1::inet
  AND family(start_addr) = family($1::inet) AND expires_at > now()
  -- learned for an address of the same origin AS (see migration 0099)
  AND ($2::bigint IS NULL OR origin_asn IS NULL OR origin_asn = $2)
ORDER BY start_addr DESC, end_addr ASC
LIMIT 1;

-- name: resolve_store_network
-- Insert or refresh one network (or negative) entry.
INSERT INTO rdap_networks (start_addr, end_addr, registry, handle, negative, record, expires_at,
                           origin_asn)
VALUES ($1::inet, $2::inet, $3, $4, $5, $6, now() + $7::interval, $8)
ON CONFLICT (start_addr, end_addr) DO UPDATE
SET registry = EXCLUDED.registry, handle = EXCLUDED.handle, negative = EXCLUDED.negative,
    record = EXCLUDED.record, fetched_at = now(), expires_at = EXCLUDED.expires_at,
    origin_asn = EXCLUDED.origin_asn;

-- name: resolve_purge_expired
-- Forget cache entries that expired; returns how many.
WITH gone AS (DELETE FROM rdap_networks WHERE expires_at <= now() RETURNING 1)
SELECT count(*) FROM gone;

-- name: resolve_domain_get
-- A live registrar answer for a registrable domain.
SELECT negative, record FROM rdap_domains WHERE domain = $1 AND expires_at > now();

-- name: resolve_domain_store
-- Insert or refresh a registrar answer.
INSERT INTO rdap_domains (domain, negative, record, expires_at)
VALUES ($1, $2, $3, now() + $4::interval)
ON CONFLICT (domain) DO UPDATE
SET negative = EXCLUDED.negative, record = EXCLUDED.record, fetched_at = now(),
    expires_at = EXCLUDED.expires_at;

-- name: resolve_rules_all
-- Every contact-book rule (the book is small; matching happens in the domain layer).
SELECT id, cidr::text AS cidr, asn, domain, hoster, address, language, do_not_contact,
       via_hotline, cc, note, created_by, created_at
FROM contact_rules ORDER BY id;

-- name: resolve_rule_add
-- Add a contact-book rule; returns its id.
INSERT INTO contact_rules (cidr, asn, domain, hoster, address, language, do_not_contact,
                           via_hotline, cc, note, created_by)
VALUES ($1::cidr, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING id;

-- name: resolve_rule_remove
-- Remove a contact-book rule; returns its id when it existed.
DELETE FROM contact_rules WHERE id = $1 RETURNING id;

-- name: resolve_hotlines_all
-- Every partner hotline with its routing policy.
-- (The partner's token is never listed.)
SELECT country, name, address, language, policy, url, updated_at FROM hotlines ORDER BY country;

-- name: resolve_hotline_set
-- Create or replace a country's hotline and policy.
INSERT INTO hotlines (country, name, address, language, policy)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (country) DO UPDATE
SET name = EXCLUDED.name, address = EXCLUDED.address, language = EXCLUDED.language,
    policy = EXCLUDED.policy, updated_at = now();

-- name: resolve_hotline_remove
-- Remove a country's hotline; returns the country when it existed.
DELETE FROM hotlines WHERE country = $1 RETURNING country;

-- name: resolve_start_many
-- The resolve stage takes up the cases of a claimed batch: $1 case ids, $2 each job's attempt.
-- Workable cases (received, resolving, unresolved) are locked in id order; those not yet
-- 'resolving' move there with a 'transition' event carrying the attempt (an analyst sees the
-- case being worked on). One statement for the batch; returns the workable cases' URLs.
WITH wanted AS (
    SELECT * FROM unnest($1::bigint[], $2::int[]) AS w(id, attempt)
), locked AS (
    SELECT c.id, c.url, c.state FROM cases c JOIN wanted w ON w.id = c.id
    WHERE c.state IN ('received', 'resolving', 'unresolved')
    ORDER BY c.id
    FOR UPDATE OF c
), moved AS (
    UPDATE cases c SET state = 'resolving', updated_at = now()
    FROM locked l WHERE c.id = l.id AND l.state <> 'resolving'
    RETURNING c.id, l.state AS from_state
), events AS (
    INSERT INTO case_events (case_id, actor, kind, from_state, to_state, detail)
    SELECT m.id, $3, 'transition', m.from_state, 'resolving', jsonb_build_object('attempt', w.attempt)
    FROM moved m JOIN wanted w ON w.id = m.id
    ORDER BY m.id
)
SELECT id, url FROM locked;

-- name: resolve_lock_resolving
-- Of cases $1, those still 'resolving', locked in id order (one lock order for every batch):
-- the ones whose resolution this transaction may record.
SELECT id FROM cases WHERE id = ANY($1::bigint[]) AND state = 'resolving' ORDER BY id FOR UPDATE;

-- name: resolve_store_routes
-- The routing decisions of many cases, one JSON object per case with case_routes' columns
-- (JSON null is SQL NULL; ip_addresses a JSON array); replaced when a case is resolved again.
INSERT INTO case_routes (case_id, ip_addresses, network, hoster, asn, country, cdn, registrar,
                         hotline, recipients, no_contact_reason)
SELECT r.case_id, coalesce(r.ip_addresses, '{}'), r.network, r.hoster, r.asn, r.country, r.cdn,
       r.registrar, r.hotline, r.recipients, r.no_contact_reason
FROM jsonb_to_recordset($1::jsonb) AS r(case_id bigint, ip_addresses inet[], network jsonb,
    hoster text, asn bigint, country text, cdn jsonb, registrar jsonb, hotline jsonb,
    recipients jsonb, no_contact_reason text)
ORDER BY r.case_id
ON CONFLICT (case_id) DO UPDATE
SET decided_at = now(), ip_addresses = EXCLUDED.ip_addresses, network = EXCLUDED.network,
    hoster = EXCLUDED.hoster, asn = EXCLUDED.asn, country = EXCLUDED.country,
    cdn = EXCLUDED.cdn, registrar = EXCLUDED.registrar, hotline = EXCLUDED.hotline,
    recipients = EXCLUDED.recipients, no_contact_reason = EXCLUDED.no_contact_reason,
    upstream_lookup = NULL;

-- name: resolve_conclude_many
-- Resolving cases concluded: one JSON object per case {case_id, resolved, detail}; resolved
-- ones stamp resolved_at (if still empty), the others become 'unresolved' (hotline queue).
-- Each gets its 'resolution' event with its own detail (hash-chained by the trigger). Only
-- cases still 'resolving' move (the caller locked them); returns the ids that moved.
WITH decided AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS d(case_id bigint, resolved boolean, detail jsonb)
), moved AS (
    UPDATE cases c
    SET state = CASE WHEN d.resolved THEN 'resolved' ELSE 'unresolved' END::case_state,
        updated_at = now(),
        resolved_at = CASE WHEN d.resolved THEN coalesce(c.resolved_at, now()) ELSE c.resolved_at END
    FROM decided d WHERE c.id = d.case_id AND c.state = 'resolving'
    RETURNING c.id, c.state AS to_state, d.detail
), events AS (
    INSERT INTO case_events (case_id, actor, kind, from_state, to_state, detail)
    SELECT id, $2, 'resolution', 'resolving', to_state, detail FROM moved ORDER BY id
)
SELECT id FROM moved;

-- name: resolve_deferred_many
-- Transient lookup failures noted on their cases (which stay 'resolving'): one JSON object per
-- case {case_id, detail}.
INSERT INTO case_events (case_id, actor, kind, detail)
SELECT r.case_id, $2, 'resolution_deferred', r.detail
FROM jsonb_to_recordset($1::jsonb) AS r(case_id bigint, detail jsonb)
ORDER BY r.case_id;

-- name: resolve_upstream_subject
-- What the upstream lookup of case $1 needs: the route's addresses, origin AS, recipients and
-- the lookup's state (NULL: no route).
SELECT ARRAY(SELECT host(a) FROM unnest(ip_addresses) AS a) AS ip_addresses, asn, recipients,
       upstream_lookup
FROM case_routes WHERE case_id = $1;

-- name: resolve_upstream_requested
-- The ladder asked for the upstream of case $1's route ($2: the lookup state "requested").
UPDATE case_routes SET upstream_lookup = $2 WHERE case_id = $1;

-- name: resolve_upstream_settled
-- What the upstream lookup of case $1 came to ($3), with the route's recipients ($2); only
-- while the request stands (a route decided again since is not touched). The row is returned
-- when it was written.
UPDATE case_routes SET recipients = $2, upstream_lookup = $3
WHERE case_id = $1 AND upstream_lookup->>'state' = 'requested'
RETURNING case_id;

-- name: resolve_clear_address_routes
-- Cases $1 are routed again: their other networks' routes are decided anew.
DELETE FROM case_address_routes WHERE case_id = ANY($1::bigint[]);

-- name: resolve_store_address_routes
-- The routes of cases' other networks: one JSON object per route with its case, position and
-- case_address_routes' columns (ip_addresses a JSON array).
INSERT INTO case_address_routes (case_id, position, ip_addresses, network, hoster, asn,
                                 country, recipients, no_contact_reason)
SELECT r.case_id, r.position, r.ip_addresses, r.network, r.hoster, r.asn, r.country,
       r.recipients, r.no_contact_reason
FROM jsonb_to_recordset($1::jsonb) AS r(case_id bigint, position int, ip_addresses inet[],
    network jsonb, hoster text, asn bigint, country text, recipients jsonb,
    no_contact_reason text)
ORDER BY r.case_id, r.position;

-- name: resolve_split_cases
-- Cases whose host is served from several networks: the first route's hoster, the other
-- networks' hosters, the state and the latest check's reason (which names each address).
SELECT c.id, c.url, c.state::text AS state, r.hoster,
       ARRAY(SELECT coalesce(a.hoster, '?') FROM case_address_routes a
             WHERE a.case_id = c.id ORDER BY a.position) AS other_hosters,
       (SELECT k.reason FROM checks k WHERE k.case_id = c.id ORDER BY k.id DESC LIMIT 1)
           AS last_check
FROM cases c JOIN case_routes r ON r.case_id = c.id
WHERE EXISTS (SELECT FROM case_address_routes a WHERE a.case_id = c.id)
ORDER BY c.id
LIMIT $1;
