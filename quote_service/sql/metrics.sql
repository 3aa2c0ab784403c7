-- /metrics reads these at scrape time, so that any web process reports the database's truth
-- whichever process did the work. Each `*_seconds` query returns, per label set, one row per
-- bucket upper bound `le` with the number of samples at or below it, and one row with `le`
-- NULL carrying the count and the sum.

-- name: metrics_submissions
SELECT count(*) AS n FROM quotations;

-- name: metrics_jobs
SELECT queue_name, task_name, status::text AS status, count(*) AS n
FROM procrastinate_jobs GROUP BY queue_name, task_name, status;

-- name: metrics_attempt_failures
SELECT task_name, count(*) AS n FROM job_failures GROUP BY task_name;

-- name: metrics_waiting
-- Per queue, how long the oldest job that could run now has waited for a worker.
SELECT j.queue_name,
       extract(epoch FROM now() - min(coalesce(j.scheduled_at, d.at)))::float8 AS seconds
FROM procrastinate_jobs j
LEFT JOIN LATERAL (
    SELECT min(e.at) AS at FROM procrastinate_events e
    WHERE e.job_id = j.id AND e.type = 'deferred'
) d ON true
WHERE j.status = 'todo' AND (j.scheduled_at IS NULL OR j.scheduled_at <= now())
GROUP BY j.queue_name;

-- name: metrics_stalled
SELECT count(*) AS n FROM running_jobs
WHERE worker_gone OR silent_for > make_interval(secs => %(seconds)s::float8);

-- name: metrics_awaiting_reconciliation
SELECT count(*) AS n FROM deliveries_awaiting_reconciliation;

-- name: metrics_oldest_waiting_quotation
-- Quotations whose email awaits reconciliation are counted by their own gauge instead.
SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS seconds
FROM quotations q
WHERE status IN ('queued', 'generating', 'delivering')
  AND NOT EXISTS (SELECT 1 FROM deliveries_awaiting_reconciliation r WHERE r.quotation_id = q.id);

-- name: metrics_job_duration_seconds
WITH samples AS (
    SELECT task_name, outcome, seconds FROM job_runs WHERE ended_at > now() - interval '1 hour'
)
SELECT task_name, outcome, b.le, count(*) FILTER (WHERE s.seconds <= b.le) AS n,
       NULL::float8 AS total
FROM samples s CROSS JOIN unnest(%(buckets)s::float8[]) AS b(le)
GROUP BY task_name, outcome, b.le
UNION ALL
SELECT task_name, outcome, NULL, count(*), sum(seconds) FROM samples GROUP BY task_name, outcome;

-- name: metrics_conversion_seconds
SELECT b.le, count(*) FILTER (WHERE c.seconds <= b.le) AS n, NULL::float8 AS total
FROM unnest(%(buckets)s::float8[]) AS b(le) LEFT JOIN pdf_conversions c ON true
GROUP BY b.le
UNION ALL
SELECT NULL, count(*), coalesce(sum(seconds), 0) FROM pdf_conversions;

-- name: metrics_submit_to_sent_seconds
WITH samples AS (
    SELECT extract(epoch FROM sent_at - created_at)::float8 AS seconds
    FROM quotations WHERE sent_at IS NOT NULL
)
SELECT b.le, count(*) FILTER (WHERE s.seconds <= b.le) AS n, NULL::float8 AS total
FROM unnest(%(buckets)s::float8[]) AS b(le) LEFT JOIN samples s ON true
GROUP BY b.le
UNION ALL
SELECT NULL, count(*), coalesce(sum(seconds), 0) FROM samples;
