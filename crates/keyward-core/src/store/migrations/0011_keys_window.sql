-- Keyward local store: the keys table's window (issue 19). The table asks for the rows of its
-- visible window (`keys_window`), so the list, its search and its sorts live here, not in the
-- webview.
--
-- One index per sort of the table: (profile, column, id) serves both directions, ties by id.
CREATE INDEX keys_sort_name ON keys (profile, name COLLATE NOCASE, id);
CREATE INDEX keys_sort_owner ON keys (profile, owner_name COLLATE NOCASE, id);
CREATE INDEX keys_sort_api ON keys (profile, api_name COLLATE NOCASE, id);
CREATE INDEX keys_sort_status ON keys (profile, status, id);
CREATE INDEX keys_sort_created ON keys (profile, created_on, id);
CREATE INDEX keys_sort_verified ON keys (profile, last_verified_on, id);
CREATE INDEX keys_sort_count ON keys (profile, verification_count, id);

-- The search rule (keys/rules.rs): every term a substring of one of the searched fields, case
-- insensitive. A trigram index finds the rows holding a term of 3 or more characters; a term
-- is one phrase, and a phrase never spans two columns, so a term never spans two fields.
-- External content: the text stays in `keys`, the triggers keep the index in step.
CREATE VIRTUAL TABLE keys_fts USING fts5 (
    name, key_prefix, key_suffix, id, owner_name, api_name,
    content = 'keys', content_rowid = 'kid', tokenize = 'trigram case_sensitive 0'
);
INSERT INTO keys_fts (keys_fts) VALUES ('rebuild');

CREATE TRIGGER keys_fts_insert AFTER INSERT ON keys
BEGIN
    INSERT INTO keys_fts (rowid, name, key_prefix, key_suffix, id, owner_name, api_name)
    VALUES (NEW.kid, NEW.name, NEW.key_prefix, NEW.key_suffix, NEW.id, NEW.owner_name,
            NEW.api_name);
END;

CREATE TRIGGER keys_fts_delete AFTER DELETE ON keys
BEGIN
    INSERT INTO keys_fts (keys_fts, rowid, name, key_prefix, key_suffix, id, owner_name, api_name)
    VALUES ('delete', OLD.kid, OLD.name, OLD.key_prefix, OLD.key_suffix, OLD.id, OLD.owner_name,
            OLD.api_name);
END;

CREATE TRIGGER keys_fts_update AFTER UPDATE OF name, key_prefix, key_suffix, id, owner_name,
    api_name ON keys
WHEN NEW.name IS NOT OLD.name OR NEW.key_prefix IS NOT OLD.key_prefix
    OR NEW.key_suffix IS NOT OLD.key_suffix OR NEW.id IS NOT OLD.id
    OR NEW.owner_name IS NOT OLD.owner_name OR NEW.api_name IS NOT OLD.api_name
BEGIN
    INSERT INTO keys_fts (keys_fts, rowid, name, key_prefix, key_suffix, id, owner_name, api_name)
    VALUES ('delete', OLD.kid, OLD.name, OLD.key_prefix, OLD.key_suffix, OLD.id, OLD.owner_name,
            OLD.api_name);
    INSERT INTO keys_fts (rowid, name, key_prefix, key_suffix, id, owner_name, api_name)
    VALUES (NEW.kid, NEW.name, NEW.key_prefix, NEW.key_suffix, NEW.id, NEW.owner_name,
            NEW.api_name);
END;

-- Keys per (profile, status), kept by triggers: the table's header counts and the total of an
-- unfiltered window without counting 100,000 rows on every call.
CREATE TABLE key_counts (
    profile TEXT    NOT NULL,
    status  TEXT    NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (profile, status)
) WITHOUT ROWID;
INSERT INTO key_counts (profile, status, n)
    SELECT profile, status, COUNT(*) FROM keys GROUP BY profile, status;

CREATE TRIGGER keys_count_insert AFTER INSERT ON keys
BEGIN
    INSERT INTO key_counts (profile, status, n) VALUES (NEW.profile, NEW.status, 1)
        ON CONFLICT (profile, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER keys_count_delete AFTER DELETE ON keys
BEGIN
    UPDATE key_counts SET n = n - 1 WHERE profile = OLD.profile AND status = OLD.status;
END;

CREATE TRIGGER keys_count_update AFTER UPDATE OF profile, status ON keys
WHEN NEW.profile IS NOT OLD.profile OR NEW.status IS NOT OLD.status
BEGIN
    UPDATE key_counts SET n = n - 1 WHERE profile = OLD.profile AND status = OLD.status;
    INSERT INTO key_counts (profile, status, n) VALUES (NEW.profile, NEW.status, 1)
        ON CONFLICT (profile, status) DO UPDATE SET n = n + 1;
END;
