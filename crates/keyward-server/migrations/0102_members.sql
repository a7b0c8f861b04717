-- Keyward Server: the team's members and their personal access tokens. Only the SHA-256 of a
-- token is kept (the token itself is printed once by `keyward-server member add`); a revoked
-- member's row is deleted, so their token stops working at the next request.
CREATE TABLE members (
    name          TEXT        PRIMARY KEY,
    role          TEXT        NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_sha256  BYTEA       NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at  TIMESTAMPTZ
);
