-- Keyward local store: closing a re-issue's handover (its old key revoked) is audited as
-- `handover_close`; rows written before the rename said `migration_close`.
UPDATE audit SET action = 'handover_close' WHERE action = 'migration_close';
