-- Steering the queue: paused queues, and the maintenance routines the workers run between them.

-- A paused queue's waiting jobs stay where they are: no worker starts one until it is resumed;
-- jobs already running finish. Kept in the database, so a pause outlives worker restarts and
-- holds on every machine.
CREATE TABLE queue_pauses (
    queue_name  text PRIMARY KEY,
    paused_at   timestamptz NOT NULL DEFAULT now(),
    paused_by   text NOT NULL
);

-- The workers' own maintenance (stalled jobs, retention) runs outside the job queue, so that a
-- backlog never delays it and it leaves no job rows behind: one row per routine, which the
-- worker that finds it due first claims (moving `due_at` on) and runs.
CREATE TABLE maintenance_runs (
    task         text PRIMARY KEY,
    due_at       timestamptz NOT NULL,
    started_at   timestamptz,
    finished_at  timestamptz,
    worker_id    bigint,
    outcome      text
);

-- An idle worker sleeps until the next retry is due instead of polling.
CREATE INDEX quote_service_jobs_scheduled ON procrastinate_jobs (scheduled_at)
    WHERE status = 'todo' AND scheduled_at IS NOT NULL;
