-- 013_portal_sessions.sql: embeddable portal sessions. Released migrations
-- are never edited.
--
-- POST /v1/portal-sessions issues a link that opens the console signed in
-- for one tenant, with some scopes, until expires_at. Like an API key, the
-- token in the link is kept only as its SHA-256 (token_hash): a dump shows
-- no usable token. Every request made with a token reads its row (no
-- cache), so a revoke (revoked_at) or the expiry holds in every api process
-- at once. Rows past their expiry are deleted by the retention job.
CREATE TABLE portal_sessions (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash  text NOT NULL UNIQUE,              -- hex SHA-256 of the token
    scopes      text[] NOT NULL,
    created_by  text NOT NULL,                     -- api key id, or 'admin'
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX portal_sessions_tenant ON portal_sessions (tenant_id);
CREATE INDEX portal_sessions_expires ON portal_sessions (expires_at);
