-- Statements on deliveries (one per email series: the first send and each resend).

-- name: insert_delivery
INSERT INTO deliveries (quotation_id, kind, recipient)
VALUES (%(quotation_id)s, %(kind)s, %(recipient)s)
RETURNING *;

-- name: lock_delivery
SELECT * FROM deliveries WHERE id = %(id)s FOR UPDATE;

-- name: get_deliveries
SELECT * FROM deliveries WHERE quotation_id = %(quotation_id)s ORDER BY id;

-- name: start_delivery
UPDATE deliveries
SET state = 'sending', provider = %(provider)s, attempts = attempts + 1, updated_at = now()
WHERE id = %(id)s;

-- name: accept_delivery
UPDATE deliveries
SET state = 'accepted', provider_message_id = %(message_id)s, accepted_at = now(),
    last_error = NULL, updated_at = now()
WHERE id = %(id)s;

-- name: set_delivery_state
UPDATE deliveries
SET state = %(state)s, last_error = %(error)s, updated_at = now()
WHERE id = %(id)s;

-- name: count_recent_resends
-- Resends inside the window, of this quotation and to this recipient (any quotation), with
-- the oldest of each: the limit frees up when that one leaves the window.
SELECT count(*) FILTER (WHERE quotation_id = %(quotation_id)s) AS by_quotation,
       count(*) FILTER (WHERE lower(recipient) = lower(%(recipient)s)) AS by_recipient,
       min(created_at) FILTER (WHERE quotation_id = %(quotation_id)s) AS oldest_by_quotation,
       min(created_at) FILTER (WHERE lower(recipient) = lower(%(recipient)s))
           AS oldest_by_recipient,
       now() AS now
FROM deliveries
WHERE kind = 'resend'
  AND created_at > now() - make_interval(secs => %(window_seconds)s)
  AND (quotation_id = %(quotation_id)s OR lower(recipient) = lower(%(recipient)s));
