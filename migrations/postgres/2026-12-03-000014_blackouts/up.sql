-- Blackouts of the whole deployment (docs/safety.md#blackouts). Same text for both backends. A one-off blackout has
-- starts_at and ends_at (ends_at excluded); a recurring one a time zone and its windows (JSON list).
CREATE TABLE blackouts (
    id         TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    starts_at  TIMESTAMP,
    ends_at    TIMESTAMP,
    timezone   TEXT,
    windows    TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX blackouts_page ON blackouts (created_at, id);
