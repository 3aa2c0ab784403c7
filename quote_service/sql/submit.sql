-- The submission of new quotations as ONE statement, its own transaction, sent in one round
-- trip (db.statement, see submit/service.py): one submission, or the batch of those that one
-- web process's threads made at the same moment (submit/group_commit.py). Its one parameter of
-- substance is the batch, which no plan can see into, so once psycopg has prepared it on a
-- connection (after a few calls) PostgreSQL keeps its generic plan and plans it no more
-- (pg_prepared_statements.generic_plans).

-- name: submit_quotations
-- `batch` is a jsonb array of submissions, each its own row of `input`, told apart by `i`:
-- who submits it, the user of an API token (`token_hash`, checked here rather than in a query
-- of its own) or a signed-in user (`user_id`), active, with a role in `roles`; what it submits,
-- priced (`lines`: one array of priced lines) and its `idempotency_key`. A token's last use is
-- recorded at most once a minute.
-- Each allowed submission whose user used its key before is answered that quotation
-- (`replayed`). The others, together: their customers (one per team and email; written only
-- when a detail changed, so that submissions for one customer do not queue on its row; the
-- batch's last submission for a customer gives its details, as if they had come one by one),
-- the year's counter, taken ONCE for all of them (gapless: its row stays locked until commit,
-- and a rollback gives the numbers back), their quotations numbered in the order of `i`, their
-- lines, their `generate_pdf` jobs through procrastinate's own function (the lock is
-- queue.quotation_lock's) and their `submitted` events.
-- One row per submission comes back, with its `i`: `outcome` is inserted, replayed or refused
-- (no such user, or `role` may not submit), with the quotation's columns when there is one.
-- A batch with two new submissions under one user's key fails on the unique index: nothing of
-- it is written, and the group commit runs each again on its own.
WITH input AS (
    SELECT * FROM jsonb_to_recordset(%(batch)s::jsonb) AS s(
        i integer, user_id bigint, token_hash text, roles jsonb, idempotency_key text,
        request_hash text, year integer, status text, customer_name text, customer_email text,
        customer_company text, customer_address text, locale text, currency text,
        valid_until date, notes text, template text, subtotal numeric, discount_total numeric,
        tax_total numeric, total numeric, lines jsonb)
), who AS (
    SELECT s.i, u.id, u.team, u.role, NULL::bigint AS token_id, NULL::timestamptz AS last_used_at
    FROM input s JOIN users u ON u.id = s.user_id
    WHERE u.active
    UNION ALL
    SELECT s.i, u.id, u.team, u.role, t.id, t.last_used_at
    FROM input s JOIN api_tokens t ON t.token_hash = s.token_hash JOIN users u ON u.id = t.user_id
    WHERE t.revoked_at IS NULL AND u.active
), allowed AS (
    SELECT w.* FROM who w JOIN input s ON s.i = w.i WHERE s.roles ? w.role
), touched AS (
    UPDATE api_tokens SET last_used_at = now()
    WHERE id IN (SELECT token_id FROM who
                 WHERE last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
), earlier AS (
    SELECT a.i, q.* FROM allowed a JOIN input s ON s.i = a.i
    JOIN quotations q ON q.user_id = a.id AND q.idempotency_key = s.idempotency_key
), go AS (
    SELECT s.*, a.id AS submitter, a.team, coalesce(a.team, '') AS team_key,
           lower(s.customer_email) AS email_key
    FROM input s JOIN allowed a ON a.i = s.i
    WHERE NOT EXISTS (SELECT FROM earlier e WHERE e.i = s.i)
), unchanged AS (
    SELECT go.i, c.id FROM go JOIN customers c
      ON coalesce(c.team, '') = go.team_key AND lower(c.email) = go.email_key
    WHERE c.email = go.customer_email AND c.name = go.customer_name
      AND c.company = go.customer_company AND c.address = go.customer_address
      AND (go.locale IS NULL OR c.locale IS NOT DISTINCT FROM go.locale)
), upserted AS (
    INSERT INTO customers AS c (team, name, email, company, address, locale)
    SELECT DISTINCT ON (go.team_key, go.email_key) go.team, go.customer_name, go.customer_email,
           go.customer_company, go.customer_address, go.locale
    FROM go
    WHERE (go.team_key, go.email_key) IN (
        SELECT g.team_key, g.email_key FROM go g
        WHERE NOT EXISTS (SELECT FROM unchanged u WHERE u.i = g.i))
    ORDER BY go.team_key, go.email_key, go.i DESC
    ON CONFLICT (coalesce(team, ''), lower(email)) DO UPDATE
    SET name = EXCLUDED.name, email = EXCLUDED.email, company = EXCLUDED.company,
        address = EXCLUDED.address, locale = coalesce(EXCLUDED.locale, c.locale),
        updated_at = now()
    RETURNING c.id, coalesce(c.team, '') AS team_key, lower(c.email) AS email_key
), customer AS (
    SELECT go.i, coalesce(p.id, u.id) AS id
    FROM go LEFT JOIN upserted p ON p.team_key = go.team_key AND p.email_key = go.email_key
    LEFT JOIN unchanged u ON u.i = go.i
), counter AS (
    INSERT INTO quotation_counters AS n (year, last_value)
    SELECT year, count(*) FROM go GROUP BY year
    ON CONFLICT (year) DO UPDATE SET last_value = n.last_value + EXCLUDED.last_value
    RETURNING n.year, n.last_value
), numbered AS (
    SELECT go.i, go.year,
           n.last_value - count(*) OVER (PARTITION BY go.year)
           + row_number() OVER (PARTITION BY go.year ORDER BY go.i) AS seq
    FROM go JOIN counter n ON n.year = go.year
), inserted AS (
    INSERT INTO quotations (
        number, year, seq, status, customer_name, customer_email, customer_company,
        customer_address, currency, valid_until, notes, template, subtotal, discount_total,
        tax_total, total, user_id, idempotency_key, request_hash, draft, customer_id, locale
    )
    SELECT quotation_number(go.year, nb.seq::integer), go.year, nb.seq, go.status,
           go.customer_name, go.customer_email, go.customer_company, go.customer_address,
           go.currency, go.valid_until, go.notes, go.template, go.subtotal,
           go.discount_total, go.tax_total, go.total, go.submitter, go.idempotency_key,
           go.request_hash, go.status = 'draft', c.id, go.locale
    FROM go JOIN numbered nb ON nb.i = go.i JOIN customer c ON c.i = go.i
    ORDER BY go.i
    RETURNING *
), made AS (
    SELECT nb.i, q.* FROM inserted q JOIN numbered nb ON nb.year = q.year AND nb.seq = q.seq
), lines AS (
    INSERT INTO quotation_lines (
        quotation_id, position, description, quantity, unit_price, tax_rate, discount_pct,
        net, tax, total
    )
    SELECT m.id, l.position, l.description, l.quantity, l.unit_price, l.tax_rate,
           l.discount_pct, l.net, l.tax, l.total
    FROM made m JOIN go ON go.i = m.i, jsonb_to_recordset(go.lines) AS l(
        position integer, description text, quantity numeric, unit_price numeric,
        tax_rate numeric, discount_pct numeric, net numeric, tax numeric, total numeric)
), job AS (
    SELECT m.id AS quotation_id, unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(
        %(queue_name)s, %(task_name)s, %(priority)s, 'quotation-' || m.id, NULL,
        jsonb_build_object('quotation_id', m.id), NULL
    )::procrastinate_job_to_defer_v1])) AS id
    FROM made m
), event AS (
    INSERT INTO quotation_events (quotation_id, kind, status, job_id, detail)
    SELECT m.id, 'submitted', m.status, j.id,
           jsonb_build_object('number', m.number, 'total', go.total::text)
    FROM made m JOIN job j ON j.quotation_id = m.id JOIN go ON go.i = m.i
)
SELECT 'inserted' AS outcome, NULL AS role, j.id AS job_id, m.*
FROM made m JOIN job j ON j.quotation_id = m.id
UNION ALL
SELECT 'replayed', NULL, NULL, e.* FROM earlier e
UNION ALL
SELECT 'refused', (SELECT w.role FROM who w WHERE w.i = s.i LIMIT 1), NULL, s.i,
       (NULL::quotations).*
FROM input s WHERE NOT EXISTS (SELECT FROM allowed a WHERE a.i = s.i);
