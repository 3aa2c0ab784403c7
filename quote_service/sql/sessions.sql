-- Statements on sessions (signed-in browsers). The cookie carries a random id; rows hold its
-- sha256, the user and the expiry.

-- name: insert_session
INSERT INTO sessions (user_id, token_hash, expires_at, ip, user_agent)
VALUES (%(user_id)s, %(token_hash)s, now() + make_interval(secs => %(lifetime)s), %(ip)s,
        %(user_agent)s)
RETURNING id;

-- name: session_user
-- Every request of a signed-in browser: one index probe that also loads the user, and only
-- while the session is unexpired and the user active.
SELECT s.id AS session_id, u.*
FROM sessions s
JOIN users u ON u.id = s.user_id
WHERE s.token_hash = %(token_hash)s AND s.expires_at > now() AND u.active;

-- name: delete_session
DELETE FROM sessions WHERE token_hash = %(token_hash)s;

-- name: prune_sessions
DELETE FROM sessions WHERE expires_at < now();

-- name: list_user_sessions
SELECT s.* FROM sessions s JOIN users u ON u.id = s.user_id
WHERE lower(u.email) = lower(%(email)s) AND s.expires_at > now()
ORDER BY s.id;
