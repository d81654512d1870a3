-- The foundation: tokens, cases with every timestamp of the clock, the append-only event log,
-- and one work queue shared by every worker stage.

CREATE TYPE case_state AS ENUM (
    'received', 'resolving', 'resolved', 'unresolved', 'held', 'notified', 'acknowledged',
    'escalated', 'gone_pending', 'removed', 'reappeared'
);

CREATE TYPE token_role AS ENUM ('scanner', 'hotline', 'probe');

CREATE TABLE tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text        NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$'),
    role          token_role  NOT NULL,
    secret_sha256 bytea       NOT NULL UNIQUE CHECK (octet_length(secret_sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
-- A name identifies one live token; revoked ones stay for the audit trail.
CREATE UNIQUE INDEX tokens_live_name ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE cases (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url              text        NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 8192),
    url_original     text        NOT NULL CHECK (length(url_original) <= 8192),
    host             text        NOT NULL,
    sha256           text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    sha1             text CHECK (sha1 ~ '^[0-9a-f]{40}$'),
    md5              text CHECK (md5 ~ '^[0-9a-f]{32}$'),
    pdq              text CHECK (pdq ~ '^[0-9a-f]{64}$'),
    media_type       text        NOT NULL,
    classification   text,
    scanner_id       bigint      NOT NULL REFERENCES tokens (id),
    source_ref       text        NOT NULL,
    state            case_state  NOT NULL DEFAULT 'received',
    detected_at      timestamptz NOT NULL,
    received_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz,
    first_notice_at  timestamptz,
    acknowledged_at  timestamptz,
    first_gone_at    timestamptz,
    removed_at       timestamptz,
    reappeared_at    timestamptz,
    last_seen_at     timestamptz,
    last_checked_at  timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    -- A case is about known content: at least one hash identifies it.
    CONSTRAINT cases_has_hash CHECK (num_nonnulls(sha256, sha1, md5, pdq) >= 1),
    CONSTRAINT cases_detected_before_received CHECK (detected_at <= received_at + interval '1 day'),
    CONSTRAINT cases_resolved_after_received CHECK (resolved_at IS NULL OR resolved_at >= received_at),
    CONSTRAINT cases_removed_needs_gone CHECK (removed_at IS NULL OR first_gone_at IS NOT NULL),
    CONSTRAINT cases_removed_after_gone CHECK (removed_at IS NULL OR removed_at >= first_gone_at),
    CONSTRAINT cases_state_removed CHECK (state <> 'removed' OR removed_at IS NOT NULL),
    CONSTRAINT cases_state_notified CHECK (
        state NOT IN ('notified', 'acknowledged', 'escalated') OR first_notice_at IS NOT NULL)
);
-- Idempotent intake: the same normalised URL with an overlapping hash is the same case.
-- One partial unique index per algorithm makes "overlap" exact and race-free.
CREATE UNIQUE INDEX cases_url_sha256 ON cases (url, sha256) WHERE sha256 IS NOT NULL;
CREATE UNIQUE INDEX cases_url_sha1   ON cases (url, sha1)   WHERE sha1 IS NOT NULL;
CREATE UNIQUE INDEX cases_url_md5    ON cases (url, md5)    WHERE md5 IS NOT NULL;
CREATE UNIQUE INDEX cases_url_pdq    ON cases (url, pdq)    WHERE pdq IS NOT NULL;
CREATE INDEX cases_state ON cases (state);
CREATE INDEX cases_host ON cases (host);
CREATE INDEX cases_sha256 ON cases (sha256) WHERE sha256 IS NOT NULL;

CREATE TABLE case_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id     bigint      NOT NULL REFERENCES cases (id),
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor       text        NOT NULL,  -- 'scanner:NAME', 'worker:resolve', 'hoster', 'analyst:NAME'
    kind        text        NOT NULL,  -- 'received', 'transition', 'resolution', 'notice', …
    from_state  case_state,
    to_state    case_state,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    CHECK ((from_state IS NULL) = (to_state IS NULL) OR kind = 'received')
);
CREATE INDEX case_events_case ON case_events (case_id, id);

-- The event log is append-only: history is never rewritten.
CREATE FUNCTION case_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER case_events_no_update BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION case_events_append_only();

-- One queue for every stage (resolve, notify, probe, escalate, …).
-- `run_at` doubles as the lease: claiming pushes it to now()+lease, so a job whose worker died
-- becomes due again by itself and one index (kind, run_at) serves every claim.
CREATE TABLE jobs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text        NOT NULL,
    case_id     bigint REFERENCES cases (id),
    ref_id      bigint,        -- another row the job is about (a notice, …), stage-defined
    run_at      timestamptz NOT NULL DEFAULT now(),
    claim_id    bigint,        -- changes at every claim: only the current holder may finish it
    claimed_by  text,
    requeue_at  timestamptz,   -- asked to run again while claimed
    attempts    integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_due ON jobs (kind, run_at);
-- At most one pending job of a kind per case (re-enqueueing moves it instead of doubling it).
CREATE UNIQUE INDEX jobs_one_per_case ON jobs (kind, case_id) WHERE case_id IS NOT NULL;
CREATE UNIQUE INDEX jobs_one_per_ref ON jobs (kind, ref_id) WHERE ref_id IS NOT NULL;
CREATE SEQUENCE job_claims;
