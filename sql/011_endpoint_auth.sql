-- 011_endpoint_auth.sql: an endpoint may carry its own Basic or Bearer
-- credentials, and PostgreSQL never holds them plain. Released migrations
-- are never edited.
--
-- The credentials live in the endpoint's element of webhooks.endpoints, so
-- they travel with the webhook's document and version (and its lifecycle
-- events) like the endpoint's headers and state:
--
--   "auth": {"type": "basic", "username": <sealed>, "password": <sealed>}
--   "auth": {"type": "bearer", "token": <sealed>}
--
-- Every value but "type" is sealed by the services exactly like a signing
-- secret (009; common/webhook_seal.h, field
-- "endpoints/<endpoint id>/auth/<name>"), and rotate-secrets-key seals them
-- again under a new key with the rest. Unlike the values 009 found, no
-- release ever wrote credentials plain, so rather than an index of plain
-- ones these checks make a plain one impossible: a write that would store
-- one (a bug, or SQL by hand) fails instead of leaking it to a dump.
--
-- The outbox check is NOT VALID: it holds for every row written from now
-- on, and no row written before this migration can carry "auth", so the
-- outbox (which may be large) is not scanned under the lock.

CREATE FUNCTION hl_auth_plain(eps jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT jsonb_path_exists(eps,
     '$[*].auth.keyvalue() ? (@.key != "type" && (@.value.type() != "string" || !(@.value starts with "hlenc:")))') $$;

ALTER TABLE webhooks ADD CONSTRAINT webhooks_auth_sealed CHECK (NOT hl_auth_plain(endpoints));

ALTER TABLE outbox ADD CONSTRAINT outbox_auth_sealed
    CHECK (NOT hl_auth_plain(payload #> '{webhook,endpoints}')) NOT VALID;

COMMENT ON COLUMN webhooks.endpoints IS
    '[{"id","url","headers":{name -> value sealed like secret},"auth"?:{"type","username"/"password" or "token", sealed like secret}}]';
