-- Quotations, their lines, the per-year number counter and the audit trail.
-- Money is NUMERIC everywhere: never float.

CREATE TABLE quotation_counters (
    year        integer PRIMARY KEY,
    last_value  integer NOT NULL CHECK (last_value > 0)
);

CREATE TABLE quotations (
    id                bigserial PRIMARY KEY,
    -- Assigned by the inserting transaction as its last write (the counter row is locked
    -- until commit), so a committed row always has them; NULL is never visible to readers.
    number            text UNIQUE,
    year              integer NOT NULL,
    seq               integer,
    status            text NOT NULL DEFAULT 'queued'
                      CHECK (status IN ('queued', 'generating', 'delivering', 'sent', 'failed')),
    customer_name     text NOT NULL,
    customer_email    text NOT NULL,
    customer_company  text NOT NULL DEFAULT '',
    customer_address  text NOT NULL DEFAULT '',
    currency          char(3) NOT NULL,
    valid_until       date NOT NULL,
    notes             text NOT NULL DEFAULT '',
    template          text NOT NULL DEFAULT 'standard',
    subtotal          numeric(18, 4) NOT NULL,
    discount_total    numeric(18, 4) NOT NULL,
    tax_total         numeric(18, 4) NOT NULL,
    total             numeric(18, 4) NOT NULL,
    -- Idempotency-Key of the API request that created it, and a hash of that request's body,
    -- so the same key with another body can be refused (409).
    idempotency_key   text UNIQUE,
    request_hash      text,
    -- Step records: the PDF once stored, and when the email was accepted.
    pdf_key           text,
    pdf_sha256        text,
    pdf_size          bigint,
    pdf_generated_at  timestamptz,
    sent_at           timestamptz,
    -- Failures: the step that failed and why; attempts counts runs of the pipeline's steps.
    failed_step       text,
    last_error        text,
    attempts          integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (year, seq)
);

CREATE INDEX quotations_status_id ON quotations (status, id DESC);

CREATE TABLE quotation_lines (
    quotation_id  bigint NOT NULL REFERENCES quotations (id),
    position      integer NOT NULL,
    description   text NOT NULL,
    quantity      numeric(18, 4) NOT NULL,
    unit_price    numeric(18, 4) NOT NULL,
    tax_rate      numeric(7, 4) NOT NULL,
    discount_pct  numeric(7, 4) NOT NULL,
    net           numeric(18, 4) NOT NULL,
    tax           numeric(18, 4) NOT NULL,
    total         numeric(18, 4) NOT NULL,
    PRIMARY KEY (quotation_id, position)
);

-- One row per email attempt series: the first delivery and each resend.
CREATE TABLE deliveries (
    id                   bigserial PRIMARY KEY,
    quotation_id         bigint NOT NULL REFERENCES quotations (id),
    kind                 text NOT NULL DEFAULT 'initial' CHECK (kind IN ('initial', 'retry', 'resend')),
    recipient            text NOT NULL,
    provider             text,
    -- pending: not tried; sending: a request left and no answer was recorded yet;
    -- accepted: the provider took it; unknown: the outcome could not be known (never re-sent
    -- automatically); failed: refused; delivered/bounced/dropped...: provider events.
    state                text NOT NULL DEFAULT 'pending'
                         CHECK (state IN ('pending', 'sending', 'accepted', 'unknown', 'failed',
                                          'processed', 'delivered', 'deferred', 'bounced',
                                          'dropped', 'spam')),
    provider_message_id  text,
    attempts             integer NOT NULL DEFAULT 0,
    last_error           text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    accepted_at          timestamptz,
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX deliveries_quotation ON deliveries (quotation_id);
CREATE UNIQUE INDEX deliveries_one_initial ON deliveries (quotation_id) WHERE kind = 'initial';
CREATE INDEX deliveries_provider_message ON deliveries (provider_message_id);

-- The audit trail: every status change and every step's outcome.
CREATE TABLE quotation_events (
    id            bigserial PRIMARY KEY,
    quotation_id  bigint NOT NULL REFERENCES quotations (id),
    at            timestamptz NOT NULL DEFAULT now(),
    kind          text NOT NULL,
    status        text,
    job_id        bigint,
    detail        jsonb NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX quotation_events_quotation ON quotation_events (quotation_id, id);

-- procrastinate keeps no error text: each failed attempt's error and traceback is kept here.
CREATE TABLE job_failures (
    id            bigserial PRIMARY KEY,
    job_id        bigint NOT NULL,
    task_name     text NOT NULL,
    attempt       integer NOT NULL,
    quotation_id  bigint REFERENCES quotations (id),
    error         text NOT NULL,
    traceback     text NOT NULL DEFAULT '',
    at            timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX job_failures_job ON job_failures (job_id, id);
CREATE INDEX job_failures_at ON job_failures (at DESC);
