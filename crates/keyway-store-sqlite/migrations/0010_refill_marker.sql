-- The refill job's handled date, stored as the PostgreSQL adapter stores it: the UTC midnight of
-- the date in Unix ms (`keyway_domain::credits::refill_marker`), so both adapters share one rule.
ALTER TABLE keys ADD COLUMN last_refill_at INTEGER;
UPDATE keys SET last_refill_at = CAST(strftime('%s', last_refill_on) AS INTEGER) * 1000
 WHERE last_refill_on IS NOT NULL;
ALTER TABLE keys DROP COLUMN last_refill_on;
