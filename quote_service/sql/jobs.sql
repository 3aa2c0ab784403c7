-- Statements about procrastinate's jobs that the project needs (the queue's own SQL is
-- procrastinate's).

-- name: insert_job_failure
INSERT INTO job_failures (job_id, task_name, attempt, quotation_id, error, traceback)
VALUES (%(job_id)s, %(task_name)s, %(attempt)s, %(quotation_id)s, %(error)s, %(traceback)s);

-- name: active_job_for_lock
SELECT id, task_name, status FROM procrastinate_jobs
WHERE lock = %(lock)s AND status IN ('todo', 'doing')
ORDER BY id DESC LIMIT 1;
