-- The business a profile's rows belong to: its Kinde domain (the base URL), or, for a team
-- profile, its Keyward Server. A store opened for a profile whose domain or server differs is
-- archived and a fresh one started (see ctx.rs): two businesses never share rows.
CREATE TABLE store_owner (
    profile  TEXT PRIMARY KEY,
    domain   TEXT NOT NULL,
    server   TEXT,
    bound_at INTEGER NOT NULL
);
