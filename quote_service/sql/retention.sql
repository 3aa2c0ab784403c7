-- The retention of procrastinate_jobs (quote_service/retention.py), a batch per transaction.

-- name: delete_finished_jobs_batch
-- The next `limit` jobs after `after` in id order; of those, the finished ones whose last
-- event is older than `hours` go, with their events (ON DELETE CASCADE). The rule of
-- procrastinate's delete_old_jobs (which needs an event, and takes the latest one), one bounded
-- slice at a time. The status is checked again by the DELETE itself, so a job retried from the
-- dashboard meanwhile is kept. Returns the last id looked at (NULL: no job after `after`).
WITH scanned AS (
    SELECT j.id, j.status FROM procrastinate_jobs j
    WHERE j.id > %(after)s
    ORDER BY j.id
    LIMIT %(limit)s
), doomed AS (
    SELECT s.id FROM scanned s
    WHERE s.status = ANY(%(statuses)s::procrastinate_job_status[])
      AND (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = s.id)
          < now() - make_interval(hours => %(hours)s)
), deleted AS (
    DELETE FROM procrastinate_jobs j USING doomed d
    WHERE j.id = d.id AND j.status = ANY(%(statuses)s::procrastinate_job_status[])
    RETURNING j.id
)
SELECT (SELECT max(id) FROM scanned) AS last_id, (SELECT count(*) FROM deleted) AS deleted;
