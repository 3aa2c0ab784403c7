-- Statements on users, api_tokens and login_attempts.
-- Emails are compared lower-cased, matching the unique index users_email_key.

-- name: insert_user
INSERT INTO users (email, name, role, password_hash)
VALUES (%(email)s, %(full_name)s, %(role)s, %(password_hash)s)
ON CONFLICT ((lower(email))) DO NOTHING
RETURNING *;

-- name: get_user
SELECT * FROM users WHERE id = %(id)s;

-- name: get_user_by_email
SELECT * FROM users WHERE lower(email) = lower(%(email)s);

-- name: list_users
SELECT * FROM users ORDER BY lower(email);

-- name: set_user_role
UPDATE users SET role = %(role)s WHERE lower(email) = lower(%(email)s) RETURNING *;

-- name: set_user_team
UPDATE users SET team = %(team)s WHERE lower(email) = lower(%(email)s) RETURNING *;

-- name: set_user_active
-- Deactivation ends the user's sessions; a reactivated user signs in again.
WITH ended AS (
    DELETE FROM sessions
    WHERE NOT %(active)s AND user_id IN (SELECT id FROM users WHERE lower(email) = lower(%(email)s))
)
UPDATE users SET active = %(active)s
WHERE lower(email) = lower(%(email)s)
RETURNING *;

-- name: set_user_password
-- A new password ends every session made with the old one.
WITH ended AS (
    DELETE FROM sessions
    WHERE user_id IN (SELECT id FROM users WHERE lower(email) = lower(%(email)s))
)
UPDATE users SET password_hash = %(password_hash)s
WHERE lower(email) = lower(%(email)s)
RETURNING *;

-- name: end_user_sessions
WITH ended AS (
    DELETE FROM sessions
    WHERE user_id IN (SELECT id FROM users WHERE lower(email) = lower(%(email)s))
)
SELECT * FROM users WHERE lower(email) = lower(%(email)s);

-- name: record_sign_in
-- `password_hash` is the upgraded hash when the parameters changed, else NULL (kept as is).
UPDATE users
SET last_login_at = now(), password_hash = coalesce(%(password_hash)s, password_hash)
WHERE id = %(id)s;

-- name: insert_api_token
INSERT INTO api_tokens (user_id, name, token_hash, prefix)
VALUES (%(user_id)s, %(token_name)s, %(token_hash)s, %(prefix)s)
RETURNING id;

-- name: find_token_user
-- The token's user, only while the token is not revoked and the user is active.
SELECT t.id AS token_id, t.last_used_at AS token_last_used_at, now() AS now, u.*
FROM api_tokens t
JOIN users u ON u.id = t.user_id
WHERE t.token_hash = %(token_hash)s AND t.revoked_at IS NULL AND u.active;

-- name: touch_api_token
-- At most one write per token per minute, however many requests it makes.
UPDATE api_tokens SET last_used_at = now()
WHERE id = %(id)s AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: list_api_tokens
SELECT t.*, u.email AS user_email
FROM api_tokens t
JOIN users u ON u.id = t.user_id
WHERE %(email)s::text IS NULL OR lower(u.email) = lower(%(email)s::text)
ORDER BY t.id;

-- name: get_api_token
SELECT t.*, u.email AS user_email
FROM api_tokens t
JOIN users u ON u.id = t.user_id
WHERE t.id = %(id)s;

-- name: revoke_api_token
UPDATE api_tokens SET revoked_at = now()
WHERE id = %(id)s AND revoked_at IS NULL
RETURNING id;

-- name: count_login_failures
SELECT count(*) FILTER (WHERE email = %(email)s) AS by_email,
       count(*) FILTER (WHERE ip = %(ip)s) AS by_ip,
       min(at) FILTER (WHERE email = %(email)s) AS oldest_by_email,
       min(at) FILTER (WHERE ip = %(ip)s) AS oldest_by_ip,
       now() AS now
FROM login_attempts
WHERE (email = %(email)s OR ip = %(ip)s)
  AND at > now() - make_interval(secs => %(window_seconds)s);

-- name: insert_login_attempt
INSERT INTO login_attempts (email, ip) VALUES (%(email)s, %(ip)s) RETURNING id;

-- name: clear_login_failures
DELETE FROM login_attempts WHERE email = %(email)s;

-- name: prune_login_attempts
DELETE FROM login_attempts WHERE at < now() - interval '1 day';
