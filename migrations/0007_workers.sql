-- Workers: who they are, and when one counts as silent.
--
-- procrastinate knows a worker by an id and a heartbeat only. Each worker process also writes
-- where it runs and what it listens on, so that operators (`quote-service workers`, the
-- dashboard, /metrics) can tell which machine a silent worker was on. The row goes with
-- procrastinate's own when the worker stops or is pruned as dead.

CREATE TABLE worker_processes (
    worker_id    bigint PRIMARY KEY REFERENCES procrastinate_workers (id) ON DELETE CASCADE,
    host         text NOT NULL,
    pid          integer NOT NULL,
    -- NULL: every queue.
    queues       text[],
    concurrency  integer NOT NULL,
    -- When the process started: a worker that registers again (after being taken for dead
    -- while cut off) keeps its start time.
    started_at   timestamptz NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now()
);

-- How long a worker has been silent, as far as the database can tell. A worker cannot send a
-- heartbeat while the server is down, so silence is counted from the server's start at the
-- earliest: after a restart every worker gets STALLED_WORKER_SECONDS to reconnect before its
-- jobs are taken for lost. A worker cut off from a server that stays up is silent as usual.
CREATE FUNCTION worker_silence(last_heartbeat timestamptz) RETURNS interval
LANGUAGE sql STABLE AS $$
    SELECT now() - greatest(last_heartbeat, pg_postmaster_start_time())
$$;

-- Every registered worker with where it runs, its last heartbeat, and what it is running.
CREATE VIEW workers AS
SELECT w.id AS worker_id,
       p.host,
       p.pid,
       p.queues,
       p.concurrency,
       p.started_at,
       w.last_heartbeat,
       worker_silence(w.last_heartbeat) AS silent_for,
       coalesce(j.running, 0) AS jobs_running,
       coalesce(j.jobs, '[]'::jsonb) AS jobs
FROM procrastinate_workers w
LEFT JOIN worker_processes p ON p.worker_id = w.id
LEFT JOIN LATERAL (
    SELECT count(*) AS running,
           jsonb_agg(jsonb_build_object('job_id', j.id, 'task_name', j.task_name,
                                        'queue_name', j.queue_name, 'attempt', j.attempts + 1,
                                        'quotation_id', q.id, 'number', q.number)
                     ORDER BY j.id) AS jobs
    FROM procrastinate_jobs j
    LEFT JOIN quotations q ON q.id = job_quotation_id(j.args)
    WHERE j.status = 'doing' AND j.worker_id = w.id
) j ON true;

-- Running jobs learn how long their worker has been silent (restart-aware, as above), and the
-- stalled ones are those of a worker silent for 30 seconds (STALLED_WORKER_SECONDS' default;
-- the dashboard and /metrics apply the configured value to running_jobs) or gone.
CREATE OR REPLACE VIEW running_jobs AS
SELECT j.id AS job_id,
       j.queue_name,
       j.task_name,
       j.lock,
       j.args,
       j.attempts,
       j.worker_id,
       w.last_heartbeat,
       now() - w.last_heartbeat AS heartbeat_age,
       j.worker_id IS NULL OR w.id IS NULL AS worker_gone,
       started.at AS started_at,
       job_quotation_id(j.args) AS quotation_id,
       worker_silence(w.last_heartbeat) AS silent_for
FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
LEFT JOIN LATERAL (
    SELECT max(e.at) AS at FROM procrastinate_events e
    WHERE e.job_id = j.id AND e.type = 'started'
) started ON true
WHERE j.status = 'doing';

CREATE OR REPLACE VIEW stalled_jobs AS
SELECT * FROM running_jobs
WHERE worker_gone OR silent_for > interval '30 seconds';
