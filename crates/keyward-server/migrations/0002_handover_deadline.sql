-- Keyward Server store, schema 2 (keyward-core's SQLite 0008): a re-issue may give its old key
-- a deadline. The first sync after `old_expires_at` revokes the old key unless it is revoked
-- already; NULL: no deadline, the admin revokes it.
ALTER TABLE reissues ADD COLUMN old_expires_at BIGINT;
