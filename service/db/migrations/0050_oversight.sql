-- Hotline oversight: analyst accounts and their sessions, the escalation ladder's state per
-- case, law-enforcement holds, and hand-off records (referrals that leave the system).

CREATE TYPE analyst_role AS ENUM ('analyst', 'supervisor');

CREATE TABLE analysts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text         NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    -- 'scrypt$n$r$p$salt_hex$key_hex' (hashlib.scrypt); never the password itself.
    password_hash text         NOT NULL CHECK (password_hash LIKE 'scrypt$%'),
    role          analyst_role NOT NULL DEFAULT 'analyst',
    created_at    timestamptz  NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);

-- Only the SHA-256 of a session token is stored; the secret lives in the HttpOnly cookie.
CREATE TABLE analyst_sessions (
    token_sha256 bytea       PRIMARY KEY CHECK (octet_length(token_sha256) = 32),
    analyst_id   bigint      NOT NULL REFERENCES analysts (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX analyst_sessions_analyst ON analyst_sessions (analyst_id);

-- The ladder per case (service.domain.escalation.Ladder) and when the stage looks next.
CREATE TABLE escalations (
    case_id          bigint      PRIMARY KEY REFERENCES cases (id),
    next_step        integer     NOT NULL DEFAULT 0 CHECK (next_step >= 0),
    paused           boolean     NOT NULL DEFAULT false,
    triggered        boolean     NOT NULL DEFAULT false,
    next_step_at     timestamptz,
    last_reminder_at timestamptz,
    wake_at          timestamptz,  -- NULL: nothing due until the case changes
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX escalations_wake ON escalations (wake_at) WHERE wake_at IS NOT NULL;

-- Law-enforcement holds: one case, or every case of a hoster or under a domain. A hold is
-- lifted, never deleted (the audit trail).
CREATE TABLE holds (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id    bigint REFERENCES cases (id),
    hoster     text CHECK (hoster IS NULL OR length(hoster) BETWEEN 1 AND 300),
    domain     text CHECK (domain IS NULL OR domain ~ '^[a-z0-9.-]+$'),
    reason     text        NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    lifted_by  text,
    lifted_at  timestamptz,
    CONSTRAINT holds_one_scope CHECK (num_nonnulls(case_id, hoster, domain) = 1),
    CONSTRAINT holds_lifted CHECK ((lifted_at IS NULL) = (lifted_by IS NULL))
);
CREATE INDEX holds_active ON holds (created_at) WHERE lifted_at IS NULL;

-- Referrals that leave the system as a record, not a mail (law enforcement), and ladder
-- steps that had nobody to write to.
CREATE TABLE handoffs (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id    bigint      NOT NULL REFERENCES cases (id),
    step       text        NOT NULL,
    recipient  text,
    detail     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX handoffs_case ON handoffs (case_id);

-- The escalate stage is a sweep: one long-lived job (ref_id 0) that re-schedules itself.
INSERT INTO jobs (kind, ref_id) VALUES ('escalate', 0);
