-- User accounts, API tokens and the record of failed sign-ins that rate limiting counts.

CREATE TABLE users (
    id               bigserial PRIMARY KEY,
    -- Stored lower-cased by the application; the index below makes "Ann@x" and "ann@x" one
    -- account even for a row written by hand.
    email            text NOT NULL CHECK (email <> '' AND length(email) <= 254),
    name             text NOT NULL DEFAULT '',
    role             text NOT NULL CHECK (role IN ('sales', 'viewer', 'admin')),
    -- argon2id, in the PHC string format that carries its own parameters and salt.
    password_hash    text NOT NULL,
    active           boolean NOT NULL DEFAULT true,
    -- Copied into each session at sign-in and compared on every request: incrementing it
    -- (deactivation, new password) ends every session the user has, on every device.
    session_version  integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_login_at    timestamptz
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));

CREATE TABLE api_tokens (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (name <> ''),
    -- sha256 of the whole token, hex. Tokens carry ~238 random bits, so a fast unsalted hash
    -- cannot be reversed by guessing, and the lookup stays one index probe per API request
    -- (a slow password hash would cost every request tens of milliseconds for no gain).
    token_hash    text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    -- The token's public part (`qs_<prefix>_...`), shown in listings so a token can be
    -- recognised without being stored.
    prefix        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- One row per password check that has not succeeded (a check in progress counts too, so
-- concurrent attempts on several web workers cannot exceed the limit). A successful sign-in
-- deletes its email's rows. Rows older than a day are pruned as new ones arrive.
CREATE TABLE login_attempts (
    id     bigserial PRIMARY KEY,
    email  text NOT NULL,
    ip     text NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX login_attempts_email_at ON login_attempts (email, at);
CREATE INDEX login_attempts_ip_at ON login_attempts (ip, at);
CREATE INDEX login_attempts_at ON login_attempts (at);
