-- Operations: what the dashboard, /metrics and operators' SQL read (docs/sql.md shows them in use).

-- The quotation a job works for: pipeline jobs carry `quotation_id` in their args. NULL for any
-- other job, and for args that do not hold a whole number, so that one odd job cannot make a
-- query that lists jobs fail.
CREATE FUNCTION job_quotation_id(args jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN args ->> 'quotation_id' ~ '^[0-9]{1,18}$'
                THEN (args ->> 'quotation_id')::bigint END
$$;

-- Every job in `doing`, with its worker's last heartbeat. Workers have no name in
-- procrastinate's schema, only an id. procrastinate sets worker_id to NULL when it prunes a
-- worker's row, so `worker_gone` is a job whose worker was taken for dead and removed.
CREATE VIEW running_jobs AS
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
       job_quotation_id(j.args) AS quotation_id
FROM procrastinate_jobs j
LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
LEFT JOIN LATERAL (
    SELECT max(e.at) AS at FROM procrastinate_events e
    WHERE e.job_id = j.id AND e.type = 'started'
) started ON true
WHERE j.status = 'doing';

-- Running jobs whose worker is presumed dead: no heartbeat for 30 seconds (the default of
-- STALLED_WORKER_SECONDS), or gone. The rule of procrastinate's get_stalled_jobs(), which the
-- `retry_stalled_jobs` periodic task calls: what this view lists is what that task retries.
-- The dashboard and /metrics apply the configured STALLED_WORKER_SECONDS to running_jobs.
CREATE VIEW stalled_jobs AS
SELECT * FROM running_jobs
WHERE worker_gone OR heartbeat_age > interval '30 seconds';

-- Each run of a job that ended: from its `started` event to the event that ended that run
-- (succeeded, failed, or deferred_for_retry: a failed attempt that will run again), with its
-- duration. Only as far back as procrastinate_jobs is kept (JOB_RETENTION_HOURS).
CREATE VIEW job_runs AS
SELECT e.job_id,
       j.queue_name,
       j.task_name,
       CASE e.type WHEN 'deferred_for_retry' THEN 'retried' ELSE e.type::text END AS outcome,
       s.at AS started_at,
       e.at AS ended_at,
       extract(epoch FROM e.at - s.at)::float8 AS seconds
FROM procrastinate_events e
JOIN procrastinate_jobs j ON j.id = e.job_id
JOIN LATERAL (
    SELECT max(s.at) AS at FROM procrastinate_events s
    WHERE s.job_id = e.job_id AND s.type = 'started' AND s.at <= e.at
) s ON s.at IS NOT NULL
WHERE e.type IN ('succeeded', 'failed', 'deferred_for_retry');

-- Jobs that finished per minute over the last hour (60 rows, oldest first, empty minutes
-- included): the dashboard's chart.
CREATE VIEW job_throughput AS
SELECT m.minute,
       count(e.id) FILTER (WHERE e.type = 'succeeded') AS succeeded,
       count(e.id) FILTER (WHERE e.type = 'failed') AS failed
FROM generate_series(date_trunc('minute', now()) - interval '59 minutes',
                     date_trunc('minute', now()), interval '1 minute') AS m(minute)
LEFT JOIN procrastinate_events e
       ON e.type IN ('succeeded', 'failed')
      AND e.at >= m.minute AND e.at < m.minute + interval '1 minute'
GROUP BY m.minute;

-- Time from the start of a PDF generation to the stored PDF (render, convert, upload), one row
-- per stored PDF, from the audit trail (kept forever). A PDF found already stored by a retry
-- (`reused`) was not converted by that run and is left out.
CREATE VIEW pdf_conversions AS
SELECT p.quotation_id,
       g.at AS started_at,
       p.at AS stored_at,
       extract(epoch FROM p.at - g.at)::float8 AS seconds
FROM quotation_events p
JOIN LATERAL (
    SELECT g.at FROM quotation_events g
    WHERE g.quotation_id = p.quotation_id AND g.kind = 'generating' AND g.id < p.id
    ORDER BY g.id DESC LIMIT 1
) g ON true
WHERE p.kind = 'pdf_stored'
  AND NOT coalesce((p.detail ->> 'reused')::boolean, false);

-- Reading the queue by time (chart, durations, retention) and jobs by status or quotation
-- (dashboard lists, quotation_pipeline's latest job per lock) without scanning whole tables.
CREATE INDEX quote_service_events_at ON procrastinate_events (at);
CREATE INDEX quote_service_jobs_status_id ON procrastinate_jobs (status, id);
CREATE INDEX quote_service_jobs_lock_id ON procrastinate_jobs (lock, id);
CREATE INDEX quotations_sent_at ON quotations (sent_at) WHERE sent_at IS NOT NULL;
