-- The workers' maintenance routines (migrations/0020_queue_control.sql): one row each.

-- name: claim_maintenance
-- The routine is due: this worker runs it, and the next run is due `every` seconds from now.
-- No row comes back when it is not due (another worker claimed it first).
INSERT INTO maintenance_runs AS m (task, due_at, started_at, worker_id)
VALUES (%(task)s, now() + make_interval(secs => %(every)s), now(), %(worker_id)s)
ON CONFLICT (task) DO UPDATE
    SET due_at = EXCLUDED.due_at, started_at = EXCLUDED.started_at,
        worker_id = EXCLUDED.worker_id
    WHERE m.due_at <= now()
RETURNING task;

-- name: finish_maintenance
UPDATE maintenance_runs SET finished_at = now(), outcome = %(outcome)s WHERE task = %(task)s;

-- name: maintenance_due
-- Seconds until the routine is due (negative: overdue; NULL: never run).
SELECT extract(epoch FROM due_at - now())::float8 AS seconds
FROM maintenance_runs WHERE task = %(task)s;

-- name: list_maintenance
SELECT task, due_at, started_at, finished_at, worker_id, outcome,
       now() - finished_at AS since_finished
FROM maintenance_runs ORDER BY task;
