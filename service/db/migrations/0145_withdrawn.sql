-- False positives and partner hand-overs (issue 15).
--
-- 'withdrawn': a terminal state. The hotline takes a report back (a dispute it confirmed, or a
-- supervisor withdrawing a hash): no more notices, reminders or re-checks; whoever was told
-- already gets a short withdrawal notice (notice kind 'withdrawal'). `withdrawn_at` is when.
-- 'forwarded': the case was handed to a partner hotline's own instance (country policy
-- 'forward'); that partner's outcomes are mirrored into the case.
-- (Enum values added here are used by later migrations only: PostgreSQL does not allow a new
-- value to be used in the transaction that adds it.)
ALTER TYPE case_state ADD VALUE IF NOT EXISTS 'withdrawn';
ALTER TYPE case_state ADD VALUE IF NOT EXISTS 'forwarded';
ALTER TYPE notice_kind ADD VALUE IF NOT EXISTS 'withdrawal';

ALTER TABLE cases ADD COLUMN withdrawn_at timestamptz;

-- Hashes the hotline no longer stands behind: every case with one is withdrawn, and later
-- reports of it are answered 'rejected' with the reason. Never deleted (the audit trail).
CREATE TABLE withdrawn_hashes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    algorithm   text        NOT NULL CHECK (algorithm IN ('sha256', 'sha1', 'md5', 'pdq')),
    digest      text        NOT NULL CHECK (digest ~ '^[0-9a-f]{32,64}$'),
    reason      text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    cases_withdrawn integer NOT NULL DEFAULT 0 CHECK (cases_withdrawn >= 0),
    UNIQUE (algorithm, digest)
);

-- What scanners learn (service/domain/outcomes.py has the same rules): a forwarded case is on
-- its way to the hoster (notified); a withdrawn one says why in a fixed word (detail
-- 'withdrawal': dispute_confirmed or hash_withdrawn), never the supervisor's free text.
INSERT INTO scanner_outcome_rules (priority, outcome, kind, from_state, to_state, reason_key) VALUES
    (105, 'notified',  NULL, NULL, 'forwarded', NULL),
    (150, 'withdrawn', NULL, NULL, 'withdrawn', 'withdrawal');
