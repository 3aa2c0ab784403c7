-- Counts that the dashboard and /metrics read at every refresh, kept up to date by triggers in
-- the writers' own transactions, so that a read costs the same at a thousand quotations and at
-- a million: quotations per status, jobs per queue, task and status, and the two histograms
-- over the whole history (PDF conversion time, submit-to-sent time).
--
-- Each count is split into slots, one per database session (pg_backend_pid() % 256), and
-- readers sum the slots. With one row per count, every submission would lock the same
-- ('queued') row from its INSERT until its commit, and submissions would queue behind each
-- other; with a slot per session, concurrent transactions touch different rows.
--
-- recount_counters() rebuilds every count from the tables themselves: run by this migration,
-- after a bulk load that bypassed triggers, or to check the counts (it takes a SHARE lock on the
-- counted tables while it runs, so writers wait for it).

CREATE FUNCTION counter_slot() RETURNS integer
LANGUAGE sql STABLE AS $$ SELECT pg_backend_pid() % 256 $$;

CREATE TABLE quotation_status_counts (
    status  text NOT NULL,
    slot    integer NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (status, slot)
);

CREATE TABLE job_counts (
    queue_name  text NOT NULL,
    task_name   text NOT NULL,
    status      procrastinate_job_status NOT NULL,
    slot        integer NOT NULL,
    n           bigint NOT NULL,
    PRIMARY KEY (queue_name, task_name, status, slot)
);

-- A histogram's bucket bounds (seconds); quote_service/web/metrics.py exposes the same ones.
CREATE TABLE histogram_bounds (
    metric  text PRIMARY KEY,
    bounds  float8[] NOT NULL
);

INSERT INTO histogram_bounds (metric, bounds) VALUES
    ('conversion_seconds', '{0.25, 0.5, 1, 2, 5, 10, 30, 60, 120}'),
    ('submit_to_sent_seconds', '{1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}');

-- Per bucket (`le`: the smallest bound at or above the value, 'Infinity' past the last), how
-- many observations fell in it and their sum; not cumulative: readers add the buckets up.
CREATE TABLE histogram_counts (
    metric  text NOT NULL REFERENCES histogram_bounds (metric),
    le      float8 NOT NULL,
    slot    integer NOT NULL,
    n       bigint NOT NULL,
    total   float8 NOT NULL,
    PRIMARY KEY (metric, le, slot)
);

CREATE FUNCTION histogram_bucket(metric text, seconds float8) RETURNS float8
LANGUAGE sql STABLE AS $$
    SELECT coalesce(min(b), 'Infinity') FROM histogram_bounds h, unnest(h.bounds) AS b
    WHERE h.metric = histogram_bucket.metric AND histogram_bucket.seconds <= b
$$;

CREATE FUNCTION observe(metric text, seconds float8) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO histogram_counts AS c (metric, le, slot, n, total)
    VALUES (observe.metric, histogram_bucket(observe.metric, observe.seconds), counter_slot(), 1,
            observe.seconds)
    ON CONFLICT (metric, le, slot) DO UPDATE SET n = c.n + 1, total = c.total + EXCLUDED.total
$$;

-- The triggers of a counted table: after each statement, the rows it added (+1) and removed
-- (-1), grouped by the counted columns, added to this session's slot. TG_ARGV[0] is the counts
-- table, TG_ARGV[1] the counted columns (the same names in both tables).
CREATE FUNCTION count_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changes text := CASE TG_OP
        WHEN 'INSERT' THEN 'SELECT %2$s, 1 AS delta FROM new_rows'
        WHEN 'DELETE' THEN 'SELECT %2$s, -1 AS delta FROM old_rows'
        ELSE 'SELECT %2$s, 1 AS delta FROM new_rows UNION ALL SELECT %2$s, -1 FROM old_rows'
    END;
BEGIN
    EXECUTE format(
        'INSERT INTO %1$I AS c (%2$s, slot, n) '
        'SELECT %2$s, counter_slot(), sum(delta) FROM (' || changes || ') changes '
        'GROUP BY %2$s HAVING sum(delta) <> 0 '
        'ON CONFLICT (%2$s, slot) DO UPDATE SET n = c.n + EXCLUDED.n',
        TG_ARGV[0], TG_ARGV[1]);
    RETURN NULL;
END
$$;

-- The counted tables: quotations per status, and jobs per queue, task and status
-- (procrastinate's own statements, defer, fetch, finish, retry, cancel and the retention's
-- deletes, go through these like any other). Three triggers each: a trigger with transition
-- tables serves one event.
DO $$
DECLARE
    counted record;
    event text;
BEGIN
    FOR counted IN
        SELECT * FROM (VALUES ('quotations', 'quotation_status_counts', 'status'),
                              ('procrastinate_jobs', 'job_counts', 'queue_name, task_name, status')
        ) AS t(tbl, counts, columns)
    LOOP
        FOREACH event IN ARRAY ARRAY['insert', 'update', 'delete'] LOOP
            EXECUTE format(
                'CREATE TRIGGER %1$s_count_%2$s AFTER %2$s ON %1$I REFERENCING %3$s '
                'FOR EACH STATEMENT EXECUTE FUNCTION count_rows(%4$L, %5$L)',
                counted.tbl, event,
                CASE event WHEN 'insert' THEN 'NEW TABLE AS new_rows'
                           WHEN 'delete' THEN 'OLD TABLE AS old_rows'
                           ELSE 'OLD TABLE AS old_rows NEW TABLE AS new_rows' END,
                counted.counts, counted.columns);
        END LOOP;
    END LOOP;
END
$$;

-- A stored PDF that was converted (not one a retry found already stored): the time since the
-- latest `generating` event of its quotation, as the view pdf_conversions computes it.
CREATE FUNCTION observe_conversion() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz;
BEGIN
    SELECT g.at INTO started FROM quotation_events g
    WHERE g.quotation_id = NEW.quotation_id AND g.kind = 'generating' AND g.id < NEW.id
    ORDER BY g.id DESC LIMIT 1;
    IF started IS NOT NULL THEN
        PERFORM observe('conversion_seconds', extract(epoch FROM NEW.at - started)::float8);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER quotation_events_observe_conversion AFTER INSERT ON quotation_events
FOR EACH ROW WHEN (NEW.kind = 'pdf_stored'
                   AND NOT coalesce((NEW.detail ->> 'reused')::boolean, false))
EXECUTE FUNCTION observe_conversion();

-- sent_at is set once, when the first email is accepted.
CREATE FUNCTION observe_submit_to_sent() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM observe('submit_to_sent_seconds',
                    extract(epoch FROM NEW.sent_at - NEW.created_at)::float8);
    RETURN NULL;
END
$$;

CREATE TRIGGER quotations_observe_submit_to_sent AFTER UPDATE OF sent_at ON quotations
FOR EACH ROW WHEN (OLD.sent_at IS NULL AND NEW.sent_at IS NOT NULL)
EXECUTE FUNCTION observe_submit_to_sent();
CREATE TRIGGER quotations_observe_submit_to_sent_insert AFTER INSERT ON quotations
FOR EACH ROW WHEN (NEW.sent_at IS NOT NULL)
EXECUTE FUNCTION observe_submit_to_sent();

CREATE FUNCTION recount_counters() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE quotations, quotation_events, procrastinate_jobs IN SHARE MODE;
    DELETE FROM quotation_status_counts;
    INSERT INTO quotation_status_counts (status, slot, n)
    SELECT status, 0, count(*) FROM quotations GROUP BY status;
    DELETE FROM job_counts;
    INSERT INTO job_counts (queue_name, task_name, status, slot, n)
    SELECT queue_name, task_name, status, 0, count(*) FROM procrastinate_jobs
    GROUP BY queue_name, task_name, status;
    DELETE FROM histogram_counts;
    INSERT INTO histogram_counts (metric, le, slot, n, total)
    SELECT 'conversion_seconds', histogram_bucket('conversion_seconds', seconds), 0, count(*),
           sum(seconds)
    FROM pdf_conversions GROUP BY 2;
    INSERT INTO histogram_counts (metric, le, slot, n, total)
    SELECT 'submit_to_sent_seconds', histogram_bucket('submit_to_sent_seconds', seconds), 0,
           count(*), sum(seconds)
    FROM (SELECT extract(epoch FROM sent_at - created_at)::float8 AS seconds
          FROM quotations WHERE sent_at IS NOT NULL) sent
    GROUP BY 2;
END
$$;

SELECT recount_counters();

-- The queue's depth from the counts; the age of the oldest scheduled job from the partial
-- index on todo jobs' scheduled_at (0020). Same columns as before.
CREATE OR REPLACE VIEW queue_summary AS
SELECT c.queue_name::varchar(128) AS queue_name,
       c.status,
       c.jobs,
       o.oldest_scheduled_at
FROM (
    SELECT queue_name, status, sum(n)::bigint AS jobs FROM job_counts
    GROUP BY queue_name, status HAVING sum(n) > 0
) c
LEFT JOIN LATERAL (
    SELECT min(j.scheduled_at) AS oldest_scheduled_at FROM procrastinate_jobs j
    WHERE c.status = 'todo' AND j.status = 'todo' AND j.scheduled_at IS NOT NULL
      AND j.queue_name = c.queue_name
) o ON true;

-- The chart: the last hour's ending events read once through the index on `at` and grouped by
-- minute, instead of a range join per minute (which made the planner's estimate, and so its
-- JIT compilation, grow with the table). Same columns as before.
CREATE OR REPLACE VIEW job_throughput AS
SELECT m.minute,
       coalesce(c.succeeded, 0) AS succeeded,
       coalesce(c.failed, 0) AS failed
FROM generate_series(date_trunc('minute', now()) - interval '59 minutes',
                     date_trunc('minute', now()), interval '1 minute') AS m(minute)
LEFT JOIN (
    SELECT date_trunc('minute', e.at) AS minute,
           count(*) FILTER (WHERE e.type = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE e.type = 'failed') AS failed
    FROM procrastinate_events e
    WHERE e.type IN ('succeeded', 'failed')
      AND e.at >= date_trunc('minute', now()) - interval '59 minutes'
    GROUP BY 1
) c ON c.minute = m.minute;
