-- Keyward local store, schema 1.
-- Times are INTEGER milliseconds since the Unix epoch (UTC). No secret is ever stored here.

-- The cached keys, one row per (profile, key id). `gone` keys are kept, never deleted.
CREATE TABLE keys (
    kid                INTEGER PRIMARY KEY,
    profile            TEXT    NOT NULL,
    id                 TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    key_type           TEXT    NOT NULL,
    status             TEXT    NOT NULL,
    key_prefix         TEXT    NOT NULL,
    key_suffix         TEXT,
    created_on         INTEGER,
    last_verified_on   INTEGER,
    last_verified_ip   TEXT,
    created_by         TEXT,
    api_ids            TEXT    NOT NULL DEFAULT '[]',
    scopes             TEXT    NOT NULL DEFAULT '[]',
    verification_count INTEGER,
    user_id            TEXT,
    org_code           TEXT,
    owner_name         TEXT,
    api_name           TEXT,
    gone               INTEGER NOT NULL DEFAULT 0,
    rotated_on         INTEGER,
    first_seen         INTEGER NOT NULL,
    last_synced        INTEGER NOT NULL,
    detail_synced      INTEGER,
    needs_detail       INTEGER NOT NULL DEFAULT 1,
    seen_run           INTEGER,
    UNIQUE (profile, id)
);

-- One row per observed change of a key's counters (count, last verified on/ip, status).
-- `delta` is the number of verifications since the previous row (negative deltas count as 0).
CREATE TABLE history (
    kid                INTEGER NOT NULL REFERENCES keys (kid),
    at                 INTEGER NOT NULL,
    verification_count INTEGER,
    last_verified_on   INTEGER,
    last_verified_ip   TEXT,
    status             TEXT    NOT NULL,
    delta              INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kid, at)
) WITHOUT ROWID;

-- Daily roll-up of history deltas (UTC days), kept in the same transaction as `history`.
CREATE TABLE daily (
    kid   INTEGER NOT NULL REFERENCES keys (kid),
    day   INTEGER NOT NULL,
    verifications INTEGER NOT NULL,
    PRIMARY KEY (kid, day)
) WITHOUT ROWID;

-- Every create, rotate, revoke, re-issue, reconcile and handover close Keyward performed.
CREATE TABLE audit (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    profile       TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    key_id        TEXT,
    key_name      TEXT,
    outcome       TEXT    NOT NULL,
    error_code    TEXT,
    error_message TEXT,
    details       TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_profile_at ON audit (profile, at);

-- Re-issues: old key -> new key, open until the old key is revoked.
CREATE TABLE reissues (
    id         INTEGER PRIMARY KEY,
    profile    TEXT    NOT NULL,
    old_id     TEXT    NOT NULL,
    new_id     TEXT    NOT NULL,
    opened_at  INTEGER NOT NULL,
    closed_at  INTEGER,
    old_count_at_open INTEGER,
    UNIQUE (profile, old_id, new_id)
);

-- One row per sync run.
CREATE TABLE sync_runs (
    id              INTEGER PRIMARY KEY,
    profile         TEXT    NOT NULL,
    mode            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    pages           INTEGER NOT NULL DEFAULT 0,
    keys_seen       INTEGER NOT NULL DEFAULT 0,
    keys_new        INTEGER NOT NULL DEFAULT 0,
    keys_changed    INTEGER NOT NULL DEFAULT 0,
    keys_gone       INTEGER NOT NULL DEFAULT 0,
    details_fetched INTEGER NOT NULL DEFAULT 0,
    requests        TEXT    NOT NULL DEFAULT '{}',
    duration_ms     INTEGER,
    errors          TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX sync_runs_profile ON sync_runs (profile, id);
