-- Statements about the workers themselves: registration, heartbeat, silence (see
-- migrations/0007_workers.sql for the `workers` view and `worker_silence`).

-- name: describe_worker
INSERT INTO worker_processes (worker_id, host, pid, queues, concurrency, started_at)
VALUES (%(worker_id)s, %(host)s, %(pid)s, %(queues)s, %(concurrency)s, %(started_at)s)
ON CONFLICT (worker_id) DO NOTHING;

-- name: beat_worker
-- procrastinate's heartbeat, telling whether the worker is still registered: a worker cut off
-- for long was pruned as dead by the others and must register again.
UPDATE procrastinate_workers SET last_heartbeat = now()
WHERE id = %(worker_id)s
RETURNING id;

-- name: jobs_of_worker
SELECT id, attempts FROM procrastinate_jobs
WHERE status = 'doing' AND worker_id = %(worker_id)s;

-- name: disown_job
-- A job `doing` under a worker that does not run it loses its worker: the stalled-job check
-- then settles it like the job of a dead worker.
UPDATE procrastinate_jobs SET worker_id = NULL
WHERE id = %(id)s AND status = 'doing' AND attempts = %(attempts)s
  AND worker_id = %(worker_id)s
RETURNING id;

-- name: jobs_of_silent_workers
-- Running jobs whose worker has been silent (worker_silence) for longer than `seconds`, or is
-- gone: procrastinate's get_stalled_jobs, with silence counted from the server's start.
SELECT j.id, j.status, j.task_name, j.priority, j.lock, j.queueing_lock, j.args,
       j.scheduled_at, j.queue_name, j.attempts, j.worker_id
FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
WHERE j.status = 'doing'
  AND (w.id IS NULL OR worker_silence(w.last_heartbeat) > make_interval(secs => %(seconds)s))
ORDER BY j.id;

-- name: prune_silent_workers
DELETE FROM procrastinate_workers
WHERE worker_silence(last_heartbeat) > make_interval(secs => %(seconds)s)
RETURNING id AS worker_id;

-- name: list_workers
SELECT * FROM workers ORDER BY host NULLS LAST, pid, worker_id;
