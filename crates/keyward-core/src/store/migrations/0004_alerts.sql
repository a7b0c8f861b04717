-- Keyward local store: the watchtower (alerts, mutes, policies, per-key local metadata).
-- Times are INTEGER milliseconds since the Unix epoch (UTC). No secret is ever stored here.

-- Raised alerts. `fingerprint` names the evidence: the same evidence never raises twice.
CREATE TABLE alerts (
    id              INTEGER PRIMARY KEY,
    profile         TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    key_id          TEXT,
    key_name        TEXT,
    at              INTEGER NOT NULL,
    message         TEXT    NOT NULL,
    evidence        TEXT    NOT NULL DEFAULT '{}',
    fingerprint     TEXT    NOT NULL,
    muted           INTEGER NOT NULL DEFAULT 0,
    acknowledged_at INTEGER,
    UNIQUE (profile, fingerprint)
);
CREATE INDEX alerts_profile_at ON alerts (profile, at);

-- Mutes: per key (kind = '') or per kind (key_id = '').
CREATE TABLE alert_mutes (
    profile TEXT    NOT NULL,
    key_id  TEXT    NOT NULL DEFAULT '',
    kind    TEXT    NOT NULL DEFAULT '',
    at      INTEGER NOT NULL,
    PRIMARY KEY (profile, key_id, kind)
) WITHOUT ROWID;

-- How far the alert engine has looked at history (absent: never evaluated, the baseline).
CREATE TABLE alert_state (
    profile      TEXT    PRIMARY KEY,
    evaluated_to INTEGER NOT NULL
);

-- What Keyward keeps about a key that Kinde does not: canary mark, local expiry date, and the
-- prefix / suffix / status last seen by the alert engine (to tell drift from Keyward's work).
CREATE TABLE key_meta (
    profile     TEXT    NOT NULL,
    key_id      TEXT    NOT NULL,
    canary      INTEGER NOT NULL DEFAULT 0,
    expires_on  INTEGER,
    seen_prefix TEXT,
    seen_suffix TEXT,
    seen_status TEXT,
    seen_at     INTEGER,
    PRIMARY KEY (profile, key_id)
) WITHOUT ROWID;

-- Per-profile policies (absent: defaults from the settings).
CREATE TABLE policies (
    profile          TEXT    PRIMARY KEY,
    max_key_age_days INTEGER NOT NULL,
    warning_days     INTEGER NOT NULL,
    stale_days       INTEGER NOT NULL,
    dormant_days     INTEGER NOT NULL,
    spike_factor     REAL    NOT NULL,
    spike_floor      INTEGER NOT NULL
);
