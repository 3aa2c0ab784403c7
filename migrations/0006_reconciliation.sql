-- Emails whose outcome is unknown: the request to the provider left and no answer came back,
-- so the email may or may not have gone out. Nothing re-sends it or moves its quotation on:
-- the provider's webhook settles it (any event means it was sent), or an operator who checked
-- the provider resends on purpose, which makes a newer delivery. Until then it is listed here,
-- on the dashboard, on /metrics and on the quotation's page.

-- The latest delivery of each quotation when its state is `unknown` (an older one was settled
-- by the resend that followed it). `unknown_since` is when it was parked.
CREATE VIEW deliveries_awaiting_reconciliation AS
SELECT d.quotation_id,
       q.number,
       q.status AS quotation_status,
       d.id AS delivery_id,
       d.kind,
       d.recipient,
       d.provider,
       d.attempts,
       d.last_error,
       d.created_at,
       d.updated_at AS unknown_since
FROM deliveries d
JOIN quotations q ON q.id = d.quotation_id
WHERE d.state = 'unknown'
  AND NOT EXISTS (
      SELECT 1 FROM deliveries later
      WHERE later.quotation_id = d.quotation_id AND later.id > d.id);

-- The dashboard and every /metrics scrape read the view: the few parked deliveries are found
-- without scanning all the emails ever sent.
CREATE INDEX deliveries_unknown ON deliveries (quotation_id, id) WHERE state = 'unknown';
