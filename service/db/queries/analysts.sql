-- Analyst accounts, their second factor and their sessions (issue 16).

-- name: analysts_login_row
-- The enabled analyst named $1 with what a login checks.
SELECT id, username, role::text AS role, password_hash,
       totp_secret, totp_enrolled_at IS NOT NULL AS totp_enrolled, totp_last_step
FROM analysts WHERE username = $1 AND disabled_at IS NULL;

-- name: analysts_by_id
SELECT id, username, role::text AS role, totp_secret,
       totp_enrolled_at IS NOT NULL AS totp_enrolled, totp_last_step
FROM analysts WHERE id = $1 AND disabled_at IS NULL;

-- name: analysts_set_password_hash
-- A rehash at login (same password, current parameters): not a password change.
UPDATE analysts SET password_hash = $2 WHERE id = $1;

-- name: analysts_upsert
-- Create an analyst, or reset its password and role (and enable it again).
INSERT INTO analysts (username, password_hash, role) VALUES ($1, $2, $3)
ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash,
                                     role = excluded.role, disabled_at = NULL,
                                     password_changed_at = now()
RETURNING id, username, role::text AS role;

-- name: analysts_disable
UPDATE analysts SET disabled_at = now() WHERE username = $1 AND disabled_at IS NULL
RETURNING id;

-- name: analysts_end_sessions_of
-- End every open session of analyst $1, saying why ($2).
UPDATE analyst_sessions SET ended_at = now(), ended_reason = $2
WHERE analyst_id = $1 AND ended_at IS NULL;

-- name: analysts_touch_session
-- The live session with token hash $1 that has been used within $2 (idle timeout), marked as
-- used now; nothing when it expired, ended, idled out or its analyst is disabled.
UPDATE analyst_sessions s SET last_seen_at = now()
FROM analysts a
WHERE s.token_sha256 = $1 AND a.id = s.analyst_id
  AND s.ended_at IS NULL AND s.expires_at > now() AND s.last_seen_at > now() - $2::interval
  AND a.disabled_at IS NULL
RETURNING a.id, a.username, a.role::text AS role, a.totp_enrolled_at IS NOT NULL AS totp_enrolled;

-- name: analysts_sessions
-- Open sessions (not ended, not expired), newest first, with a short id: the first 12 hex
-- digits of the token's SHA-256 (never the token).
SELECT encode(substring(s.token_sha256 from 1 for 6), 'hex') AS id, a.username,
       s.created_at, s.last_seen_at, s.expires_at
FROM analyst_sessions s JOIN analysts a ON a.id = s.analyst_id
WHERE s.ended_at IS NULL AND s.expires_at > now() AND ($1::text IS NULL OR a.username = $1)
ORDER BY s.created_at DESC;

-- name: analysts_revoke_session
UPDATE analyst_sessions SET ended_at = now(), ended_reason = 'revoked'
WHERE encode(substring(token_sha256 from 1 for 6), 'hex') = $1 AND ended_at IS NULL
RETURNING analyst_id;

-- name: analysts_begin_totp
-- A new secret waiting for its first code; an enrolled factor is not replaced this way.
UPDATE analysts SET totp_secret = $2 WHERE id = $1 AND totp_enrolled_at IS NULL;

-- name: analysts_confirm_totp
UPDATE analysts SET totp_enrolled_at = now(), totp_last_step = $2
WHERE id = $1 AND totp_enrolled_at IS NULL AND totp_secret IS NOT NULL;

-- name: analysts_totp_step_used
-- Record time step $2 as used, only if it is newer than the last one (no replay).
UPDATE analysts SET totp_last_step = $2
WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)
RETURNING id;

-- name: analysts_reset_totp
UPDATE analysts SET totp_secret = NULL, totp_enrolled_at = NULL, totp_last_step = NULL
WHERE username = $1 RETURNING id;

-- name: analysts_replace_recovery_codes
-- Delete the old codes of analyst $1 and store the new hashes $2.
WITH dropped AS (DELETE FROM analyst_recovery_codes WHERE analyst_id = $1)
INSERT INTO analyst_recovery_codes (analyst_id, code_sha256) SELECT $1, unnest($2::bytea[]);

-- name: analysts_use_recovery_code
UPDATE analyst_recovery_codes SET used_at = now()
WHERE analyst_id = $1 AND code_sha256 = $2 AND used_at IS NULL
RETURNING analyst_id;
