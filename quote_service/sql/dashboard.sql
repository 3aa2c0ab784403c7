-- What the /dashboard pages read and do. The queue's state changes go through procrastinate's
-- own SQL functions (procrastinate_retry_job_v2, procrastinate_cancel_job_v1) so that its
-- triggers record the same events as when its workers make them.

-- name: dashboard_counts
SELECT queue_name, status::text AS status, jobs FROM queue_summary;

-- name: dashboard_quotation_counts
-- From the per-status counts that triggers keep (migrations/0030), not a scan of quotations.
SELECT status, sum(n)::bigint AS n FROM quotation_status_counts GROUP BY status;

-- name: dashboard_oldest_waiting
-- The quotation that has waited longest for its PDF or its email. One whose email awaits
-- reconciliation waits for a person, not for the queue: it is listed apart.
SELECT id, number, status, created_at, now() - created_at AS age
FROM quotations q
WHERE status IN ('queued', 'generating', 'delivering')
  AND NOT EXISTS (SELECT 1 FROM deliveries_awaiting_reconciliation r WHERE r.quotation_id = q.id)
ORDER BY created_at, id
LIMIT 1;

-- name: dashboard_awaiting_reconciliation
-- The emails whose outcome is unknown, longest parked first, with how many there are in all.
SELECT quotation_id, number, quotation_status, delivery_id, recipient, provider, last_error,
       unknown_since, now() - unknown_since AS age, count(*) OVER () AS total
FROM deliveries_awaiting_reconciliation
ORDER BY unknown_since, delivery_id
LIMIT %(limit)s;

-- name: dashboard_awaiting_reconciliation_count
SELECT count(*) AS n FROM deliveries_awaiting_reconciliation;

-- name: dashboard_sent_times
-- Submit-to-sent times of the quotations sent during the last hour.
SELECT count(*) AS n,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at))
           AS median_seconds,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at))
           AS p95_seconds
FROM quotations
WHERE sent_at > now() - interval '1 hour';

-- name: dashboard_throughput
SELECT minute, succeeded, failed FROM job_throughput ORDER BY minute;

-- name: dashboard_stalled
SELECT r.*, q.number
FROM running_jobs r
LEFT JOIN quotations q ON q.id = r.quotation_id
WHERE r.worker_gone OR r.silent_for > make_interval(secs => %(seconds)s::float8)
ORDER BY r.job_id;

-- name: dashboard_list_jobs
-- Newest first, keyset-paginated on id (`before` is the last id of the previous page). For a
-- job of a quotation: the quotation's number, the last recorded error, and the later job of
-- the same quotation if there is one (a failed job followed by another was already retried).
SELECT j.id, j.queue_name, j.task_name, j.status::text AS status, j.attempts, j.scheduled_at,
       j.lock, j.args, q.id AS quotation_id, q.number, q.status AS quotation_status,
       f.error AS last_error, f.at AS failed_at, later.id AS followed_by
FROM procrastinate_jobs j
LEFT JOIN quotations q
       ON q.id = job_quotation_id(j.args)
LEFT JOIN LATERAL (
    SELECT error, at FROM job_failures WHERE job_id = j.id ORDER BY id DESC LIMIT 1
) f ON true
LEFT JOIN LATERAL (
    SELECT id FROM procrastinate_jobs k WHERE k.lock = j.lock AND k.id > j.id
    ORDER BY k.id LIMIT 1
) later ON true
WHERE (%(status)s::text IS NULL OR j.status = %(status)s::procrastinate_job_status)
  AND (%(task)s::text IS NULL OR j.task_name = %(task)s)
  AND (%(queue)s::text IS NULL OR j.queue_name = %(queue)s)
  AND (%(before)s::bigint IS NULL OR j.id < %(before)s)
ORDER BY j.id DESC
LIMIT %(limit)s;

-- name: dashboard_task_names
SELECT task_name FROM job_counts GROUP BY task_name HAVING sum(n) > 0 ORDER BY task_name;

-- name: dashboard_queue_names
SELECT queue_name FROM job_counts GROUP BY queue_name HAVING sum(n) > 0 ORDER BY queue_name;

-- name: dashboard_job
SELECT j.id, j.queue_name, j.task_name, j.priority, j.lock, j.queueing_lock, j.args,
       j.status::text AS status, j.scheduled_at, j.attempts, j.abort_requested, j.worker_id,
       w.last_heartbeat AS worker_heartbeat,
       q.id AS quotation_id, q.number, q.status AS quotation_status,
       (SELECT min(k.id) FROM procrastinate_jobs k WHERE k.lock = j.lock AND k.id > j.id)
           AS followed_by
FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
LEFT JOIN quotations q
       ON q.id = job_quotation_id(j.args)
WHERE j.id = %(id)s;

-- name: dashboard_job_events
SELECT id, type::text AS type, at FROM procrastinate_events WHERE job_id = %(id)s ORDER BY at, id;

-- name: dashboard_job_failures
SELECT attempt, at, error, traceback FROM job_failures WHERE job_id = %(id)s ORDER BY id;

-- name: dashboard_lock_job
-- Taken before any action, so that a worker or another operator cannot change the job between
-- the check and the change.
SELECT j.id, j.queue_name, j.task_name, j.lock, j.args, j.status::text AS status,
       j.scheduled_at, j.scheduled_at > now() AS scheduled_later,
       (SELECT min(k.id) FROM procrastinate_jobs k WHERE k.lock = j.lock AND k.id > j.id)
           AS followed_by
FROM procrastinate_jobs j
WHERE j.id = %(id)s
FOR UPDATE OF j;

-- name: dashboard_retry_job
-- procrastinate's own retry: failed -> todo now, attempts + 1, a `retried` event.
SELECT procrastinate_retry_job_v2(%(id)s, now(), NULL, NULL, NULL);

-- name: dashboard_run_now
UPDATE procrastinate_jobs SET scheduled_at = now()
WHERE id = %(id)s AND status = 'todo' AND scheduled_at > now();

-- name: dashboard_cancel_job
-- todo -> cancelled (a `cancelled` event); NULL when the job was no longer waiting.
SELECT procrastinate_cancel_job_v1(%(id)s, false, false) AS id;

-- name: dashboard_wake_workers
-- The notification procrastinate sends for a new job, sent at commit: listening workers look
-- for work at once instead of at their next poll.
SELECT pg_notify('procrastinate_queue_v1#' || %(queue)s,
                 json_build_object('type', 'job_inserted', 'job_id', %(id)s)::text),
       pg_notify('procrastinate_any_queue_v1',
                 json_build_object('type', 'job_inserted', 'job_id', %(id)s)::text);

-- name: dashboard_retryable_failed
-- Failed jobs that no later job of the same quotation has followed yet, oldest first; not
-- those of a quotation whose last email may have gone out (retry refuses them: a person
-- checks the provider, then resends).
SELECT j.id FROM procrastinate_jobs j
WHERE j.status = 'failed'
  AND (%(task)s::text IS NULL OR j.task_name = %(task)s)
  AND (%(queue)s::text IS NULL OR j.queue_name = %(queue)s)
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs k WHERE k.lock = j.lock AND k.id > j.id)
  AND NOT EXISTS (SELECT 1 FROM deliveries_awaiting_reconciliation r
                  WHERE j.lock = 'quotation-' || r.quotation_id)
ORDER BY j.id;

-- name: dashboard_retryable_failed_count
-- How many jobs "Retry all failed" would retry, counted up to %(limit)s: the overview shows
-- "N+" past it instead of walking every failed job of the kept history at each refresh.
SELECT count(*) AS n FROM (
    SELECT 1 FROM procrastinate_jobs j
    WHERE j.status = 'failed'
      AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs k WHERE k.lock = j.lock AND k.id > j.id)
      AND NOT EXISTS (SELECT 1 FROM deliveries_awaiting_reconciliation r
                      WHERE j.lock = 'quotation-' || r.quotation_id)
    LIMIT %(limit)s
) retryable;

-- name: dashboard_answers
-- The customers' latest answers (the partial index on response_kind finds them).
SELECT q.id, q.number, q.version, q.customer_name, q.response_kind, q.response_name,
       q.responded_at, q.total, q.currency
FROM quotations q
WHERE q.response_kind IS NOT NULL
ORDER BY q.id DESC
LIMIT %(limit)s;
