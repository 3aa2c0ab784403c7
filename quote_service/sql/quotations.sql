-- Statements on quotations, their lines and their counter. Parameters are by name.

-- name: next_number
-- Gapless per-year numbering: the counter row stays locked until the inserting transaction
-- ends, so a rollback gives the number back. Run it as the last write before commit.
INSERT INTO quotation_counters (year, last_value) VALUES (%(year)s, 1)
ON CONFLICT (year) DO UPDATE SET last_value = quotation_counters.last_value + 1
RETURNING last_value;

-- name: insert_quotation
INSERT INTO quotations (
    number, year, seq, status, customer_name, customer_email, customer_company,
    customer_address, currency, valid_until, notes, template, subtotal, discount_total,
    tax_total, total, user_id, idempotency_key, request_hash
) VALUES (
    %(number)s, %(year)s, %(seq)s, 'queued', %(customer_name)s, %(customer_email)s,
    %(customer_company)s, %(customer_address)s, %(currency)s, %(valid_until)s, %(notes)s,
    %(template)s, %(subtotal)s, %(discount_total)s, %(tax_total)s, %(total)s,
    %(user_id)s, %(idempotency_key)s, %(request_hash)s
)
RETURNING *;

-- name: assign_number
UPDATE quotations SET number = %(number)s, seq = %(seq)s WHERE id = %(id)s RETURNING *;

-- name: insert_line
INSERT INTO quotation_lines (
    quotation_id, position, description, quantity, unit_price, tax_rate, discount_pct,
    net, tax, total
) VALUES (
    %(quotation_id)s, %(position)s, %(description)s, %(quantity)s, %(unit_price)s,
    %(tax_rate)s, %(discount_pct)s, %(net)s, %(tax)s, %(total)s
);

-- name: get_quotation
SELECT * FROM quotations WHERE id = %(id)s;

-- name: get_visible_quotation
-- The scope_* parameters come from accounts/ownership.py: everything, or the user's own
-- quotations and (when set) their team's.
SELECT q.* FROM quotations q
WHERE q.id = %(id)s
  AND (%(scope_all)s OR q.user_id = %(scope_user)s
       OR q.user_id IN (SELECT u.id FROM users u WHERE u.team = %(scope_team)s));

-- name: get_submitter
SELECT u.email FROM quotations q JOIN users u ON u.id = q.user_id WHERE q.id = %(id)s;

-- name: lock_quotation
SELECT * FROM quotations WHERE id = %(id)s FOR UPDATE;

-- name: get_quotation_by_idempotency_key
-- Keys are the user's own: another user's identical key is another quotation.
SELECT * FROM quotations WHERE user_id = %(user_id)s AND idempotency_key = %(key)s;

-- name: get_lines
SELECT * FROM quotation_lines WHERE quotation_id = %(quotation_id)s ORDER BY position;

-- name: list_quotations
-- Keyset pagination: newest first, `before` is the last id of the previous page; only the
-- quotations in scope (see get_visible_quotation).
SELECT q.* FROM quotations q
WHERE (%(status)s::text IS NULL OR q.status = %(status)s)
  AND (%(before)s::bigint IS NULL OR q.id < %(before)s)
  AND (%(scope_all)s OR q.user_id = %(scope_user)s
       OR q.user_id IN (SELECT u.id FROM users u WHERE u.team = %(scope_team)s))
ORDER BY q.id DESC
LIMIT %(limit)s;

-- name: set_status
UPDATE quotations SET status = %(status)s, updated_at = now() WHERE id = %(id)s;

-- name: start_step
UPDATE quotations
SET status = %(status)s, attempts = attempts + 1, failed_step = NULL, last_error = NULL,
    updated_at = now()
WHERE id = %(id)s;

-- name: record_pdf
UPDATE quotations
SET pdf_key = %(pdf_key)s, pdf_sha256 = %(pdf_sha256)s, pdf_size = %(pdf_size)s,
    pdf_generated_at = now(), status = 'delivering', updated_at = now()
WHERE id = %(id)s;

-- name: mark_sent
UPDATE quotations
SET status = 'sent', sent_at = coalesce(sent_at, now()), updated_at = now()
WHERE id = %(id)s;

-- name: mark_failed
UPDATE quotations
SET status = 'failed', failed_step = %(step)s, last_error = %(error)s, updated_at = now()
WHERE id = %(id)s;

-- name: insert_event
INSERT INTO quotation_events (quotation_id, kind, status, job_id, detail)
VALUES (%(quotation_id)s, %(kind)s, %(status)s, %(job_id)s, %(detail)s);

-- name: get_events
SELECT * FROM quotation_events WHERE quotation_id = %(quotation_id)s ORDER BY id;

-- name: count_without_job
-- Quotations that have no job at all: must always be empty.
SELECT count(*) AS n FROM quotations q
WHERE NOT EXISTS (
    SELECT 1 FROM procrastinate_jobs j WHERE j.lock = 'quotation-' || q.id
);
