-- Statements on quotations, their lines and their counter. Parameters are by name.

-- name: insert_next_version
-- The next version of a quotation (number, year, seq and version given; no idempotency key:
-- revising is an action on an existing quotation): see submit/revisions.py. A new quotation
-- is submit.sql's.
INSERT INTO quotations (
    number, year, seq, status, customer_name, customer_email, customer_company,
    customer_address, currency, valid_until, notes, template, subtotal, discount_total,
    tax_total, total, user_id, draft, version, previous_version_id, customer_id, locale
) VALUES (
    %(number)s, %(year)s, %(seq)s, %(status)s, %(customer_name)s, %(customer_email)s,
    %(customer_company)s, %(customer_address)s, %(currency)s, %(valid_until)s, %(notes)s,
    %(template)s, %(subtotal)s, %(discount_total)s, %(tax_total)s, %(total)s,
    %(user_id)s, %(draft)s, %(version)s, %(previous_version_id)s, %(customer_id)s, %(locale)s
)
RETURNING *;

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
-- `answer` selects by the customer's answer; `search` is a LIKE pattern over the number,
-- the customer's name, company and email (lower case, see quotation_search_text).
SELECT q.* FROM quotations q
WHERE (%(status)s::text IS NULL OR q.status = %(status)s)
  AND (%(answer)s::text IS NULL OR q.response_kind = %(answer)s)
  AND (%(search)s::text IS NULL
       OR quotation_search_text(q.number, q.customer_name, q.customer_company,
                                q.customer_email) LIKE %(search)s)
  AND (%(customer_id)s::bigint IS NULL OR q.customer_id = %(customer_id)s)
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
    pdf_generated_at = now(), status = %(status)s, updated_at = now()
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

-- name: latest_version
SELECT * FROM quotations WHERE number = %(number)s ORDER BY version DESC LIMIT 1;

-- name: get_versions
SELECT id, version, status, created_at, sent_at, response_kind FROM quotations
WHERE number = %(number)s ORDER BY version;

-- name: record_answer
UPDATE quotations
SET response_kind = %(kind)s, response_name = %(response_name)s, response_comment = %(comment)s,
    responded_at = now(), response_delivery_id = %(delivery_id)s, updated_at = now()
WHERE id = %(id)s AND response_kind IS NULL
RETURNING *;

-- name: expire_quotations
-- At most `limit` quotations past their validity (its last day over in the service's time
-- zone) without an answer become `expired`, each with its event; a bounded batch, so one run
-- stays short however many are due (the next run takes the rest).
WITH due AS (
    SELECT id FROM quotations
    WHERE status IN ('ready', 'sent') AND response_kind IS NULL
      AND valid_until < (now() AT TIME ZONE %(time_zone)s)::date
    ORDER BY valid_until, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), expired AS (
    UPDATE quotations q SET status = 'expired', expired_at = now(), updated_at = now()
    FROM due WHERE q.id = due.id
    RETURNING q.id, q.valid_until
)
INSERT INTO quotation_events (quotation_id, kind, status, detail)
SELECT id, 'expired', 'expired', jsonb_build_object('valid_until', valid_until)
FROM expired
RETURNING quotation_id;

-- name: replace_body
-- A draft's (or ready quotation's) new body: same number and version, a new rendering whose
-- PDF is made again (the old one stays in storage under its own key).
UPDATE quotations
SET customer_name = %(customer_name)s, customer_email = %(customer_email)s,
    customer_company = %(customer_company)s, customer_address = %(customer_address)s,
    currency = %(currency)s, valid_until = %(valid_until)s, notes = %(notes)s,
    template = %(template)s, subtotal = %(subtotal)s, discount_total = %(discount_total)s,
    tax_total = %(tax_total)s, total = %(total)s, customer_id = %(customer_id)s,
    locale = %(locale)s, rendering = rendering + 1, pdf_key = NULL, pdf_sha256 = NULL, pdf_size = NULL,
    pdf_generated_at = NULL, status = 'draft', failed_step = NULL, last_error = NULL,
    updated_at = now()
WHERE id = %(id)s
RETURNING *;

-- name: delete_lines
DELETE FROM quotation_lines WHERE quotation_id = %(quotation_id)s;
