-- Keyward local store, schema 2.
-- Where a history row comes from: 'sync' (observed from Kinde by a sync, a create, a revoke...)
-- or 'demo' (synthesized by `demo_prefill_history` for the demo sandbox's store only, so that
-- its charts have a past; never written to a real profile's store).
ALTER TABLE history ADD COLUMN source TEXT NOT NULL DEFAULT 'sync';
