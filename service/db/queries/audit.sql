-- name: audit_events
-- Every event with the fields of its canonical form, in chain order (per case, oldest first).
-- detail is read as jsonb's normalised text: the exact bytes the insert trigger hashed.
SELECT id, case_id, at, actor, kind, from_state::text AS from_state, to_state::text AS to_state,
       detail::text AS detail_text, prev_hash, hash
FROM case_events
WHERE ($1::bigint IS NULL OR case_id = $1)
ORDER BY case_id, id;

-- name: audit_retention_candidates
-- Closed cases older than the cutoff whose URL is still stored: removed with no pending
-- work left (the watch after removal has finished), or unresolved and untouched since then.
SELECT c.id
FROM cases c
WHERE c.url NOT LIKE 'https://purged.invalid/%'
  AND ((c.state = 'removed' AND c.removed_at < $1)
       OR (c.state = 'unresolved' AND c.updated_at < $1))
  AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.case_id = c.id)
ORDER BY c.id
LIMIT $2;

-- name: audit_purge_urls
-- Replace the URLs of the given cases by a unique marker (the unique (url, hash) indexes
-- and the url CHECK still hold); hashes, timestamps and the routing (hoster, country) stay.
-- Returns the old URL so that the caller can look for copies of it in event details.
UPDATE cases c
SET url = 'https://purged.invalid/' || c.id,
    url_original = 'https://purged.invalid/' || c.id,
    host = 'purged.invalid',
    updated_at = now()
FROM (SELECT id, url AS old_url FROM cases WHERE id = ANY($1::bigint[]) FOR UPDATE) old
WHERE c.id = old.id
RETURNING c.id, old.old_url;

-- name: audit_purge_mail
-- Clear the text, subject and attachment metadata (media type, size, SHA-256) of the mail
-- about any of the given cases: a reply may quote the URL just purged. A mail about several
-- cases is cleared with the first of them. The number of mails cleared.
WITH cleared AS (
    UPDATE inbound_mail m
    SET body_text = '', subject = '', attachments = '[]'::jsonb, truncated = false,
        purged_at = now()
    WHERE m.purged_at IS NULL
      AND m.id IN (SELECT mail_id FROM inbound_mail_cases WHERE case_id = ANY($1::bigint[]))
    RETURNING 1
)
SELECT count(*) FROM cleared;

-- name: audit_events_mentioning
-- How many events of a case still mention a text (a purged URL) in their detail.
SELECT count(*) FROM case_events WHERE case_id = $1 AND strpos(detail::text, $2) > 0;

-- name: ops_due_job_lag
-- Per job kind: how long the oldest due job has been waiting (seconds) and how many are due.
-- A claimed job's run_at is its lease end (in the future), so it does not count as due.
SELECT kind, extract(epoch FROM now() - min(run_at))::float8 AS lag, count(*) AS due
FROM jobs WHERE run_at <= now() GROUP BY kind ORDER BY kind;
