-- Signed-in browser sessions, kept server-side. The session cookie (signed with SECRET_KEY)
-- carries only a random id; the row is what makes it valid, so signing out, a new password, a
-- deactivation or `users end-sessions` delete the row and a copied cookie opens nothing.
-- This replaces users.session_version, which could end every session of a user but not one.

CREATE TABLE sessions (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- sha256 of the random id in the cookie, hex: a leaked table holds no usable session.
    token_hash    text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    -- Where it was opened from, for `quote-service users sessions`.
    ip            text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT ''
);

CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Sessions made before this migration carried a version, not an id: they end, and their
-- users sign in again.
ALTER TABLE users DROP COLUMN session_version;
