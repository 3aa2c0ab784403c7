-- Who did what, read from the audit trail (quotation_events) for the dashboard.

-- name: recent_resends
-- Each resend with who asked (`by`: null from a shell, or for events older than that record),
-- the recipient and what became of its email.
SELECT e.id, e.at, e.quotation_id, q.number, e.detail ->> 'by' AS by,
       coalesce(e.detail ->> 'recipient', q.customer_email) AS recipient, d.state
FROM quotation_events e
JOIN quotations q ON q.id = e.quotation_id
LEFT JOIN deliveries d ON d.id = (e.detail ->> 'delivery_id')::bigint
WHERE e.kind = 'resend_requested'
  AND (%(by)s::text IS NULL OR lower(e.detail ->> 'by') = lower(%(by)s::text))
ORDER BY e.id DESC
LIMIT %(limit)s;

-- name: resends_by_account
-- Resends per account over the resend limits' window: who is close to the limits.
SELECT e.detail ->> 'by' AS by, count(*) AS resends, count(DISTINCT e.quotation_id) AS quotations,
       max(e.at) AS latest
FROM quotation_events e
WHERE e.kind = 'resend_requested' AND e.at > now() - make_interval(secs => %(window_seconds)s)
GROUP BY 1
ORDER BY 2 DESC, 1;
