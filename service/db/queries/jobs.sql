-- name: claim_jobs
-- Claim up to $2 due jobs of kind $1 for worker $3, leasing them for $4.
-- SKIP LOCKED lets any number of workers claim side by side without waiting on each other.
-- Pushing run_at to the lease end is the lease: if the worker dies, the job is due again by
-- itself, and the one index jobs_due (kind, run_at) serves fresh and expired work alike.
-- The claimed rows are updated by id through the primary key (= ANY of the ids): joined to
-- the CTE instead, a batch of ~100 on a table of ~10 000 jobs was planned as a hash join
-- over a sequential scan of every job (about 1 ms per claim, 10 µs per claimed job).
WITH due AS (
    SELECT id FROM jobs
    WHERE kind = $1 AND run_at <= now()
    ORDER BY run_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs j
SET run_at = now() + $4::interval,
    claim_id = nextval('job_claims'),
    claimed_by = $3,
    attempts = j.attempts + 1
WHERE j.id = ANY (ARRAY(SELECT id FROM due))
RETURNING j.id, j.kind, j.case_id, j.ref_id, j.claim_id, j.attempts;

-- name: enqueue_ref_job
-- Make sure a job of kind $1 about row $2 (a notice, …) is due no later than $3. A job being
-- worked on now is not moved (its worker holds the lease); the request is remembered in
-- requeue_at instead.
INSERT INTO jobs (kind, ref_id, run_at) VALUES ($1, $2, $3)
ON CONFLICT (kind, ref_id) WHERE ref_id IS NOT NULL DO UPDATE
SET run_at = CASE WHEN jobs.claim_id IS NULL THEN least(jobs.run_at, excluded.run_at)
                  ELSE jobs.run_at END,
    requeue_at = CASE WHEN jobs.claim_id IS NULL THEN NULL
                      ELSE least(coalesce(jobs.requeue_at, excluded.run_at), excluded.run_at) END
RETURNING id;

-- name: enqueue_ref_jobs
-- enqueue_ref_job for many rows: a job of kind $1 about each row of $2 (distinct) due no later
-- than its time in $3, in row order (one lock order for concurrent callers).
INSERT INTO jobs (kind, ref_id, run_at)
SELECT $1, r.ref_id, r.run_at FROM unnest($2::bigint[], $3::timestamptz[]) AS r(ref_id, run_at)
ORDER BY r.ref_id
ON CONFLICT (kind, ref_id) WHERE ref_id IS NOT NULL DO UPDATE
SET run_at = CASE WHEN jobs.claim_id IS NULL THEN least(jobs.run_at, excluded.run_at)
                  ELSE jobs.run_at END,
    requeue_at = CASE WHEN jobs.claim_id IS NULL THEN NULL
                      ELSE least(coalesce(jobs.requeue_at, excluded.run_at), excluded.run_at) END;

-- name: ensure_ref_job
-- Make sure a job of kind $1 about row $2 exists (due now if new); an existing one keeps its
-- schedule (a periodic job is not made due early by being ensured).
INSERT INTO jobs (kind, ref_id) VALUES ($1, $2)
ON CONFLICT (kind, ref_id) WHERE ref_id IS NOT NULL DO NOTHING;

-- name: heartbeat_jobs
-- Extend the leases still held by this worker.
UPDATE jobs j SET run_at = now() + $3::interval
FROM unnest($1::bigint[], $2::bigint[]) AS held(id, claim_id)
WHERE j.id = held.id AND j.claim_id = held.claim_id;

-- name: enqueue_case_jobs
-- Make sure a job of kind $1 for each case of $2 is due no later than $3 (same rules as
-- enqueue_ref_job: a claimed job keeps its lease and remembers the request in requeue_at).
INSERT INTO jobs (kind, case_id, run_at)
SELECT $1, id, $3 FROM unnest($2::bigint[]) AS id ORDER BY id
ON CONFLICT (kind, case_id) WHERE case_id IS NOT NULL DO UPDATE
SET run_at = CASE WHEN jobs.claim_id IS NULL THEN least(jobs.run_at, excluded.run_at)
                  ELSE jobs.run_at END,
    requeue_at = CASE WHEN jobs.claim_id IS NULL THEN NULL
                      ELSE least(coalesce(jobs.requeue_at, excluded.run_at), excluded.run_at) END;

-- name: finish_jobs
-- The holders of claims $2 are done with jobs $1 (sorted by id: one lock order): delete each
-- job, unless someone asked for another run meanwhile (requeue_at), in which case it becomes
-- due then. Rows are locked first and the decision taken on their latest version, so a request
-- arriving at this very moment is either seen here or (waiting for our lock) inserts a fresh
-- job after the delete: never lost. Returns the ids it settled; a missing id lost its lease.
WITH locked AS (
    SELECT j.id, j.requeue_at
    FROM jobs j JOIN unnest($1::bigint[], $2::bigint[]) AS h(id, claim_id)
         ON j.id = h.id AND j.claim_id = h.claim_id
    ORDER BY j.id
    FOR UPDATE OF j
), kept AS (
    UPDATE jobs j SET run_at = l.requeue_at, requeue_at = NULL, claim_id = NULL,
                      claimed_by = NULL, attempts = 0, last_error = NULL
    FROM locked l WHERE j.id = l.id AND l.requeue_at IS NOT NULL
    RETURNING j.id
), dropped AS (
    DELETE FROM jobs j USING locked l WHERE j.id = l.id AND l.requeue_at IS NULL
    RETURNING j.id
)
SELECT id FROM kept UNION ALL SELECT id FROM dropped;

-- name: reschedule_jobs
-- The holders of claims $2 want jobs $1 to run again at $3 (or earlier if requested
-- meanwhile). Returns the ids it settled.
UPDATE jobs j
SET run_at = least(h.run_at, coalesce(j.requeue_at, h.run_at)), requeue_at = NULL,
    claim_id = NULL, claimed_by = NULL, attempts = 0, last_error = NULL
FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[]) AS h(id, claim_id, run_at)
WHERE j.id = h.id AND j.claim_id = h.claim_id
RETURNING j.id;

-- name: retry_jobs
-- The holders of claims $2 failed jobs $1: run again after the backoffs $3, keep the errors $4
-- for operators. Returns the ids it settled.
UPDATE jobs j
SET run_at = now() + h.delay, claim_id = NULL, claimed_by = NULL, last_error = h.error
FROM unnest($1::bigint[], $2::bigint[], $3::interval[], $4::text[]) AS h(id, claim_id, delay, error)
WHERE j.id = h.id AND j.claim_id = h.claim_id
RETURNING j.id;
