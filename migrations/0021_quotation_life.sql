-- The quotation's life beyond `sent`: drafts, the customer's answer, expiry, revisions, and
-- the customers themselves.

-- Customers, stored once per team (NULL: users without a team) by email, case-insensitively.
-- A submission with a known email links to its customer and brings the details up to date.
CREATE TABLE customers (
    id          bigserial PRIMARY KEY,
    team        text,
    name        text NOT NULL,
    email       text NOT NULL,
    company     text NOT NULL DEFAULT '',
    address     text NOT NULL DEFAULT '',
    locale      text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX customers_team_email ON customers (coalesce(team, ''), lower(email));

ALTER TABLE quotations
    -- Statuses: draft -> generating -> ready (a draft's PDF, not sent) -> delivering -> sent,
    -- or queued -> generating -> delivering -> sent; failed from any step; expired (past
    -- valid_until without an answer); superseded (a newer version replaced it).
    DROP CONSTRAINT quotations_status_check,
    ADD CONSTRAINT quotations_status_check CHECK (status IN (
        'draft', 'queued', 'generating', 'ready', 'delivering', 'sent', 'failed', 'expired',
        'superseded')),
    -- A draft is made and stored, not sent: its PDF waits for someone to send it.
    ADD COLUMN draft boolean NOT NULL DEFAULT false,
    -- Versions share the number: v1, then each revision.
    ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    ADD COLUMN previous_version_id bigint REFERENCES quotations (id),
    -- Each edit of a draft renders a new PDF, kept under a key of its own (storage never
    -- replaces an object): the rendering counts them.
    ADD COLUMN rendering integer NOT NULL DEFAULT 1 CHECK (rendering >= 1),
    ADD COLUMN customer_id bigint REFERENCES customers (id),
    -- The customer's answer, given once through an email's link.
    ADD COLUMN response_kind text CHECK (response_kind IN ('accepted', 'declined')),
    ADD COLUMN response_name text,
    ADD COLUMN response_comment text,
    ADD COLUMN responded_at timestamptz,
    ADD COLUMN response_delivery_id bigint REFERENCES deliveries (id),
    ADD COLUMN expired_at timestamptz,
    ADD CONSTRAINT quotations_response_complete CHECK (
        (response_kind IS NULL) = (responded_at IS NULL));

-- One number, many versions.
ALTER TABLE quotations DROP CONSTRAINT quotations_number_key;
ALTER TABLE quotations DROP CONSTRAINT quotations_year_seq_key;
CREATE UNIQUE INDEX quotations_number_version ON quotations (number, version);
CREATE UNIQUE INDEX quotations_year_seq_version ON quotations (year, seq, version);
-- At most one newer version of each version.
CREATE UNIQUE INDEX quotations_previous_version ON quotations (previous_version_id)
    WHERE previous_version_id IS NOT NULL;

CREATE INDEX quotations_customer ON quotations (customer_id, id DESC);
CREATE INDEX quotations_response ON quotations (response_kind, id DESC)
    WHERE response_kind IS NOT NULL;
-- The expiry routine's candidates: sent or prepared, unanswered, by date.
CREATE INDEX quotations_expiring ON quotations (valid_until)
    WHERE status IN ('draft', 'ready', 'sent') AND response_kind IS NULL;

-- Search over number, customer name, company and email: trigram indexes find substrings.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE FUNCTION quotation_search_text(number text, name text, company text, email text)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT lower(coalesce(number, '') || ' ' || name || ' ' || company || ' ' || email)
$$;
CREATE INDEX quotations_search ON quotations USING gin (
    quotation_search_text(number, customer_name, customer_company, customer_email)
    gin_trgm_ops);
CREATE INDEX customers_search ON customers USING gin (
    lower(name || ' ' || company || ' ' || email) gin_trgm_ops);

-- Emails about an answer (to the customer, to the sales user) are deliveries too, so they get
-- the same once-only sending; only a quotation's own emails count as its delivery.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_kind_check,
    ADD CONSTRAINT deliveries_kind_check CHECK (kind IN (
        'initial', 'retry', 'resend', 'answer_confirmation', 'answer_notice'));

CREATE OR REPLACE VIEW deliveries_awaiting_reconciliation AS
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
  -- An answer's email awaits on its own; a quotation's email until a later one replaces it.
  AND NOT (d.kind IN ('initial', 'retry', 'resend') AND EXISTS (
      SELECT 1 FROM deliveries later
      WHERE later.quotation_id = d.quotation_id AND later.id > d.id
        AND later.kind IN ('initial', 'retry', 'resend')));

-- The pipeline view's latest delivery is the quotation's own email, not an answer's.
CREATE OR REPLACE VIEW quotation_pipeline AS
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
       j.scheduled_at AS job_scheduled_at,
       q.version,
       q.response_kind
FROM quotations q
LEFT JOIN LATERAL (
    SELECT * FROM deliveries d
    WHERE d.quotation_id = q.id AND d.kind IN ('initial', 'retry', 'resend')
    ORDER BY d.id DESC LIMIT 1
) d ON true
LEFT JOIN LATERAL (
    SELECT * FROM procrastinate_jobs j
    WHERE j.lock = 'quotation-' || q.id
    ORDER BY j.id DESC LIMIT 1
) j ON true;
