-- Statements on customers (migrations/0021_quotation_life.sql): one row per team and email.

-- name: upsert_customer
-- A submission names its customer by email: the first one creates the customer, later ones
-- bring its details up to date (a locale only when one is given).
INSERT INTO customers (team, name, email, company, address, locale)
VALUES (%(team)s, %(full_name)s, %(email)s, %(company)s, %(address)s, %(locale)s)
ON CONFLICT (coalesce(team, ''), lower(email)) DO UPDATE
SET name = EXCLUDED.name, email = EXCLUDED.email, company = EXCLUDED.company,
    address = EXCLUDED.address, locale = coalesce(EXCLUDED.locale, customers.locale),
    updated_at = now()
RETURNING *;

-- name: get_customer
-- `team` is the reader's (NULL: users without a team); `all_teams` for viewers and admins.
SELECT * FROM customers
WHERE id = %(id)s AND (%(all_teams)s OR team IS NOT DISTINCT FROM %(team)s);

-- name: search_customers
SELECT * FROM customers
WHERE (%(all_teams)s OR team IS NOT DISTINCT FROM %(team)s)
  AND (%(search)s::text IS NULL OR lower(name || ' ' || company || ' ' || email) LIKE %(search)s)
ORDER BY lower(name), id
LIMIT %(limit)s;
