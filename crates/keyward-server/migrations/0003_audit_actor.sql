-- Keyward Server store, schema 3 (keyward-core's SQLite 0009): who did an audited action. On a
-- Keyward Server, the team member whose token made the request; NULL for the local admin and
-- for what a sync found.
ALTER TABLE audit ADD COLUMN actor TEXT;
