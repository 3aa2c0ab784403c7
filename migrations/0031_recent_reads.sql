-- Indexes for the documented queries that read a recent window of a table that only grows
-- (docs/sql.md): partial, so that the events of a submission, which they do not cover, cost no
-- index update.

-- The PDFs stored over the last day (pdf_conversions by stored_at).
CREATE INDEX quotation_events_pdf_stored_at ON quotation_events (at) WHERE kind = 'pdf_stored';

-- The emails parked as unknown over the last 30 days.
CREATE INDEX quotation_events_delivery_unknown_at ON quotation_events (at)
    WHERE kind = 'delivery_unknown';

-- The customers' latest answers, newest first.
CREATE INDEX quotations_responded_at ON quotations (responded_at DESC)
    WHERE response_kind IS NOT NULL;
