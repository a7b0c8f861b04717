-- Keyward Server store, schema 4 (keyward-core's SQLite 0010): history that stays small.
-- Rows older than the retention period are rolled up, a key and a whole UTC day at a time,
-- into `rolled_days` (the verifications of each hour, the day's last verification and its
-- distinct addresses); after a year those are folded into `daily`, which keeps their last
-- verification and addresses. The addresses each key was verified from are kept as a set
-- (`key_ips`, maintained by a trigger on every history write), so the new-IP rule needs no
-- old row. The row format of `history` itself is unchanged here (see the SQLite store for the
-- compact one).

CREATE TABLE key_ips (
    kid        BIGINT NOT NULL,
    ip         TEXT   NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (kid, ip)
);

INSERT INTO key_ips (kid, ip, first_seen, last_seen)
    SELECT kid, last_verified_ip, MIN(at), MAX(at) FROM history
    WHERE last_verified_ip IS NOT NULL GROUP BY kid, last_verified_ip;

CREATE FUNCTION history_key_ip() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.last_verified_ip IS NOT NULL THEN
        INSERT INTO key_ips (kid, ip, first_seen, last_seen)
        VALUES (NEW.kid, NEW.last_verified_ip, NEW.at, NEW.at)
        ON CONFLICT (kid, ip) DO UPDATE SET
            first_seen = LEAST(key_ips.first_seen, EXCLUDED.first_seen),
            last_seen = GREATEST(key_ips.last_seen, EXCLUDED.last_seen);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER history_key_ip AFTER INSERT OR UPDATE ON history
    FOR EACH ROW EXECUTE FUNCTION history_key_ip();

-- One row per key and UTC day whose history rows were rolled up: `hours[h + 1]` is hour h's
-- verifications; `ips` the day's distinct addresses.
CREATE TABLE rolled_days (
    kid              BIGINT   NOT NULL,
    day              BIGINT   NOT NULL,
    hours            BIGINT[] NOT NULL,
    last_verified_on BIGINT,
    ips              BIGINT   NOT NULL DEFAULT 0,
    PRIMARY KEY (kid, day)
);

ALTER TABLE daily ADD COLUMN last_verified_on BIGINT;
ALTER TABLE daily ADD COLUMN ips BIGINT;

CREATE TABLE history_rollup (
    profile       TEXT   PRIMARY KEY,
    raw_before    BIGINT NOT NULL,
    rolled_before BIGINT NOT NULL
);
