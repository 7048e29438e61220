-- 001_init.sql: tenants, API keys, the event catalog, webhooks, the outbox
-- and idempotency keys. Released migrations are never edited.

CREATE TABLE tenants (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key_hash    text NOT NULL UNIQUE,          -- hex SHA-256; the key itself is never stored
    prefix      text NOT NULL,                 -- first characters, to recognise a key in a list
    label       text NOT NULL DEFAULT '',
    scopes      text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE event_types (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z0-9_]+\.[a-z0-9_.]+$'),
    description text NOT NULL DEFAULT '',
    group_name  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO event_types (name, description, group_name) VALUES
 ('booking.scheduled', 'A booking was scheduled.', 'booking'),
 ('booking.rescheduled', 'A booking was moved to another time.', 'booking'),
 ('booking.canceled_then_rescheduled', 'A booking was canceled and a new one scheduled in its place.', 'booking'),
 ('booking.canceled_reschedule_requested', 'A booking was canceled and the customer was asked to reschedule.', 'booking'),
 ('booking.canceled', 'A booking was canceled.', 'booking'),
 ('booking.completed', 'A booking took place.', 'booking'),
 ('booking.no_show', 'The customer did not attend a booking.', 'booking'),
 ('conversation.reached_out', 'A visitor reached out and a conversation was offered.', 'conversation'),
 ('conversation.started', 'A conversation started.', 'conversation'),
 ('conversation.closed', 'A conversation was closed.', 'conversation'),
 ('conversation.abandoned', 'A visitor left before the conversation ended.', 'conversation'),
 ('webhook.test', 'A test event sent on request to one webhook.', 'webhook');

CREATE TABLE webhooks (
    id              text PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    endpoints       jsonb NOT NULL,            -- [{"id","url","headers":{...}}]
    events          text[] NOT NULL,           -- types or group names, as given
    headers         jsonb NOT NULL DEFAULT '{}',
    max_retries     int NOT NULL,
    rate_limit      int,                       -- deliveries per second per endpoint; NULL = none
    is_active       boolean NOT NULL DEFAULT true,
    filter          jsonb,
    secret          text NOT NULL,
    previous_secret text,                      -- still signs until previous_secret_expires_at
    previous_secret_expires_at timestamptz,
    disabled_reason text,
    created_by      text NOT NULL,             -- api key id, or 'admin'
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    version         bigint NOT NULL DEFAULT 1,
    UNIQUE (tenant_id, name)
);
CREATE INDEX webhooks_tenant_created ON webhooks (tenant_id, created_at, id);

-- Lifecycle events written in the same transaction as the webhook change;
-- the api's relay publishes them to hookline.webhooks in seq order.
CREATE TABLE outbox (
    seq         bigserial PRIMARY KEY,
    webhook_id  text NOT NULL,
    tenant_id   text NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
CREATE INDEX outbox_sent_at ON outbox (sent_at) WHERE sent_at IS NOT NULL;

-- POST /v1/events answers for 24 h per (tenant, Idempotency-Key).
CREATE TABLE idempotency_keys (
    tenant_id   text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    key         text NOT NULL,
    status      int,                           -- NULL while the first request is in progress
    response    jsonb,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Timestamps as clients see them: UTC, milliseconds, "Z".
CREATE FUNCTION hl_ts(t timestamptz) RETURNS text LANGUAGE sql STABLE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- The whole webhook as one JSON document: what the api returns (after
-- redaction) and what lifecycle events carry to the dispatchers.
CREATE VIEW webhook_docs AS
SELECT w.id, w.tenant_id, w.name, w.created_at, w.is_active, w.events,
       jsonb_build_object(
         'id', w.id, 'tenant', w.tenant_id, 'name', w.name, 'description', w.description,
         'endpoints', w.endpoints, 'events', to_jsonb(w.events), 'headers', w.headers,
         'max_retries', w.max_retries, 'rate_limit', w.rate_limit, 'is_active', w.is_active,
         'filter', w.filter, 'secret', w.secret, 'previous_secret', w.previous_secret,
         'previous_secret_expires_at', hl_ts(w.previous_secret_expires_at),
         'disabled_reason', w.disabled_reason, 'created_by', w.created_by,
         'created_at', hl_ts(w.created_at), 'updated_at', hl_ts(w.updated_at),
         'version', w.version) AS doc
FROM webhooks w;

-- Append the lifecycle event 'kind' for webhook 'wid' as it is now. Call
-- it in the transaction that changed the webhook.
CREATE FUNCTION hl_outbox_webhook(wid text, kind text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO outbox (webhook_id, tenant_id, kind, payload)
  SELECT id, tenant_id, kind,
         jsonb_build_object('type', kind, 'version', (doc->>'version')::bigint,
                            'occurred_at', hl_ts(now()), 'webhook', doc)
  FROM webhook_docs WHERE id = wid
$$;

-- Wake the relay as soon as an outbox row commits.
CREATE FUNCTION hl_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('hookline_outbox', '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION hl_outbox_notify();
