-- The emergency stop of the whole deployment (docs/safety.md). Same text for both backends.
-- One row per engagement, kept after its release as a record of who stopped everything, when and why. `active`
-- is 1 while it holds and null once released: its unique index lets at most one hold at a time, on every replica.
CREATE TABLE emergency_stops (
    id             TEXT PRIMARY KEY,
    reason         TEXT NOT NULL,
    engaged_by     TEXT NOT NULL,
    engaged_at     TIMESTAMP NOT NULL,
    released_by    TEXT,
    released_at    TIMESTAMP,
    active         BIGINT UNIQUE,
    -- How many trials engaging it stopped (queued and running).
    trials_stopped BIGINT NOT NULL
);
CREATE INDEX emergency_stops_latest ON emergency_stops (engaged_at);
