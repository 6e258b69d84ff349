-- API tokens and the audit log.
--
-- A token is stored only as the SHA-256 of its text: the text is shown once, when it is created. Names are unique
-- forever (a revoked token keeps its name) so that a name in the audit log always means one token.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    scope       TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP,
    revoked_at  TIMESTAMP,
    revoked_by  TEXT
);
CREATE INDEX api_tokens_page ON api_tokens (created_at, id);

-- One row per change asked of the API (and per token change made with `eris token`), whatever its outcome. Rows are
-- only ever inserted: eris has no query that updates or deletes them, and the triggers below refuse it to anyone.
CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY,
    created_at   TIMESTAMP NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    method       TEXT NOT NULL,
    path         TEXT NOT NULL,
    target_id    TEXT,
    body_sha256  TEXT,
    status       BIGINT NOT NULL,
    outcome      TEXT NOT NULL,
    request_id   TEXT
);
CREATE INDEX audit_log_page ON audit_log (created_at, id);
CREATE INDEX audit_log_target ON audit_log (target_id, created_at, id);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
