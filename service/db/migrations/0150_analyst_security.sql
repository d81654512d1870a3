-- Analyst accounts to ASVS level 2 (issue 16): argon2id password hashes beside the old scrypt
-- ones (rehashed at the next login), TOTP second factor (RFC 6238) with one-time recovery
-- codes, and an idle timeout for sessions.

ALTER TABLE analysts DROP CONSTRAINT analysts_password_hash_check;
ALTER TABLE analysts ADD CONSTRAINT analysts_password_hash_check
    CHECK (password_hash LIKE 'scrypt$%' OR password_hash LIKE '$argon2id$%');

-- The TOTP shared secret (base32) must be read to check a code, so it is stored as it is:
-- whoever reads this table can make codes (see docs/security.md, the database superuser).
-- totp_enrolled_at is NULL while an enrolment waits for its first code; totp_last_step is
-- the time step of the last accepted code, so a code is never accepted twice.
ALTER TABLE analysts
    ADD COLUMN totp_secret      text CHECK (totp_secret ~ '^[A-Z2-7]{32}$'),
    ADD COLUMN totp_enrolled_at timestamptz,
    ADD COLUMN totp_last_step   bigint,
    ADD COLUMN password_changed_at timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT analysts_totp_enrolled_has_secret
        CHECK (totp_enrolled_at IS NULL OR totp_secret IS NOT NULL);

-- Recovery codes: only their SHA-256; each works once.
CREATE TABLE analyst_recovery_codes (
    analyst_id  bigint      NOT NULL REFERENCES analysts (id),
    code_sha256 bytea       NOT NULL CHECK (octet_length(code_sha256) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    used_at     timestamptz,
    PRIMARY KEY (analyst_id, code_sha256)
);

-- Idle timeout: a session unused for TAKEDOWN_ANALYST_SESSION_IDLE is over.
ALTER TABLE analyst_sessions
    ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN ended_reason text;
