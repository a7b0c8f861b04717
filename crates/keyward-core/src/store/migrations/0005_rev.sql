-- Keyward local store: a change cursor. The UI asks for the keys changed since the
-- cursor it last saw, instead of reloading the whole list after every sync.
--
-- `store_rev` holds one store-wide, monotonically increasing counter. Every write that changes
-- a key row's visible data (insert, listing change, detail, names, gone, rotated, status,
-- details owed) gives that row a new `rev`: the triggers below do it, so no write path can
-- forget. Rows that exist when this runs get distinct revs (their kid), so that
-- `rev > 0` lists every key.
ALTER TABLE keys ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
UPDATE keys SET rev = kid;
CREATE INDEX keys_profile_rev ON keys (profile, rev);

CREATE TABLE store_rev (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    rev INTEGER NOT NULL
);
INSERT INTO store_rev (id, rev) VALUES (1, (SELECT COALESCE(MAX(kid), 0) FROM keys));

CREATE TRIGGER keys_rev_insert AFTER INSERT ON keys
BEGIN
    UPDATE store_rev SET rev = rev + 1 WHERE id = 1;
    UPDATE keys SET rev = (SELECT rev FROM store_rev WHERE id = 1) WHERE kid = NEW.kid;
END;

-- `rev` itself is not in the column list, so the trigger's own UPDATE does not fire it again.
CREATE TRIGGER keys_rev_update AFTER UPDATE OF
    name, key_type, status, key_prefix, key_suffix, created_on, last_verified_on,
    last_verified_ip, created_by, api_ids, scopes, verification_count, user_id, org_code,
    owner_name, api_name, gone, rotated_on, needs_detail
ON keys
WHEN NEW.name IS NOT OLD.name OR NEW.key_type IS NOT OLD.key_type
    OR NEW.status IS NOT OLD.status OR NEW.key_prefix IS NOT OLD.key_prefix
    OR NEW.key_suffix IS NOT OLD.key_suffix OR NEW.created_on IS NOT OLD.created_on
    OR NEW.last_verified_on IS NOT OLD.last_verified_on
    OR NEW.last_verified_ip IS NOT OLD.last_verified_ip
    OR NEW.created_by IS NOT OLD.created_by OR NEW.api_ids IS NOT OLD.api_ids
    OR NEW.scopes IS NOT OLD.scopes OR NEW.verification_count IS NOT OLD.verification_count
    OR NEW.user_id IS NOT OLD.user_id OR NEW.org_code IS NOT OLD.org_code
    OR NEW.owner_name IS NOT OLD.owner_name OR NEW.api_name IS NOT OLD.api_name
    OR NEW.gone IS NOT OLD.gone OR NEW.rotated_on IS NOT OLD.rotated_on
    OR NEW.needs_detail IS NOT OLD.needs_detail
BEGIN
    UPDATE store_rev SET rev = rev + 1 WHERE id = 1;
    UPDATE keys SET rev = (SELECT rev FROM store_rev WHERE id = 1) WHERE kid = NEW.kid;
END;

-- When a run finished listing every key (list-first sync): from then on the cache holds every
-- key with what the listing carries, even if the run was cancelled or killed in its details.
ALTER TABLE sync_runs ADD COLUMN listed_at INTEGER;
