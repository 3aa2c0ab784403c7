-- The failed attempts of given quotations (docs/sql.md, "Failed quotations and why") without
-- reading every failure ever recorded: job_failures only grows.
CREATE INDEX job_failures_quotation ON job_failures (quotation_id, id);
