-- The row triggers of 0033 with their upserts written in them. Through the SQL-language
-- helpers they called, each upsert was parsed and planned again at every row (a SQL function
-- keeps its plan only for the one call); a PL/pgSQL statement is planned once per session.
-- Measured on submit.sql at batches of 16 (docs/benchmarks.md): the counts cost about 0.12 ms
-- of database CPU per submission through the helpers and about 0.03 ms now.

CREATE OR REPLACE FUNCTION count_quotation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO quotation_status_counts AS c (status, slot, n)
        VALUES (OLD.status, counter_slot(), -1)
        ON CONFLICT (status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO quotation_status_counts AS c (status, slot, n)
        VALUES (NEW.status, counter_slot(), 1)
        ON CONFLICT (status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION count_job() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO job_counts AS c (queue_name, task_name, status, slot, n)
        VALUES (OLD.queue_name, OLD.task_name, OLD.status, counter_slot(), -1)
        ON CONFLICT (queue_name, task_name, status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO job_counts AS c (queue_name, task_name, status, slot, n)
        VALUES (NEW.queue_name, NEW.task_name, NEW.status, counter_slot(), 1)
        ON CONFLICT (queue_name, task_name, status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$;

DROP FUNCTION add_quotation_count(text, integer);
DROP FUNCTION add_job_count(text, text, procrastinate_job_status, integer);
