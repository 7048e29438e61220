-- 007_endpoint_state.sql: each endpoint of a webhook is active or disabled
-- on its own. Released migrations are never edited.
--
-- An endpoint's state lives in its element of webhooks.endpoints, so it
-- travels with the webhook's document and version to the api and to the
-- dispatchers (hookline.webhooks). An element without "is_active" (every
-- endpoint written before this migration) or with true is active; a
-- disabled one has "is_active": false, "disabled_reason" ('gone': it
-- answered 410 Gone; 'failing': every delivery to it failed for
-- HOOKLINE_DISABLE_AFTER) and "disabled_at". Only a dispatcher disables an
-- endpoint (hl_endpoint_disable); the tenant enables it again, or enables
-- the webhook, which enables every endpoint of it.
--
-- An endpoint is delivered to when its webhook is active and it is: the
-- lanes of the others are parked (next_due_at NULL) with every row kept,
-- as 005 does for a disabled webhook, and come back when the endpoint
-- does, its failure window (endpoint_health.failing_since) starting afresh.

CREATE FUNCTION hl_endpoint_on(e jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT (e->'is_active') IS DISTINCT FROM 'false'::jsonb $$;

-- 005's, with the endpoint's own state: a new or rescheduled row pulls its
-- lane's next_due_at earlier only while the webhook is active and the
-- endpoint is not disabled. (Written out rather than a function: one that
-- looks the webhook up cannot be inlined, and cost 6-13 us a check against
-- about 1.5 us here; dispatcher/lanes.c has the same test, LANE_LIVE.)
CREATE OR REPLACE FUNCTION hl_lanes_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO lanes AS l (endpoint_id, tenant_id, webhook_id, next_due_at)
  SELECT n.endpoint_id, min(n.tenant_id), min(n.webhook_id), min(n.due_at)
  FROM hl_new_rows n WHERE n.epoch IS NULL GROUP BY n.endpoint_id
  ON CONFLICT (endpoint_id) DO UPDATE
    SET next_due_at = least(l.next_due_at, EXCLUDED.next_due_at)
    WHERE l.next_due_at IS DISTINCT FROM least(l.next_due_at, EXCLUDED.next_due_at)
      AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = l.webhook_id AND w.is_active AND NOT EXISTS
                    (SELECT 1 FROM jsonb_array_elements(w.endpoints) e
                     WHERE e->>'id' = l.endpoint_id AND e->'is_active' = 'false'::jsonb));
  RETURN NULL;
END $$;

-- 005's, per endpoint: the lanes of endpoints that stop being delivered
-- to (the webhook or the endpoint disabled) are parked; those that start
-- again come back, and their failure window starts afresh.
CREATE OR REPLACE FUNCTION hl_lanes_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  was text[];
  live text[];
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM retries WHERE webhook_id = OLD.id;
    DELETE FROM lanes WHERE webhook_id = OLD.id;
    RETURN NULL;
  END IF;
  IF NEW.endpoints IS NOT DISTINCT FROM OLD.endpoints AND NEW.is_active IS NOT DISTINCT FROM OLD.is_active THEN
    RETURN NULL;
  END IF;
  -- endpoints the tenant removed take their rows with them
  IF NEW.endpoints IS DISTINCT FROM OLD.endpoints THEN
    DELETE FROM retries r WHERE r.webhook_id = NEW.id AND NOT EXISTS
      (SELECT 1 FROM jsonb_array_elements(NEW.endpoints) e WHERE e->>'id' = r.endpoint_id);
    DELETE FROM lanes l WHERE l.webhook_id = NEW.id AND NOT EXISTS
      (SELECT 1 FROM jsonb_array_elements(NEW.endpoints) e WHERE e->>'id' = l.endpoint_id);
  END IF;
  was := ARRAY(SELECT e->>'id' FROM jsonb_array_elements(OLD.endpoints) e WHERE OLD.is_active AND hl_endpoint_on(e));
  live := ARRAY(SELECT e->>'id' FROM jsonb_array_elements(NEW.endpoints) e WHERE NEW.is_active AND hl_endpoint_on(e));
  UPDATE lanes l SET next_due_at = (SELECT min(due_at) FROM retries r WHERE r.endpoint_id = l.endpoint_id)
  WHERE l.webhook_id = NEW.id AND l.endpoint_id = ANY (live) AND NOT l.endpoint_id = ANY (was);
  UPDATE endpoint_health SET failing_since = NULL
  WHERE webhook_id = NEW.id AND endpoint_id = ANY (live) AND NOT endpoint_id = ANY (was);
  UPDATE lanes SET next_due_at = NULL
  WHERE webhook_id = NEW.id AND endpoint_id = ANY (was) AND NOT endpoint_id = ANY (live);
  RETURN NULL;
END $$;

-- Disable endpoint 'eid' of active webhook 'wid' for 'reason' ('gone' or
-- 'failing'), 'detail' saying why in words. The last active endpoint takes
-- the webhook with it (is_active false, disabled_reason 'detail'). Appends
-- the lifecycle event, which names the endpoint: webhook.disabled when the
-- webhook went, else endpoint.disabled. Returns that kind, or NULL when
-- nothing changed (the webhook or endpoint is gone, or disabled already).
-- Call it in the transaction that recorded why.
CREATE FUNCTION hl_endpoint_disable(wid text, eid text, reason text, detail text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  eps jsonb;
  active boolean;
  kind text;
BEGIN
  SELECT w.endpoints, w.is_active INTO eps, active FROM webhooks w WHERE w.id = wid FOR UPDATE;
  IF NOT FOUND OR NOT active OR NOT EXISTS
      (SELECT 1 FROM jsonb_array_elements(eps) e WHERE e->>'id' = eid AND hl_endpoint_on(e)) THEN
    RETURN NULL;
  END IF;
  SELECT jsonb_agg(CASE WHEN x.e->>'id' = eid
                        THEN x.e || jsonb_build_object('is_active', false, 'disabled_reason', reason,
                                                       'disabled_at', hl_ts(now()))
                        ELSE x.e END ORDER BY x.n)
  INTO eps FROM jsonb_array_elements(eps) WITH ORDINALITY AS x(e, n);
  kind := CASE WHEN EXISTS (SELECT 1 FROM jsonb_array_elements(eps) e WHERE hl_endpoint_on(e))
               THEN 'endpoint.disabled' ELSE 'webhook.disabled' END;
  UPDATE webhooks w SET endpoints = eps, version = w.version + 1, updated_at = now(),
         is_active = kind = 'endpoint.disabled',
         disabled_reason = CASE WHEN kind = 'webhook.disabled' THEN detail ELSE w.disabled_reason END
  WHERE w.id = wid;
  PERFORM hl_outbox_webhook(wid, kind);
  -- the row just appended (this session's last outbox seq): which endpoint, and why
  UPDATE outbox SET payload = payload || jsonb_build_object('endpoint',
           jsonb_build_object('id', eid, 'disabled_reason', reason, 'detail', detail))
  WHERE seq = currval(pg_get_serial_sequence('outbox', 'seq'));
  RETURN kind;
END $$;
