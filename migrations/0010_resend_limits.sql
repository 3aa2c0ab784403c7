-- Resends are limited per quotation and per recipient over a sliding window
-- (deliver/resend_limits.py counts the `resend` deliveries). Per quotation the existing
-- deliveries_quotation index serves; per recipient, across quotations, this one.
CREATE INDEX deliveries_resends_by_recipient ON deliveries (lower(recipient), created_at)
    WHERE kind = 'resend';

-- The dashboard's "Resends" page lists these events, newest first.
CREATE INDEX quotation_events_resends ON quotation_events (id DESC)
    WHERE kind = 'resend_requested';
