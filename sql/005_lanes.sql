-- 005_lanes.sql: the slow lanes, and the positions reached in Kafka.
-- Released migrations are never edited.
--
-- A delivery that cannot go out at once (its endpoint's in-memory lane is
-- full, the endpoint is rate limited or failing) and every pending retry
-- is a row of 'retries', due at 'due_at'. The rows of one endpoint form its
-- slow lane, served oldest first by one dispatcher at a time: the one whose
-- lease on the endpoint's 'lanes' row holds. Every new lease bumps the
-- lane's 'epoch'; a row being delivered carries the epoch it was taken
-- under, so a row is free when its epoch is NULL or older than the lane's,
-- and a dispatcher whose lease has passed to another can no longer take or
-- settle rows (fencing).
--
-- 'lanes' is kept by triggers, whoever writes 'retries' (dispatchers, the
-- api's redeliver, SQL): a new or rescheduled row pulls its lane's
-- 'next_due_at' earlier; the lane's holder recomputes it when it lets go.
-- A webhook's rows and lanes go with the webhook, or with an endpoint the
-- tenant removed; disabling a webhook parks its lanes (next_due_at NULL),
-- enabling it again puts them back with every row kept.

CREATE TABLE lanes (
    endpoint_id     text PRIMARY KEY,
    tenant_id       text NOT NULL,
    webhook_id      text NOT NULL,
    next_due_at     timestamptz,               -- earliest due row; NULL: none, or parked
    owner           text,                      -- the dispatcher serving it
    lease_until     timestamptz,
    epoch           bigint NOT NULL DEFAULT 0, -- bumped by every new lease
    send_after      timestamptz                -- rate limit: the next start, carried across holders
);
CREATE INDEX lanes_due ON lanes (next_due_at) WHERE next_due_at IS NOT NULL;
CREATE INDEX lanes_webhook ON lanes (webhook_id);

ALTER TABLE retries ADD COLUMN epoch bigint;    -- lane epoch it is being delivered under; NULL: free
CREATE INDEX retries_lane ON retries (endpoint_id, due_at, id);

-- Rows already pending (retries of the previous version) get their lanes.
INSERT INTO lanes (endpoint_id, tenant_id, webhook_id, next_due_at)
SELECT endpoint_id, min(tenant_id), min(webhook_id), min(due_at) FROM retries GROUP BY endpoint_id
ON CONFLICT (endpoint_id) DO NOTHING;

CREATE FUNCTION hl_lanes_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO lanes AS l (endpoint_id, tenant_id, webhook_id, next_due_at)
  SELECT n.endpoint_id, min(n.tenant_id), min(n.webhook_id), min(n.due_at)
  FROM hl_new_rows n WHERE n.epoch IS NULL GROUP BY n.endpoint_id
  ON CONFLICT (endpoint_id) DO UPDATE
    SET next_due_at = least(l.next_due_at, EXCLUDED.next_due_at)
    WHERE l.next_due_at IS DISTINCT FROM least(l.next_due_at, EXCLUDED.next_due_at)
      AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = l.webhook_id AND w.is_active);
  RETURN NULL;
END $$;

CREATE TRIGGER retries_lanes_insert AFTER INSERT ON retries
  REFERENCING NEW TABLE AS hl_new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_lanes_touch();
CREATE TRIGGER retries_lanes_update AFTER UPDATE ON retries
  REFERENCING NEW TABLE AS hl_new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_lanes_touch();

-- A webhook's pending work follows what the tenant did to it.
CREATE FUNCTION hl_lanes_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM retries WHERE webhook_id = OLD.id;
    DELETE FROM lanes WHERE webhook_id = OLD.id;
    RETURN NULL;
  END IF;
  -- endpoints the tenant removed take their rows with them
  IF NEW.endpoints IS DISTINCT FROM OLD.endpoints THEN
    DELETE FROM retries r WHERE r.webhook_id = NEW.id AND NOT EXISTS
      (SELECT 1 FROM jsonb_array_elements(NEW.endpoints) e WHERE e->>'id' = r.endpoint_id);
    DELETE FROM lanes l WHERE l.webhook_id = NEW.id AND NOT EXISTS
      (SELECT 1 FROM jsonb_array_elements(NEW.endpoints) e WHERE e->>'id' = l.endpoint_id);
  END IF;
  IF NEW.is_active AND NOT OLD.is_active THEN
    -- enabled again: its lanes come back, and its endpoints' failure window starts afresh
    UPDATE lanes l SET next_due_at = (SELECT min(due_at) FROM retries r WHERE r.endpoint_id = l.endpoint_id)
    WHERE l.webhook_id = NEW.id;
    UPDATE endpoint_health SET failing_since = NULL WHERE webhook_id = NEW.id;
  ELSIF OLD.is_active AND NOT NEW.is_active THEN
    UPDATE lanes SET next_due_at = NULL WHERE webhook_id = NEW.id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER webhooks_lanes AFTER UPDATE OR DELETE ON webhooks
  FOR EACH ROW EXECUTE FUNCTION hl_lanes_webhook();

-- The position reached in each partition of hookline.events, written by
-- the dispatcher that lets the partition go (dispatcher/offsets.c): every
-- event before it is recorded. The next owner starts from the further of
-- this and Kafka's committed offset.
CREATE TABLE event_offsets (
    topic           text NOT NULL,
    partition       int NOT NULL,
    next_offset     bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
