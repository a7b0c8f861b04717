-- Keyward local store: alerts shown as one summary. A flood of one policy kind (a fresh
-- profile's old keys all past the rotation policy) is stored per key, as before, and shown as
-- one summary alert: `summarized_by` names it. Lists and counts show the summary; a key's own
-- alerts still include its member.
ALTER TABLE alerts ADD COLUMN summarized_by INTEGER;
CREATE INDEX alerts_summarized_by ON alerts (summarized_by) WHERE summarized_by IS NOT NULL;
