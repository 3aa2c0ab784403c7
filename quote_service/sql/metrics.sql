-- /metrics reads these at scrape time, so that any web process reports the database's truth
-- whichever process did the work. Each `*_seconds` query returns, per label set, one row per
-- bucket upper bound `le` with the number of samples at or below it, and one row with `le`
-- NULL carrying the count and the sum.

-- name: metrics_submissions
-- Every quotation row ever written: the per-status counts of migrations/0030 summed.
SELECT coalesce(sum(n), 0)::bigint AS n FROM quotation_status_counts;

-- name: metrics_jobs
SELECT queue_name, task_name, status::text AS status, sum(n)::bigint AS n
FROM job_counts GROUP BY queue_name, task_name, status HAVING sum(n) <> 0;

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

-- name: metrics_histogram
-- A histogram over the whole history, from the buckets the triggers of migrations/0030 keep,
-- with the bounds they were kept with (histogram_bounds); histogram_counts holds each
-- bucket's own count, Prometheus wants them cumulative.
WITH buckets AS (
    SELECT le, sum(n) AS n, sum(total) AS total FROM histogram_counts
    WHERE metric = %(metric)s GROUP BY le
)
SELECT b.le, coalesce((SELECT sum(n) FROM buckets WHERE buckets.le <= b.le), 0)::bigint AS n,
       NULL::float8 AS total
FROM histogram_bounds h, unnest(h.bounds) AS b(le)
WHERE h.metric = %(metric)s
UNION ALL
SELECT NULL, coalesce(sum(n), 0)::bigint, coalesce(sum(total), 0) FROM buckets;
