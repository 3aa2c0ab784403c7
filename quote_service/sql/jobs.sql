-- Statements about procrastinate's jobs that the project needs (the queue's own SQL is
-- procrastinate's).

-- name: insert_job_failure
INSERT INTO job_failures (job_id, task_name, attempt, quotation_id, error, traceback)
VALUES (%(job_id)s, %(task_name)s, %(attempt)s, %(quotation_id)s, %(error)s, %(traceback)s);

-- name: active_job_for_lock
SELECT id, task_name, status FROM procrastinate_jobs
WHERE lock = %(lock)s AND status IN ('todo', 'doing')
ORDER BY id DESC LIMIT 1;

-- name: lock_attempt
-- The job still runs the attempt that was found (not settled by another pass since, nor
-- retried and taken by a live worker), locked so that nothing else settles it meanwhile. A
-- job locked by a step writing its result is skipped: it is looked at again on the next pass.
SELECT id FROM procrastinate_jobs
WHERE id = %(id)s AND status = 'doing' AND attempts = %(attempts)s
  AND worker_id IS NOT DISTINCT FROM %(worker_id)s
FOR UPDATE SKIP LOCKED;

-- name: claim_attempt
-- A step about to write its result (or a side effect about to leave) checks that its attempt
-- is still the job's current one: a worker cut off long enough to be taken for dead has had
-- its attempt settled and retried elsewhere, and its late work must change nothing. Shared,
-- so that it never waits on procrastinate; settling the attempt (lock_attempt) waits for it.
SELECT id FROM procrastinate_jobs
WHERE id = %(id)s AND status = 'doing' AND attempts = %(attempts)s
  AND worker_id IS NOT DISTINCT FROM %(worker_id)s
FOR SHARE;

-- name: finish_own_attempt
-- procrastinate's finish_job, only while the attempt is still the job's current one: the late
-- answer of an attempt that was taken for lost (and retried, maybe running elsewhere now)
-- changes nothing. No row: it was not the current attempt any more.
-- The job's end frees its lock: the workers of the jobs waiting on it (the send job that the
-- PDF's step deferred, say) are woken, as when a job is deferred; the notification that job's
-- deferral sent came while this one still held the lock, and found nothing to run.
WITH own AS (
    SELECT id, lock FROM procrastinate_jobs
    WHERE id = %(id)s AND status = 'doing' AND attempts = %(attempts)s
      AND worker_id IS NOT DISTINCT FROM %(worker_id)s
    FOR UPDATE
), ended AS (
    SELECT own.id, own.lock,
           procrastinate_finish_job_v1(own.id, %(status)s::procrastinate_job_status,
                                       %(delete_job)s)
    FROM own
)
SELECT ended.id,
       (SELECT count(pg_notify('procrastinate_queue_v1#' || w.queue_name,
                               '{"type": "job_inserted"}'))
        FROM (SELECT DISTINCT queue_name FROM procrastinate_jobs
              WHERE lock = ended.lock AND status = 'todo') w) AS woken
FROM ended;

-- name: retry_own_attempt
-- procrastinate's retry_job, on the same condition as finish_own_attempt.
WITH own AS (
    SELECT id FROM procrastinate_jobs
    WHERE id = %(id)s AND status = 'doing' AND attempts = %(attempts)s
      AND worker_id IS NOT DISTINCT FROM %(worker_id)s
    FOR UPDATE
)
SELECT procrastinate_retry_job_v2(own.id, %(retry_at)s, %(priority)s, %(queue)s, %(lock)s)
FROM own;

-- name: abandoned_quotations
-- Quotations still in a step whose latest step job (making or sending the quotation, not an
-- email about an answer) has ended failed: that job's last failure could not be recorded (or
-- the job failed before its step ran).
SELECT j.id, j.task_name, j.args, j.attempts
FROM quotations q
JOIN LATERAL (
    SELECT id, task_name, args, attempts, status FROM procrastinate_jobs
    WHERE lock = 'quotation-' || q.id AND task_name IN ('generate_pdf', 'send_quotation')
    ORDER BY id DESC LIMIT 1
) j ON true
WHERE q.status IN ('draft', 'queued', 'generating', 'delivering') AND j.status = 'failed'
ORDER BY q.id;

-- name: fetch_job
-- procrastinate's fetch_job, leaving out paused queues: `queues` are the worker's own (NULL:
-- every queue; while some queue is paused, every queue of the service, `service_queues`).
SELECT id, status, task_name, priority, lock, queueing_lock, args, scheduled_at, queue_name,
       attempts, worker_id
FROM procrastinate_fetch_job_v2(
    CASE WHEN NOT EXISTS (SELECT 1 FROM queue_pauses) THEN %(queues)s::varchar[]
         ELSE ARRAY(SELECT q FROM unnest(coalesce(%(queues)s::varchar[],
                                                  %(service_queues)s::varchar[])) AS q
                    WHERE q NOT IN (SELECT queue_name FROM queue_pauses))
    END,
    %(worker_id)s);

-- name: next_job_due
-- Seconds until the next waiting job of these queues may start (NULL: none is scheduled).
SELECT extract(epoch FROM min(scheduled_at) - now())::float8 AS seconds
FROM procrastinate_jobs
WHERE status = 'todo' AND scheduled_at IS NOT NULL
  AND (%(queues)s::varchar[] IS NULL OR queue_name = ANY (%(queues)s::varchar[]));
