-- The leader lease: the one replica that syncs and delivers. Taken when free or expired (the
-- database's clock decides), renewed by its holder; every takeover increments the epoch, and
-- a write made on behalf of the leader checks holder and epoch in its transaction (fencing).
CREATE TABLE server_lease (
    name        TEXT PRIMARY KEY,
    holder      TEXT        NOT NULL,
    epoch       BIGINT      NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL,
    renewed_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
