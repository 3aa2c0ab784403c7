-- A history of %(n)s quotations spread evenly over the last two years, as the pipeline leaves
-- it: lines, the audit trail, deliveries, and the procrastinate jobs and events that made them
-- (none removed by retention yet). Written in bulk with triggers and foreign-key checks off
-- (session_replication_role = replica); the caller rebuilds what triggers would have kept.
--
-- Shape, by id: every 50th failed at its email (generate succeeded, send failed, a recorded
-- failure); every 10th + 1 accepted, + 2 declined, + 3 expired; every 1000th + 7 parked with
-- its email's outcome unknown; the newest 20 still queued with a waiting job; the rest sent.

SET session_replication_role = replica;

CREATE TEMPORARY TABLE grown ON COMMIT DROP AS
SELECT i,
       at,
       extract(year FROM at)::integer AS year,
       row_number() OVER (PARTITION BY extract(year FROM at) ORDER BY i)::integer AS seq,
       CASE WHEN i > %(n)s - 20 THEN 'queued'
            WHEN i %% 50 = 0 THEN 'failed'
            WHEN i %% 10 = 3 THEN 'expired'
            ELSE 'sent' END AS status,
       CASE WHEN i > %(n)s - 20 THEN NULL
            WHEN i %% 10 = 1 THEN 'accepted'
            WHEN i %% 10 = 2 THEN 'declined' END AS response
FROM (SELECT i, now() - (%(n)s - i) * (interval '730 days' / %(n)s) - interval '1 second' AS at
      FROM generate_series(1, %(n)s) AS i) s;

INSERT INTO customers (id, name, email, company, address, created_at)
SELECT c, 'Customer ' || c, 'buyer' || c || '@example.com', 'Company ' || (c %% 5000),
       c || ' Main St', now() - interval '730 days'
FROM generate_series(1, %(customers)s) AS c;

INSERT INTO quotations (
    id, number, year, seq, status, customer_name, customer_email, customer_company,
    customer_address, currency, valid_until, subtotal, discount_total, tax_total, total,
    pdf_key, pdf_generated_at, sent_at, failed_step, last_error, attempts, created_at,
    updated_at, user_id, customer_id, response_kind, response_name, responded_at, expired_at)
SELECT i,
       'Q-' || year || '-' || CASE WHEN seq < 10000 THEN lpad(seq::text, 4, '0') ELSE seq::text END,
       year, seq, status,
       'Customer ' || (i %% %(customers)s + 1), 'buyer' || (i %% %(customers)s + 1) || '@example.com',
       'Company ' || ((i %% %(customers)s + 1) %% 5000), '1 Main St', 'EUR',
       (at + interval '30 days')::date, 300, 0, 60, 360,
       CASE WHEN status <> 'queued' THEN 'quotations/' || i || '.pdf' END,
       CASE WHEN status <> 'queued' THEN at + interval '0.5 seconds' END,
       CASE WHEN status IN ('sent', 'expired') THEN at + (1 + i %% 7) * interval '1 second' END,
       CASE WHEN status = 'failed' THEN 'send' END,
       CASE WHEN status = 'failed' THEN 'send: provider refused the message' END,
       CASE WHEN status = 'queued' THEN 0 ELSE 2 END,
       at, at + interval '2 seconds', %(user_id)s, i %% %(customers)s + 1,
       response, CASE WHEN response IS NOT NULL THEN 'Buyer' END,
       CASE WHEN response IS NOT NULL THEN at + interval '1 day' END,
       CASE WHEN status = 'expired' THEN at + interval '31 days' END
FROM grown;

INSERT INTO quotation_lines (quotation_id, position, description, quantity, unit_price,
                             tax_rate, discount_pct, net, tax, total)
SELECT i, p, 'Widget ' || p, 1, 100, 20, 0, 100, 20, 120
FROM grown CROSS JOIN generate_series(1, 3) AS p;

INSERT INTO quotation_events (quotation_id, at, kind, status, job_id, detail)
SELECT i, at + e.offset_s * interval '1 second', e.kind, e.kind_status, NULL, '{}'::jsonb
FROM grown
CROSS JOIN LATERAL (VALUES
    (1, 0.0, 'submitted', 'queued'),
    (2, 0.1, 'generating', 'generating'),
    (3, 0.5, 'pdf_stored', 'delivering'),
    (4, 1.0 + i %% 7, CASE WHEN status = 'failed' THEN 'failed' ELSE 'sent' END,
     CASE WHEN status = 'failed' THEN 'failed' ELSE 'sent' END)
) AS e(step, offset_s, kind, kind_status)
WHERE status <> 'queued' OR e.step = 1
ORDER BY i, e.step;

INSERT INTO deliveries (quotation_id, kind, recipient, provider, state, provider_message_id,
                        attempts, last_error, created_at, accepted_at, updated_at)
SELECT i, 'initial', 'buyer@example.com', 'outbox',
       CASE WHEN status = 'failed' THEN 'failed' WHEN i %% 1000 = 7 THEN 'unknown'
            ELSE 'accepted' END,
       CASE WHEN status <> 'failed' THEN 'msg-' || i END, 1,
       CASE WHEN status = 'failed' THEN 'provider refused the message'
            WHEN i %% 1000 = 7 THEN 'timed out after the request left' END,
       at + interval '0.6 seconds',
       CASE WHEN status <> 'failed' AND i %% 1000 <> 7 THEN at + interval '1 second' END,
       at + interval '1 second'
FROM grown WHERE status <> 'queued';

-- Two jobs per quotation: generate_pdf (id 2i - 1) and send_quotation (id 2i).
INSERT INTO procrastinate_jobs (id, queue_name, task_name, lock, args, status, attempts)
SELECT 2 * i - 1, 'documents', 'generate_pdf', 'quotation-' || i,
       jsonb_build_object('quotation_id', i),
       (CASE WHEN status = 'queued' THEN 'todo' ELSE 'succeeded' END)::procrastinate_job_status,
       CASE WHEN status = 'queued' THEN 0 ELSE 1 END
FROM grown
UNION ALL
SELECT 2 * i, 'delivery', 'send_quotation', 'quotation-' || i,
       jsonb_build_object('quotation_id', i, 'delivery_id', i),
       (CASE WHEN status = 'failed' THEN 'failed' ELSE 'succeeded' END)::procrastinate_job_status,
       1
FROM grown WHERE status <> 'queued';

INSERT INTO procrastinate_events (job_id, type, at)
SELECT 2 * i - 1, e.type::procrastinate_job_event_type, at + e.offset_s * interval '1 second'
FROM grown
CROSS JOIN (VALUES (1, 0.0, 'deferred'), (2, 0.1, 'started'), (3, 0.5, 'succeeded')) AS e(step, offset_s, type)
WHERE status <> 'queued' OR e.step = 1
UNION ALL
SELECT 2 * i, e.type::procrastinate_job_event_type, at + e.offset_s * interval '1 second'
FROM grown
CROSS JOIN LATERAL (VALUES (1, 0.5, 'deferred'), (2, 0.6, 'started'),
                           (3, 1.0 + i %% 7, CASE WHEN status = 'failed' THEN 'failed' ELSE 'succeeded' END)
) AS e(step, offset_s, type)
WHERE status <> 'queued';

INSERT INTO job_failures (job_id, task_name, attempt, quotation_id, error, traceback, at)
SELECT 2 * i, 'send_quotation', 1, i, 'ProviderError: provider refused the message',
       'Traceback (most recent call last): ...', at + interval '1 second'
FROM grown WHERE status = 'failed';

INSERT INTO quotation_counters (year, last_value)
SELECT year, max(seq) FROM grown GROUP BY year
ON CONFLICT (year) DO UPDATE SET last_value = EXCLUDED.last_value;

SELECT setval('quotations_id_seq', %(n)s);
SELECT setval('customers_id_seq', %(customers)s);
SELECT setval('procrastinate_jobs_id_seq', 2 * %(n)s);
SELECT setval('deliveries_id_seq', (SELECT max(id) FROM deliveries));
