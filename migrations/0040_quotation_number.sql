-- A quotation's number from its year and sequence, in SQL, so that the submitting statement
-- (quote_service/sql/submit.sql) can number the row it inserts: `Q-2026-0017`, growing past
-- 9999 as `Q-2026-10000` (not lpad(), which truncates). submit/numbering.py formats the same.
CREATE FUNCTION quotation_number(year integer, seq bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'Q-' || year || '-' || CASE WHEN seq < 10000 THEN lpad(seq::text, 4, '0')
                                   ELSE seq::text END;
