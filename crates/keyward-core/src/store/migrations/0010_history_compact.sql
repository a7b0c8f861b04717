-- Keyward local store: history that stays small without losing a chart.
--
-- Raw samples (`samples`) in a compact row: the key's row id and the time as the key, the
-- address as an id into `ips`, the status as a small integer (0 active: no bytes at all),
-- the last verification as milliseconds before `at`, and no repeated 'sync' text. Samples
-- older than the retention period (a setting, 90 days by default) are rolled up, a key and a
-- whole UTC day at a time, into `rolled_days` (the verifications of each hour of that day,
-- the day's last verification and its distinct addresses); after a year those are folded
-- into `daily` (which always holds every day's verifications, maintained on write). The
-- addresses each key was verified from are kept as a set (`key_ips`), so the new-IP rule
-- needs no raw row. `history` stays as a view with the old columns for the readers of the
-- newest observation.

CREATE TABLE ips (
    id INTEGER PRIMARY KEY,
    ip TEXT    NOT NULL UNIQUE
);

-- Every address a key was verified from, with when it was first and last observed.
CREATE TABLE key_ips (
    kid        INTEGER NOT NULL,
    ip_id      INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (kid, ip_id)
) WITHOUT ROWID;

-- One row per observed change of a key's counters (see 0001's `history`).
-- `lvo_ago` = at - last_verified_on (ms); `status` 0 active, 1 inactive, 2 revoked;
-- `demo` 1 for the demo sandbox's synthesized rows, NULL for observed ones.
CREATE TABLE samples (
    kid     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    count   INTEGER,
    lvo_ago INTEGER,
    ip_id   INTEGER,
    status  INTEGER NOT NULL DEFAULT 0,
    delta   INTEGER NOT NULL DEFAULT 0,
    demo    INTEGER,
    PRIMARY KEY (kid, at)
) WITHOUT ROWID;

-- One row per key and UTC day whose samples were rolled up: `hours` holds, for each hour of
-- the day with verifications, the hour (0..23) and its verifications as unsigned LEB128
-- varints; `ips` the day's distinct addresses.
CREATE TABLE rolled_days (
    kid              INTEGER NOT NULL,
    day              INTEGER NOT NULL,
    hours            BLOB    NOT NULL,
    last_verified_on INTEGER,
    ips              INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kid, day)
) WITHOUT ROWID;

-- A day folded from `rolled_days` after a year keeps its last verification and addresses.
ALTER TABLE daily ADD COLUMN last_verified_on INTEGER;
ALTER TABLE daily ADD COLUMN ips INTEGER;

-- How far the roll-up has gone for a profile: every sample of a day before `raw_before` is
-- rolled up (except the day of each key's newest sample), and every rolled day before
-- `rolled_before` is folded into `daily` (days since the epoch).
CREATE TABLE history_rollup (
    profile       TEXT    PRIMARY KEY,
    raw_before    INTEGER NOT NULL,
    rolled_before INTEGER NOT NULL
);

INSERT OR IGNORE INTO ips (ip)
    SELECT DISTINCT last_verified_ip FROM history WHERE last_verified_ip IS NOT NULL;

INSERT INTO samples (kid, at, count, lvo_ago, ip_id, status, delta, demo)
    SELECT h.kid, h.at, h.verification_count, h.at - h.last_verified_on, i.id,
           CASE h.status WHEN 'active' THEN 0 WHEN 'inactive' THEN 1 ELSE 2 END,
           h.delta, CASE WHEN h.source = 'demo' THEN 1 END
    FROM history h LEFT JOIN ips i ON i.ip = h.last_verified_ip;

INSERT INTO key_ips (kid, ip_id, first_seen, last_seen)
    SELECT h.kid, i.id, MIN(h.at), MAX(h.at)
    FROM history h JOIN ips i ON i.ip = h.last_verified_ip
    GROUP BY h.kid, i.id;

DROP TABLE history;

CREATE VIEW history AS
    SELECT s.kid AS kid, s.at AS at, s.count AS verification_count,
           s.at - s.lvo_ago AS last_verified_on, i.ip AS last_verified_ip,
           CASE s.status WHEN 0 THEN 'active' WHEN 1 THEN 'inactive' ELSE 'revoked' END
               AS status,
           s.delta AS delta, CASE WHEN s.demo = 1 THEN 'demo' ELSE 'sync' END AS source
    FROM samples s LEFT JOIN ips i ON i.id = s.ip_id;
