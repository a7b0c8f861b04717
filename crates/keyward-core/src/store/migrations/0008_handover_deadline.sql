-- Keyward local store: a re-issue may give its old key a deadline (Stripe's "old key stops
-- working in 24 hours"). The first sync after `old_expires_at` revokes the old key unless it is
-- revoked already; NULL: no deadline, the admin revokes it.
ALTER TABLE reissues ADD COLUMN old_expires_at INTEGER;
