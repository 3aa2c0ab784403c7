-- A quotation's locale (BCP 47, such as de-DE): the formatting of its amounts and dates and the
-- language of its document's words and of its customer's emails. Quotations made before it
-- was recorded were written in British English, so that is what they keep, and what a row
-- written without one gets; the service always names it (its LOCALE unless the submission
-- says).
ALTER TABLE quotations ADD COLUMN locale text NOT NULL DEFAULT 'en-GB';
