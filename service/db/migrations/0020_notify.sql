-- Notices to the parties who can remove content, their items, acknowledgment tokens, the
-- answers given on the acknowledgment page, and the health of each contact address.

CREATE TYPE notice_kind AS ENUM ('notice', 'reminder', 'escalation');
CREATE TYPE notice_state AS ENUM ('pending', 'sending', 'sent', 'failed');

-- A notice is persisted (with its Message-ID) before it is sent, so a resend after a crash
-- between SMTP acceptance and commit carries the same Message-ID.
CREATE TABLE notices (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recipient   text         NOT NULL CHECK (length(recipient) <= 320),
    role        text         NOT NULL DEFAULT 'abuse',
    language    text         NOT NULL CHECK (language ~ '^[a-z]{2}$'),
    country     text CHECK (country IS NULL OR country ~ '^[A-Z]{2}$'),
    kind        notice_kind  NOT NULL DEFAULT 'notice',
    message_id  text         NOT NULL UNIQUE,
    state       notice_state NOT NULL DEFAULT 'pending',
    -- An open batch gathers items until sealed (when its notify job first runs).
    sealed_at   timestamptz,
    created_at  timestamptz  NOT NULL DEFAULT now(),
    deadline_at timestamptz,
    sent_at     timestamptz,
    bounced_at  timestamptz,  -- a delivery status notification said it failed after all
    attempts    integer      NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error  text,
    CHECK (state <> 'sent' OR sent_at IS NOT NULL),
    CHECK (state = 'pending' OR sealed_at IS NOT NULL)
);
-- One open batch per recipient and kind: items of many cases gather into one message.
CREATE UNIQUE INDEX notices_open_batch ON notices (recipient, kind) WHERE sealed_at IS NULL;
CREATE INDEX notices_recipient ON notices (recipient, created_at);

CREATE TABLE notice_items (
    notice_id bigint NOT NULL REFERENCES notices (id),
    case_id   bigint NOT NULL REFERENCES cases (id),
    added_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (notice_id, case_id)
);
CREATE INDEX notice_items_case ON notice_items (case_id);

-- Only the SHA-256 of an acknowledgment token is stored; the secret exists only in the mail.
CREATE TABLE ack_tokens (
    sha256      bytea       PRIMARY KEY CHECK (octet_length(sha256) = 32),
    notice_id   bigint      NOT NULL REFERENCES notices (id),
    csrf_secret bytea       NOT NULL CHECK (octet_length(csrf_secret) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    answers     integer     NOT NULL DEFAULT 0,
    CHECK (expires_at > created_at)
);
CREATE INDEX ack_tokens_notice ON ack_tokens (notice_id);

-- What hosters answered. "not_ours" and "dispute" wait in the hotline's queues (reviewed_at);
-- dispute texts are kept for the hash source.
CREATE TABLE ack_answers (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notice_id   bigint      NOT NULL REFERENCES notices (id),
    case_id     bigint      NOT NULL REFERENCES cases (id),
    answer      text        NOT NULL CHECK (answer IN ('received', 'removed', 'not_ours', 'dispute')),
    note        text        NOT NULL DEFAULT '' CHECK (length(note) <= 4000),
    answered_at timestamptz NOT NULL DEFAULT now(),
    reviewed_at timestamptz,
    UNIQUE (notice_id, case_id, answer)
);
CREATE INDEX ack_answers_queue ON ack_answers (answer, answered_at)
    WHERE reviewed_at IS NULL AND answer IN ('not_ours', 'dispute');

-- Health of each contact address, shown to analysts; a failing address is skipped.
CREATE TABLE contact_health (
    address       text PRIMARY KEY,
    delivered     integer     NOT NULL DEFAULT 0,
    bounced       integer     NOT NULL DEFAULT 0,
    acknowledged  integer     NOT NULL DEFAULT 0,
    failing       boolean     NOT NULL DEFAULT false,
    failing_since timestamptz,
    last_error    text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
