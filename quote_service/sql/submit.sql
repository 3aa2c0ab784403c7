-- The submission of a new quotation as ONE statement in one transaction, sent in one round
-- trip (db.statement, see submit/service.py).

-- name: plan_once_per_connection
-- See db.statement: a generic plan for the transaction's statement, made once per connection.
SET LOCAL plan_cache_mode = force_generic_plan;

-- name: submit_quotation
-- Who submits: the user of an API token (`token_hash`, checked here rather than in a query of
-- its own) or a signed-in user (`user_id`), active, with a role that may submit. A token's
-- last use is recorded at most once a minute. Then, unless the user's `idempotency_key` was
-- used before (that quotation is answered instead, `replayed`), in the same transaction: the
-- customer (one per team and email; written only when a detail changed, so that submissions
-- for one customer do not queue on its row), the year's counter (gapless: its row stays locked
-- until commit, and a rollback gives the number back), the numbered quotation, its lines
-- (`lines`, one jsonb array of priced lines), its `generate_pdf` job through procrastinate's
-- own function (the lock is queue.quotation_lock's) and its `submitted` event.
-- One row comes back: `outcome` is inserted, replayed or refused (no such user, or `role` may
-- not submit), with the quotation's columns when there is one.
WITH who AS (
    SELECT u.id, u.team, u.role, NULL::bigint AS token_id, NULL::timestamptz AS last_used_at
    FROM users u
    WHERE u.id = %(user_id)s AND u.active
    UNION ALL
    SELECT u.id, u.team, u.role, t.id, t.last_used_at
    FROM api_tokens t JOIN users u ON u.id = t.user_id
    WHERE t.token_hash = %(token_hash)s AND t.revoked_at IS NULL AND u.active
), allowed AS (
    SELECT * FROM who WHERE role = ANY(%(roles)s::text[])
), touched AS (
    UPDATE api_tokens SET last_used_at = now()
    WHERE id IN (SELECT token_id FROM who
                 WHERE last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
), earlier AS (
    SELECT q.* FROM quotations q JOIN allowed a ON q.user_id = a.id
    WHERE q.idempotency_key = %(idempotency_key)s
), go AS (
    SELECT a.* FROM allowed a WHERE NOT EXISTS (SELECT FROM earlier)
), unchanged AS (
    SELECT c.id FROM customers c JOIN go ON coalesce(c.team, '') = coalesce(go.team, '')
    WHERE lower(c.email) = lower(%(customer_email)s) AND c.email = %(customer_email)s
      AND c.name = %(customer_name)s AND c.company = %(customer_company)s
      AND c.address = %(customer_address)s
      AND (%(locale)s::text IS NULL OR c.locale IS NOT DISTINCT FROM %(locale)s::text)
), upserted AS (
    INSERT INTO customers (team, name, email, company, address, locale)
    SELECT go.team, %(customer_name)s, %(customer_email)s, %(customer_company)s,
           %(customer_address)s, %(locale)s::text
    FROM go WHERE NOT EXISTS (SELECT FROM unchanged)
    ON CONFLICT (coalesce(team, ''), lower(email)) DO UPDATE
    SET name = EXCLUDED.name, email = EXCLUDED.email, company = EXCLUDED.company,
        address = EXCLUDED.address, locale = coalesce(EXCLUDED.locale, customers.locale),
        updated_at = now()
    RETURNING id
), customer AS (
    SELECT id FROM unchanged UNION ALL SELECT id FROM upserted
), counter AS (
    INSERT INTO quotation_counters (year, last_value)
    SELECT %(year)s, 1 FROM go
    ON CONFLICT (year) DO UPDATE SET last_value = quotation_counters.last_value + 1
    RETURNING last_value
), inserted AS (
    INSERT INTO quotations (
        number, year, seq, status, customer_name, customer_email, customer_company,
        customer_address, currency, valid_until, notes, template, subtotal, discount_total,
        tax_total, total, user_id, idempotency_key, request_hash, draft, customer_id, locale
    )
    SELECT quotation_number(%(year)s, n.last_value), %(year)s, n.last_value, %(status)s,
           %(customer_name)s, %(customer_email)s, %(customer_company)s, %(customer_address)s,
           %(currency)s, %(valid_until)s, %(notes)s, %(template)s, %(subtotal)s,
           %(discount_total)s, %(tax_total)s, %(total)s, go.id, %(idempotency_key)s,
           %(request_hash)s, %(status)s = 'draft', c.id, %(locale)s::text
    FROM go, counter n, customer c
    RETURNING *
), lines AS (
    INSERT INTO quotation_lines (
        quotation_id, position, description, quantity, unit_price, tax_rate, discount_pct,
        net, tax, total
    )
    SELECT q.id, l.position, l.description, l.quantity, l.unit_price, l.tax_rate,
           l.discount_pct, l.net, l.tax, l.total
    FROM inserted q, jsonb_to_recordset(%(lines)s::jsonb) AS l(
        position integer, description text, quantity numeric, unit_price numeric,
        tax_rate numeric, discount_pct numeric, net numeric, tax numeric, total numeric)
), job AS (
    SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(
        %(queue_name)s, %(task_name)s, %(priority)s, 'quotation-' || q.id, NULL,
        jsonb_build_object('quotation_id', q.id), NULL
    )::procrastinate_job_to_defer_v1])) AS id
    FROM inserted q
), event AS (
    INSERT INTO quotation_events (quotation_id, kind, status, job_id, detail)
    SELECT q.id, 'submitted', q.status, j.id,
           jsonb_build_object('number', q.number, 'total', %(total_text)s::text)
    FROM inserted q, job j
)
SELECT 'inserted' AS outcome, NULL AS role, j.id AS job_id, q.*
FROM inserted q, job j
UNION ALL
SELECT 'replayed', NULL, NULL, e.* FROM earlier e
UNION ALL
SELECT 'refused', (SELECT role FROM who LIMIT 1), NULL, (NULL::quotations).*
WHERE NOT EXISTS (SELECT FROM allowed);
