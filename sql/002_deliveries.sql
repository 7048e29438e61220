-- 002_deliveries.sql: the attempt log, pending retries and endpoint health.
-- Released migrations are never edited.

-- One row per delivery attempt: what tenants read, replay and delete.
CREATE TABLE attempts (
    id              text PRIMARY KEY,              -- dlv_...
    tenant_id       text NOT NULL,
    webhook_id      text NOT NULL,
    endpoint_id     text NOT NULL,
    endpoint_url    text NOT NULL,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    payload         text NOT NULL,                 -- the exact body that was signed and sent
    attempt         int NOT NULL,                  -- 1 = first attempt
    status_code     int,                           -- NULL: no HTTP response
    response        text,                          -- bounded excerpt of the response body
    error           text,                          -- why it failed, NULL on success
    success         boolean NOT NULL,
    sent_at         timestamptz NOT NULL,
    duration_ms     int NOT NULL,
    next_attempt_at timestamptz,                   -- when the retry is due; NULL: none follows
    dispatcher      text NOT NULL DEFAULT ''       -- which process made it
);
CREATE INDEX attempts_webhook_sent ON attempts (webhook_id, sent_at DESC, id DESC);
CREATE INDEX attempts_event ON attempts (endpoint_id, event_id);
CREATE INDEX attempts_sent_at ON attempts (sent_at);

-- One row per delivery waiting for its next attempt. Any dispatcher claims
-- due rows with FOR UPDATE SKIP LOCKED and holds them for a lease; a
-- dispatcher that dies loses its lease and another one takes the row.
CREATE TABLE retries (
    id              bigserial PRIMARY KEY,
    tenant_id       text NOT NULL,
    webhook_id      text NOT NULL,
    endpoint_id     text NOT NULL,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    payload         text NOT NULL,
    attempt         int NOT NULL,                  -- number of the attempt this row will make
    due_at          timestamptz NOT NULL,
    lease_until     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX retries_due ON retries (due_at);
CREATE INDEX retries_webhook ON retries (webhook_id);

-- Since when every delivery to an endpoint has failed (NULL: it works).
CREATE TABLE endpoint_health (
    endpoint_id     text PRIMARY KEY,
    webhook_id      text NOT NULL,
    failing_since   timestamptz,
    last_success_at timestamptz,
    last_failure_at timestamptz
);
