-- name: create_token
-- Store a new token; only the SHA-256 of its secret is kept.
INSERT INTO tokens (name, role, secret_sha256) VALUES ($1, $2, $3) RETURNING id, created_at;

-- name: token_by_secret_hash
-- The live token whose secret hashes to $1.
SELECT id, name, role, secret_sha256 FROM tokens WHERE secret_sha256 = $1 AND revoked_at IS NULL;

-- name: revoke_token
UPDATE tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING id;

-- name: list_tokens
SELECT id, name, role, created_at, revoked_at FROM tokens ORDER BY id;

-- name: live_token_by_name
SELECT id, name, role FROM tokens WHERE name = $1 AND revoked_at IS NULL;
