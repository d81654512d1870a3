-- Re-checks by hash: one row per observation (never any content: verdict, status, which
-- algorithm matched, PDQ distance, hops, timings), the removal-streak bookkeeping per case,
-- and reappearance counts per hoster (recidivism).

CREATE TYPE probe_verdict AS ENUM ('present', 'gone', 'inconclusive');

CREATE TABLE checks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id       bigint        NOT NULL REFERENCES cases (id),
    at            timestamptz   NOT NULL,
    verdict       probe_verdict NOT NULL,
    reason        text          NOT NULL CHECK (length(reason) <= 300),
    status        integer CHECK (status IS NULL OR status BETWEEN 100 AND 999),
    matched       text CHECK (matched IS NULL OR matched IN ('sha256', 'sha1', 'md5', 'pdq')),
    pdq_distance  integer CHECK (pdq_distance IS NULL OR pdq_distance BETWEEN 0 AND 256),
    hops          integer       NOT NULL DEFAULT 0 CHECK (hops >= 0),
    profile       text          NOT NULL DEFAULT 'own',
    total_ms      real,
    first_byte_ms real,
    state_before  case_state    NOT NULL,
    state_after   case_state    NOT NULL
);
CREATE INDEX checks_case ON checks (case_id, at);

-- Per case: the current streak of gone verdicts (inconclusive ones skipped, a present one
-- resets it), the open state a gone_pending case returns to when the content is back, and the
-- clock of the current cycle (a reappearance starts a new one; the cases columns keep the
-- first cycle's timestamps, the events every cycle's).
CREATE TABLE probe_tracking (
    case_id            bigint PRIMARY KEY REFERENCES cases (id),
    streak_started_at  timestamptz,
    streak_last_gone   timestamptz,
    streak_count       integer    NOT NULL DEFAULT 0 CHECK (streak_count >= 0),
    resume_state       case_state,
    cycle_started_at   timestamptz,
    last_removed_at    timestamptz,
    CHECK ((streak_count = 0) = (streak_started_at IS NULL))
);

-- Reappearances per hoster (case_routes.hoster, else the URL host).
CREATE TABLE hoster_recidivism (
    hoster              text PRIMARY KEY,
    reappearances       integer     NOT NULL DEFAULT 0 CHECK (reappearances >= 0),
    last_reappeared_at  timestamptz
);
