-- One link per delivery (each email), for its customer, who has no account: `/q/<token>`.
-- The token is random and stored only as its sha256; it expires PDF_LINK_DAYS after the
-- email was sent and can be revoked, one delivery's or all of a quotation's. It replaces the
-- HMAC of the quotation that every email of a quotation shared, which never expired and
-- could not be withdrawn. The row is the customer's handle on the quotation: what later
-- pages for the customer (an answer, a newer version) hang on.

CREATE TABLE delivery_links (
    id            bigserial PRIMARY KEY,
    delivery_id   bigint NOT NULL UNIQUE REFERENCES deliveries (id),
    quotation_id  bigint NOT NULL REFERENCES quotations (id),
    token_hash    text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    -- Who revoked it: an account's email, or NULL from a shell.
    revoked_by    text
);

CREATE INDEX delivery_links_quotation ON delivery_links (quotation_id);
