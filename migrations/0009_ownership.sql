-- Who may see a quotation: sales users see the ones they submitted, and their team's when
-- SALES_SEE_TEAM is on (accounts/ownership.py). A team is a name shared by its users; NULL is
-- no team. Viewers and admins see everything.

ALTER TABLE users ADD COLUMN team text CHECK (team <> '' AND length(team) <= 100);

CREATE INDEX users_team ON users (team) WHERE team IS NOT NULL;

-- A sales user's list is their own quotations, newest first.
CREATE INDEX quotations_user_id ON quotations (user_id, id DESC);
