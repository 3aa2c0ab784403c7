-- Views for operators. Each is documented in the README's "Inspecting with SQL" section.

-- Each quotation with its status, step timestamps, and its latest job's status and attempts.
CREATE VIEW quotation_pipeline AS
SELECT q.id,
       q.number,
       q.status,
       q.customer_name,
       q.customer_email,
       q.currency,
       q.total,
       q.created_at,
       q.pdf_generated_at,
       q.sent_at,
       q.sent_at - q.created_at AS submit_to_sent,
       q.failed_step,
       q.last_error,
       q.attempts,
       q.pdf_key,
       d.state AS delivery_state,
       d.provider_message_id,
       j.id AS job_id,
       j.task_name AS job_task,
       j.status AS job_status,
       j.attempts AS job_attempts,
       j.scheduled_at AS job_scheduled_at
FROM quotations q
LEFT JOIN LATERAL (
    SELECT * FROM deliveries d WHERE d.quotation_id = q.id ORDER BY d.id DESC LIMIT 1
) d ON true
LEFT JOIN LATERAL (
    SELECT * FROM procrastinate_jobs j
    WHERE j.lock = 'quotation-' || q.id
    ORDER BY j.id DESC LIMIT 1
) j ON true;

-- Jobs per queue and status, with the age of the oldest one.
CREATE VIEW queue_summary AS
SELECT queue_name,
       status,
       count(*) AS jobs,
       min(scheduled_at) FILTER (WHERE status = 'todo') AS oldest_scheduled_at
FROM procrastinate_jobs
GROUP BY queue_name, status;

-- Failed attempts of the last 7 days, newest first, with the error and the quotation.
CREATE VIEW recent_failures AS
SELECT f.at,
       f.job_id,
       f.task_name,
       f.attempt,
       q.number,
       q.status AS quotation_status,
       f.error
FROM job_failures f
LEFT JOIN quotations q ON q.id = f.quotation_id
WHERE f.at > now() - interval '7 days'
ORDER BY f.at DESC;
