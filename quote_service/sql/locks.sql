-- Advisory locks that serialise a count-then-insert across every web process: the login
-- limits (one email, one address) and the resend limits (one recipient). Held until the
-- transaction ends, which is milliseconds later.

-- name: lock_key
SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0));
