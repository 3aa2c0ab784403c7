-- Statements about procrastinate's jobs that the project needs (the queue's own SQL is
-- procrastinate's).

-- name: insert_job_failure
INSERT INTO job_failures (job_id, task_name, attempt, quotation_id, error, traceback)
VALUES (%(job_id)s, %(task_name)s, %(attempt)s, %(quotation_id)s, %(error)s, %(traceback)s);

-- name: active_job_for_lock
SELECT id, task_name, status FROM procrastinate_jobs
WHERE lock = %(lock)s AND status IN ('todo', 'doing')
ORDER BY id DESC LIMIT 1;

-- name: lock_stalled_job
-- The job still is the stalled attempt that was found: not settled by another pass since, nor
-- retried and taken by a live worker.
SELECT id FROM procrastinate_jobs
WHERE id = %(id)s AND status = 'doing' AND attempts = %(attempts)s
  AND worker_id IS NOT DISTINCT FROM %(worker_id)s
FOR UPDATE;

-- name: abandoned_quotations
-- Quotations still in a step whose latest job has ended failed: that job's last failure could
-- not be recorded (or the job failed before its step ran).
SELECT j.id, j.task_name, j.args, j.attempts
FROM quotations q
JOIN LATERAL (
    SELECT id, task_name, args, attempts, status FROM procrastinate_jobs
    WHERE lock = 'quotation-' || q.id ORDER BY id DESC LIMIT 1
) j ON true
WHERE q.status IN ('queued', 'generating', 'delivering') AND j.status = 'failed'
ORDER BY q.id;
