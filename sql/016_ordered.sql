-- 016_ordered.sql: ordered webhooks ("ordered": true): each endpoint gets
-- its events one at a time, in the order of their Kafka partition, a
-- failure holding back the ones after it. Released migrations are never
-- edited.
--
-- An ordered webhook's deliveries never take the in-memory fast path: the
-- dispatcher that reads an event appends it to the endpoint's slow lane
-- (a 'retries' row, 005) with hl_ordered_append, in the transaction that
-- records its batch, and commits the event's Kafka offset only after that.
--
-- Position. Each appended row gets the endpoint's next position
-- ('retries.pos'), numbered under the lock of the endpoint's
-- 'ordered_lanes' row, taken in endpoint id order and held until the
-- transaction commits (as 014's hl_poll_append does): positions become
-- visible in their order (a sequence would let a later number commit
-- first). The lane's head is its row that comes first by (pos NULLS
-- FIRST, due_at, id): rows without a position (pending before the webhook
-- was made ordered, or put back by a recover) go first. Only the head is
-- taken, only when due, and only by the lane's holder with none of its
-- rows out (dispatcher/lanes.c); a failure moves the head's due time on
-- and it stays the head (the line is held) until it succeeds, its retries
-- are exhausted (its row goes, 'delivery.exhausted' is emitted) or the
-- tenant skips it (POST /v1/webhooks/{id}/deliveries/{did}/skip deletes it).
--
-- Re-reads. A dispatcher that dies after appending and before its Kafka
-- commit makes the next owner of the partition read the same events
-- again; the head may be delivered and deleted by then, so appending it
-- again would put an earlier event after a later one. 'ordered_offsets'
-- keeps, per endpoint and partition, the highest offset appended, moved
-- on in the same transaction: an event at or below it is skipped (it is
-- in the lane, or delivered). So positions follow offsets within a
-- partition, whoever appends and in whatever interleaving.
--
-- The due time of an ordered lane (lanes.next_due_at) is its head's
-- (hl_lane_due) when its holder lets it go. Rows appended behind a held
-- head still pull it to now (005's trigger, unchanged): a dispatcher then
-- leases the lane, finds its head not due and lets it go again with the
-- head's due time, one round per appending batch; an api retry of the
-- head (due now) wakes it the same way.
--
-- Changing "ordered" on a live webhook: it applies to the events a
-- dispatcher reads once its index has the change. Turning it on: the
-- deliveries already in memory or in flight finish as before, and rows
-- already pending (no position) are served before the ordered ones.
-- Turning it off: the rows waiting become ordinary rows (served by due
-- time, several at a time), and the lane's due time becomes its earliest
-- row's.

ALTER TABLE webhooks ADD COLUMN ordered boolean NOT NULL DEFAULT false;

CREATE OR REPLACE VIEW webhook_docs AS
SELECT w.id, w.tenant_id, w.name, w.created_at, w.is_active, w.events,
       jsonb_build_object(
         'id', w.id, 'tenant', w.tenant_id, 'name', w.name, 'description', w.description,
         'endpoints', w.endpoints, 'events', to_jsonb(w.events), 'headers', w.headers,
         'max_retries', w.max_retries, 'rate_limit', w.rate_limit, 'is_active', w.is_active,
         'filter', w.filter, 'secret', w.secret, 'previous_secret', w.previous_secret,
         'previous_secret_expires_at', hl_ts(w.previous_secret_expires_at),
         'disabled_reason', w.disabled_reason, 'created_by', w.created_by,
         'created_at', hl_ts(w.created_at), 'updated_at', hl_ts(w.updated_at),
         'version', w.version, 'ordered', w.ordered) AS doc
FROM webhooks w;

ALTER TABLE retries ADD COLUMN pos bigint;     -- position in an ordered lane; NULL: none
CREATE INDEX retries_head ON retries (endpoint_id, pos NULLS FIRST, due_at, id);

CREATE TABLE ordered_lanes (
    endpoint_id     text PRIMARY KEY,
    webhook_id      text NOT NULL,
    last_pos        bigint NOT NULL DEFAULT 0   -- the newest row's position
);
CREATE INDEX ordered_lanes_webhook ON ordered_lanes (webhook_id);

CREATE TABLE ordered_offsets (
    endpoint_id     text NOT NULL,
    partition       int NOT NULL,
    last_offset     bigint NOT NULL,            -- the highest offset appended
    PRIMARY KEY (endpoint_id, partition)
);

-- The due time of lane 'ep': its head's when 'ordered', else its earliest
-- row's; NULL when it has no rows.
CREATE FUNCTION hl_lane_due(ep text, ordered boolean) RETURNS timestamptz LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN ordered
    THEN (SELECT due_at FROM retries WHERE endpoint_id = ep ORDER BY pos NULLS FIRST, due_at, id LIMIT 1)
    ELSE (SELECT min(due_at) FROM retries WHERE endpoint_id = ep) END
$$;

-- Append a batch of deliveries to ordered lanes, 'rows' a JSON array of
-- {"t": tenant, "w": webhook, "p": endpoint, "e": event id, "y": type,
-- "d": body day, "a": attempt, "k": partition, "o": offset} in the order
-- they were read ("k" and "o" null when not known: never skipped). Locks
-- the endpoints' ordered_lanes rows in id order. Skips rows at or below
-- their endpoint's high-water offset, and events the lane has already.
-- Returns the rows appended.
CREATE FUNCTION hl_ordered_append(rows json) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  INSERT INTO ordered_lanes (endpoint_id, webhook_id)
  SELECT DISTINCT r->>'p', r->>'w' FROM json_array_elements(rows) r ORDER BY 1
  ON CONFLICT (endpoint_id) DO NOTHING;
  PERFORM 1 FROM ordered_lanes WHERE endpoint_id IN (SELECT r->>'p' FROM json_array_elements(rows) r)
  ORDER BY endpoint_id FOR UPDATE;
  WITH r AS (
    SELECT r->>'t' AS t, r->>'w' AS w, r->>'p' AS p, r->>'e' AS e, r->>'y' AS y, (r->>'d')::date AS d,
           (r->>'a')::int AS a, (r->>'k')::int AS k, (r->>'o')::bigint AS o, ord
    FROM json_array_elements(rows) WITH ORDINALITY AS a(r, ord)),
  f AS (SELECT DISTINCT ON (r.p, r.e) r.* FROM r
        LEFT JOIN ordered_offsets h ON h.endpoint_id = r.p AND h.partition = r.k
        WHERE (r.o IS NULL OR h.last_offset IS NULL OR r.o > h.last_offset)
          AND NOT EXISTS (SELECT 1 FROM retries x WHERE x.endpoint_id = r.p AND x.event_id = r.e)
        ORDER BY r.p, r.e, r.ord),
  hw AS (INSERT INTO ordered_offsets AS h (endpoint_id, partition, last_offset)
         SELECT p, k, max(o) FROM r WHERE o IS NOT NULL AND k IS NOT NULL GROUP BY p, k
         ON CONFLICT (endpoint_id, partition) DO UPDATE SET last_offset = greatest(h.last_offset, EXCLUDED.last_offset)),
  x AS (SELECT f.*, row_number() OVER (PARTITION BY f.p ORDER BY f.ord) AS n FROM f),
  c AS (SELECT p, count(*) AS n FROM x GROUP BY p),
  s AS (UPDATE ordered_lanes l SET last_pos = l.last_pos + c.n FROM c WHERE l.endpoint_id = c.p
        RETURNING l.endpoint_id, l.last_pos - c.n AS base)
  INSERT INTO retries (tenant_id, webhook_id, endpoint_id, event_id, event_type, body_day, attempt, due_at, pos)
  SELECT x.t, x.w, x.p, x.e, x.y, x.d, x.a, now(), s.base + x.n FROM x JOIN s ON s.endpoint_id = x.p
  ORDER BY x.p, x.n
  ON CONFLICT (endpoint_id, event_id) DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- A webhook's ordered state goes with it, or with an endpoint the tenant
-- removed; turning "ordered" on or off moves its live lanes' due times to
-- what the new rule says. Named to fire before 005's webhooks_lanes, so a
-- delete takes the ordered_lanes rows before the lanes rows, in the order
-- hl_ordered_append takes them.
CREATE FUNCTION hl_ordered_webhook() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    DELETE FROM ordered_offsets WHERE endpoint_id IN (SELECT endpoint_id FROM ordered_lanes WHERE webhook_id = OLD.id);
    DELETE FROM ordered_lanes WHERE webhook_id = OLD.id;
    RETURN NULL;
  END IF;
  IF NEW.endpoints IS DISTINCT FROM OLD.endpoints THEN
    DELETE FROM ordered_offsets WHERE endpoint_id IN (SELECT endpoint_id FROM ordered_lanes o
      WHERE o.webhook_id = NEW.id AND NOT EXISTS
        (SELECT 1 FROM jsonb_array_elements(NEW.endpoints) e WHERE e->>'id' = o.endpoint_id));
    DELETE FROM ordered_lanes o WHERE o.webhook_id = NEW.id AND NOT EXISTS
      (SELECT 1 FROM jsonb_array_elements(NEW.endpoints) e WHERE e->>'id' = o.endpoint_id);
  END IF;
  IF NEW.ordered IS DISTINCT FROM OLD.ordered THEN
    UPDATE lanes l SET next_due_at = hl_lane_due(l.endpoint_id, NEW.ordered)
    WHERE l.webhook_id = NEW.id AND l.next_due_at IS NOT NULL;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER webhooks_a_ordered AFTER UPDATE OR DELETE ON webhooks
  FOR EACH ROW EXECUTE FUNCTION hl_ordered_webhook();
