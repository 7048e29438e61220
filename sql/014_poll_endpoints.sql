-- 014_poll_endpoints.sql: webhooks whose endpoint is {"kind": "poll"}:
-- never pushed to; their events wait here, in order, and the tenant
-- fetches them with GET /v1/webhooks/{id}/poll?cursor=&limit=.
-- Released migrations are never edited.
--
-- poll_state, one row per webhook that has had a poll endpoint:
--   last_seq  the position of its newest event: each event gets the next
--             one. The dispatcher that appends takes this row's lock (in
--             webhook id order) and holds it until its transaction
--             commits, so positions become visible in their order: a
--             reader that saw position n will never later see a smaller
--             one appear (a sequence would let a later number commit
--             first, and a cursor moved past it would skip the earlier).
--   acked     what the tenant has acknowledged: fetching with a cursor
--             acknowledges every position up to it. A fetch without one
--             starts here.
--   purged    the newest position retention has deleted: a cursor below
--             it names events that are gone (410 with the oldest valid
--             cursor, which is this one).
-- poll_events, the events themselves with the exact body a push would
-- have sent, one row per webhook and position; an event recorded twice
-- (a dispatcher's crash before its Kafka commit) is kept once.
--
-- Retention (api/retention.c, HOOKLINE_RETENTION, the attempt log's)
-- deletes events older than it in batches by created_at, acknowledged or
-- not, and moves 'purged' on in the same statement. A webhook's events go
-- when it is deleted, with its state (ON DELETE CASCADE would make the
-- api's delete wait on them: the retention job and hl_poll_forget do it).

CREATE TABLE poll_state (
    webhook_id  text PRIMARY KEY,
    tenant_id   text NOT NULL,
    last_seq    bigint NOT NULL DEFAULT 0,
    acked       bigint NOT NULL DEFAULT 0,
    purged      bigint NOT NULL DEFAULT 0,
    acked_at    timestamptz
);

CREATE TABLE poll_events (
    webhook_id  text NOT NULL,
    seq         bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    tenant_id   text NOT NULL,
    event_id    text NOT NULL,
    event_type  text NOT NULL,
    body        text NOT NULL,          -- the envelope, as a push would send it
    PRIMARY KEY (webhook_id, seq)
);
CREATE UNIQUE INDEX poll_events_event ON poll_events (webhook_id, event_id);
CREATE INDEX poll_events_created ON poll_events (created_at);

-- Append a batch of events, 'rows' a JSON array of {"w": webhook id, "t":
-- tenant, "e": event id, "y": type, "b": body} in the order they are to be
-- fetched. Locks the webhooks' state rows in id order (two dispatchers
-- appending to the same webhooks wait for each other in one order and
-- never deadlock). Returns the events stored (a duplicate is not).
CREATE FUNCTION hl_poll_append(rows json) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  INSERT INTO poll_state (webhook_id, tenant_id)
  SELECT DISTINCT r->>'w', r->>'t' FROM json_array_elements(rows) r ORDER BY 1
  ON CONFLICT (webhook_id) DO NOTHING;
  PERFORM 1 FROM poll_state WHERE webhook_id IN (SELECT r->>'w' FROM json_array_elements(rows) r)
  ORDER BY webhook_id FOR UPDATE;
  WITH x AS (
    SELECT r->>'w' AS w, r->>'t' AS t, r->>'e' AS e, r->>'y' AS y, r->>'b' AS b,
           row_number() OVER (PARTITION BY r->>'w' ORDER BY o) AS k
    FROM json_array_elements(rows) WITH ORDINALITY AS a(r, o)),
  c AS (SELECT w, count(*) AS n FROM x GROUP BY w),
  s AS (UPDATE poll_state p SET last_seq = p.last_seq + c.n FROM c WHERE p.webhook_id = c.w
        RETURNING p.webhook_id, p.last_seq - c.n AS base)
  INSERT INTO poll_events (webhook_id, seq, tenant_id, event_id, event_type, body)
  SELECT x.w, s.base + x.k, x.t, x.e, x.y, x.b FROM x JOIN s ON s.webhook_id = x.w
  ON CONFLICT DO NOTHING;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- One retention batch: up to 1000 events older than 'age' seconds,
-- skipping rows another transaction holds, their webhooks' 'purged'
-- moved on. The state rows are locked in webhook id order, as
-- hl_poll_append locks them. Returns the events deleted.
CREATE FUNCTION hl_poll_retain(age double precision) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  ws text[];
  ss bigint[];
  n bigint;
BEGIN
  SELECT array_agg(o.webhook_id), array_agg(o.seq) INTO ws, ss FROM (
    SELECT webhook_id, seq FROM poll_events WHERE created_at < now() - make_interval(secs => age)
    ORDER BY created_at LIMIT 1000 FOR UPDATE SKIP LOCKED) o;
  IF ws IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM 1 FROM poll_state WHERE webhook_id = ANY (ws) ORDER BY webhook_id FOR UPDATE;
  WITH d AS (
    DELETE FROM poll_events e USING unnest(ws, ss) AS o(webhook_id, seq)
    WHERE e.webhook_id = o.webhook_id AND e.seq = o.seq
    RETURNING e.webhook_id, e.seq),
  m AS (SELECT webhook_id, max(seq) AS seq, count(*) AS n FROM d GROUP BY webhook_id),
  u AS (UPDATE poll_state p SET purged = greatest(p.purged, m.seq) FROM m WHERE p.webhook_id = m.webhook_id)
  SELECT coalesce(sum(m.n), 0) INTO n FROM m;
  RETURN n;
END $$;

-- The state of webhooks that no longer exist goes with their remaining
-- events (the retention job, a batch at a time). Returns rows deleted.
CREATE FUNCTION hl_poll_forget() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  DELETE FROM poll_events e USING (
    SELECT pe.webhook_id, pe.seq FROM poll_state s JOIN poll_events pe ON pe.webhook_id = s.webhook_id
    WHERE NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = s.webhook_id)
    LIMIT 1000 FOR UPDATE OF pe SKIP LOCKED) o
  WHERE e.webhook_id = o.webhook_id AND e.seq = o.seq;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n = 0 THEN
    DELETE FROM poll_state s WHERE NOT EXISTS (SELECT 1 FROM webhooks w WHERE w.id = s.webhook_id)
      AND NOT EXISTS (SELECT 1 FROM poll_events e WHERE e.webhook_id = s.webhook_id);
  END IF;
  RETURN n;
END $$;
