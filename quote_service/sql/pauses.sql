-- Paused queues (migrations/0020_queue_control.sql): no worker starts a job of one.

-- name: pause_queue
INSERT INTO queue_pauses (queue_name, paused_by) VALUES (%(queue_name)s, %(paused_by)s)
ON CONFLICT (queue_name) DO NOTHING
RETURNING queue_name;

-- name: resume_queue
-- Resuming wakes the workers of that queue, as a new job would.
WITH resumed AS (
    DELETE FROM queue_pauses WHERE queue_name = %(queue_name)s RETURNING queue_name
)
SELECT queue_name,
       pg_notify('procrastinate_queue_v1#' || queue_name, '{"type": "job_inserted"}'),
       pg_notify('procrastinate_any_queue_v1', '{"type": "job_inserted"}')
FROM resumed;

-- name: list_pauses
SELECT queue_name, paused_at, paused_by FROM queue_pauses ORDER BY queue_name;
