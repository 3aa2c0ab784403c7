-- Idempotency keys belong to the account that sent them: two API clients may both use
-- "order-1", and each gets its own quotation. A quotation records who submitted it.

ALTER TABLE quotations ADD COLUMN user_id bigint REFERENCES users (id);

-- Quotations submitted before this column existed cannot be attributed to anyone and keep
-- NULL; every quotation inserted from now on must name its submitter. (A NOT NULL column would
-- need an owner for the old rows, and a NOT VALID check would refuse every later update of
-- them, such as a retry.)
CREATE FUNCTION quotations_require_submitter() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.user_id IS NULL THEN
        RAISE EXCEPTION 'null value in column "user_id" of relation "quotations": a quotation '
                        'needs the user who submitted it'
            USING ERRCODE = 'not_null_violation', TABLE = 'quotations', COLUMN = 'user_id';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER quotations_require_submitter
BEFORE INSERT OR UPDATE OF user_id ON quotations
FOR EACH ROW EXECUTE FUNCTION quotations_require_submitter();

-- Unique per (user, key) instead of across all users. The old rows' keys (user NULL) are no
-- longer matched by anyone: their senders are unknown.
ALTER TABLE quotations DROP CONSTRAINT quotations_idempotency_key_key;
CREATE UNIQUE INDEX quotations_user_idempotency_key ON quotations (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
