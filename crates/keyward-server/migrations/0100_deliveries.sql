-- The alert outbox: one row per (alert, destination), queued once (UNIQUE), sent until
-- delivered or given up, every attempt logged. Claimed with FOR UPDATE SKIP LOCKED so that two
-- replicas never send one row at the same time.
CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    profile         TEXT        NOT NULL,
    alert_id        BIGINT      NOT NULL,
    destination     TEXT        NOT NULL,
    -- webhook | slack
    dest_kind       TEXT        NOT NULL,
    -- The webhook-id: stable across retries, so receivers deduplicate.
    message_id      TEXT        NOT NULL,
    -- The exact body sent (built once from the alert and the cached key; never a secret).
    body            TEXT        NOT NULL,
    kind            TEXT        NOT NULL,
    severity        TEXT        NOT NULL,
    -- pending | delivered | failed (given up)
    status          TEXT        NOT NULL DEFAULT 'pending',
    attempts        INTEGER     NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at    TIMESTAMPTZ,
    last_error      TEXT,
    UNIQUE (profile, alert_id, destination)
);

CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE delivery_attempts (
    id          BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT      NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    at          TIMESTAMPTZ NOT NULL,
    -- The HTTP status answered, or NULL when no answer came (the error says why).
    status_code INTEGER,
    error       TEXT,
    duration_ms INTEGER     NOT NULL,
    replica     TEXT        NOT NULL
);

CREATE INDEX delivery_attempts_of ON delivery_attempts (delivery_id);

-- The last alert id queued per profile: alerts raised before a destination existed are not
-- sent to it.
CREATE TABLE delivery_cursor (
    profile       TEXT PRIMARY KEY,
    last_alert_id BIGINT NOT NULL
);
