-- Statements on delivery_links: the customer's link of each delivery (see links.py).

-- name: issue_delivery_link
-- A send attempt writes the token its email carries. A later attempt of the same delivery
-- (the earlier email did not go out) replaces it; a revocation stays.
INSERT INTO delivery_links (delivery_id, quotation_id, token_hash, expires_at)
VALUES (%(delivery_id)s, %(quotation_id)s, %(token_hash)s,
        now() + make_interval(days => %(days)s))
ON CONFLICT (delivery_id) DO UPDATE
SET token_hash = EXCLUDED.token_hash, created_at = now(), expires_at = EXCLUDED.expires_at
RETURNING *;

-- name: find_delivery_link
SELECT l.*, now() AS now FROM delivery_links l WHERE l.token_hash = %(token_hash)s;

-- name: quotation_links
SELECT l.*, now() AS now FROM delivery_links l WHERE l.quotation_id = %(quotation_id)s
ORDER BY l.delivery_id;

-- name: revoke_delivery_links
-- All of a quotation's live links, or one delivery's.
UPDATE delivery_links
SET revoked_at = now(), revoked_by = %(by)s
WHERE quotation_id = %(quotation_id)s
  AND (%(delivery_id)s::bigint IS NULL OR delivery_id = %(delivery_id)s)
  AND revoked_at IS NULL
RETURNING delivery_id;

-- name: get_delivery_of_quotation
SELECT * FROM deliveries WHERE id = %(id)s AND quotation_id = %(quotation_id)s;
