-- 010: each event's body stored once, and the attempt log and the bodies
-- partitioned by day, so that retention drops whole partitions.
--
-- bodies holds one row per tenant, event and UTC day. An attempt's body is
-- the one of its tenant, event and the UTC day of its sent_at: the
-- dispatcher stores it, once per event and day, in the transaction that
-- records the attempt (a retry made on a later day stores it again in its
-- own day). A pending or due delivery (retries) names its body's day in
-- body_day. The rule that lets whole partitions go:
--   - attempts of day D refer only to bodies of day D;
--   - retries may refer to an older day, so before the bodies of a day go,
--     hl_bodies_carry() copies the bodies that retries still need into
--     today's partition and moves their body_day on;
--   - the bodies of day D go one day after the attempts of day D.
-- A body thus goes with its day's partition, once its last attempt has
-- gone and no retry refers to it. A record deleted on its own keeps its
-- body until then (the other deliveries of the event share it).
--
-- Partitions are one UTC day each, named <table>_pYYYYMMDD, created ahead
-- by hl_partitions_ensure() (here, and by the api's retention job every
-- run) as plain tables attached with ATTACH PARTITION, which takes only a
-- SHARE UPDATE EXCLUSIVE lock on the parent: writers never wait for it.
-- There is no default partition: it would forbid DETACH ... CONCURRENTLY,
-- with which the retention job lets a partition go without blocking
-- writers either.
--
-- The upgrade copies the attempt log into the partitioned table (one pass
-- over it, in this migration's transaction) and each event's body out of
-- it once per day; every pending retry gets its body in today's partition.

CREATE FUNCTION hl_utc_day(t timestamptz) RETURNS date LANGUAGE sql IMMUTABLE AS
$$ SELECT (t AT TIME ZONE 'UTC')::date $$;

-- Create and attach the partition of 'parent' (attempts or bodies) for day
-- 'd' unless it exists. Returns whether it created it.
CREATE FUNCTION hl_partition_add(parent text, d date) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  part text := format('%s_p%s', parent, to_char(d, 'YYYYMMDD'));
  lo text;
  hi text;
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN false;
  END IF;
  IF parent = 'attempts' THEN      -- sent_at, a timestamptz: UTC midnights
    lo := quote_literal(d::text || ' 00:00:00+00');
    hi := quote_literal((d + 1)::text || ' 00:00:00+00');
  ELSE                             -- day, a date
    lo := quote_literal(d::text);
    hi := quote_literal((d + 1)::text);
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS)', part, parent);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', parent, part, lo, hi);
  RETURN true;
END $$;

-- The partitions of both tables from today (UTC) to 'ahead' days on.
-- Returns how many it created.
CREATE FUNCTION hl_partitions_ensure(ahead int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  today date := hl_utc_day(now());
  n int := 0;
BEGIN
  FOR i IN 0 .. ahead LOOP
    n := n + hl_partition_add('attempts', today + i)::int + hl_partition_add('bodies', today + i)::int;
  END LOOP;
  RETURN n;
END $$;

CREATE TABLE bodies (
    tenant_id   text NOT NULL,
    event_id    text NOT NULL,
    day         date NOT NULL,              -- UTC day of the attempts (or retries) that refer to it
    body        text NOT NULL,              -- the exact body that was signed and sent
    PRIMARY KEY (tenant_id, event_id, day)
) PARTITION BY RANGE (day);

-- Bodies that pending retries of days before 'before' still need, copied
-- into today's partition; the retries then refer to that one. Returns the
-- retries moved on.
CREATE FUNCTION hl_bodies_carry(before date) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  today date := hl_utc_day(now());
  n bigint;
BEGIN
  PERFORM hl_partition_add('bodies', today);
  INSERT INTO bodies (tenant_id, event_id, day, body)
  SELECT DISTINCT ON (r.tenant_id, r.event_id) r.tenant_id, r.event_id, today, b.body
  FROM retries r JOIN bodies b ON b.tenant_id = r.tenant_id AND b.event_id = r.event_id AND b.day = r.body_day
  WHERE r.body_day < before
  ORDER BY r.tenant_id, r.event_id, r.body_day DESC
  ON CONFLICT DO NOTHING;
  UPDATE retries SET body_day = today WHERE body_day < before;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;

-- The attempt log, partitioned by sent_at. No payload: the body is in
-- bodies. Fixed-width columns first (no alignment padding between them).
-- No primary key: a unique index of a partitioned table must hold the
-- partition key; ids are random (dlv_ + 16+ random bytes) and looked up
-- through a hash index, 4 bytes of hash per row instead of the whole id.
DROP INDEX attempts_webhook_sent, attempts_event, attempts_sent_at, attempts_webhook_type_sent,
    attempts_webhook_failed_sent;
ALTER TABLE attempts DROP CONSTRAINT attempts_pkey;
ALTER TABLE attempts RENAME TO attempts_009;

CREATE TABLE attempts (
    sent_at         timestamptz NOT NULL,
    next_attempt_at timestamptz,                   -- when the retry is due; NULL: none follows
    attempt         int NOT NULL,                  -- 1 = first attempt
    status_code     int,                           -- NULL: no HTTP response
    duration_ms     int NOT NULL,
    success         boolean NOT NULL,
    id              text NOT NULL,                 -- dlv_...
    tenant_id       text NOT NULL,
    webhook_id      text NOT NULL,
    endpoint_id     text NOT NULL,
    endpoint_url    text NOT NULL,
    event_id        text NOT NULL,
    event_type      text NOT NULL,
    response        text,                          -- bounded excerpt of the response body
    error           text,                          -- why it failed, NULL on success
    dispatcher      text NOT NULL DEFAULT ''       -- which process made it
) PARTITION BY RANGE (sent_at);

SELECT hl_partition_add('attempts', d), hl_partition_add('bodies', d)
FROM (SELECT DISTINCT hl_utc_day(sent_at) AS d FROM attempts_009) days;
SELECT hl_partitions_ensure(7);

INSERT INTO attempts (sent_at, next_attempt_at, attempt, status_code, duration_ms, success, id, tenant_id,
                      webhook_id, endpoint_id, endpoint_url, event_id, event_type, response, error, dispatcher)
SELECT sent_at, next_attempt_at, attempt, status_code, duration_ms, success, id, tenant_id,
       webhook_id, endpoint_id, endpoint_url, event_id, event_type, response, error, dispatcher
FROM attempts_009;

INSERT INTO bodies (tenant_id, event_id, day, body)
SELECT DISTINCT ON (tenant_id, event_id, hl_utc_day(sent_at)) tenant_id, event_id, hl_utc_day(sent_at), payload
FROM attempts_009
ORDER BY tenant_id, event_id, hl_utc_day(sent_at), sent_at DESC;

DROP TABLE attempts_009;

-- The delivery log (newest first, by type, failures); lookups by id
-- (retry, delete) and by endpoint and event (the next attempt's number)
-- through hash indexes; retention of whole days drops partitions, and
-- rows of a retention shorter than two days go through the BRIN index.
-- tenant_id included: the delivery log's count checks it from the index alone
CREATE INDEX attempts_webhook_sent ON attempts (webhook_id, sent_at DESC, id DESC) INCLUDE (tenant_id);
CREATE INDEX attempts_webhook_type_sent ON attempts (webhook_id, event_type, sent_at DESC, id DESC);
CREATE INDEX attempts_webhook_failed_sent ON attempts (webhook_id, sent_at DESC, id DESC) WHERE NOT success;
CREATE INDEX attempts_id ON attempts USING hash (id);
CREATE INDEX attempts_event ON attempts USING hash ((endpoint_id || ' ' || event_id));
CREATE INDEX attempts_sent_at ON attempts USING brin (sent_at);

-- Pending and due deliveries refer to their body.
ALTER TABLE retries ADD COLUMN body_day date;
INSERT INTO bodies (tenant_id, event_id, day, body)
SELECT DISTINCT ON (tenant_id, event_id) tenant_id, event_id, hl_utc_day(now()), payload
FROM retries ORDER BY tenant_id, event_id, id DESC
ON CONFLICT DO NOTHING;
UPDATE retries SET body_day = hl_utc_day(now());
ALTER TABLE retries ALTER COLUMN body_day SET NOT NULL, DROP COLUMN payload;
CREATE INDEX retries_body_day ON retries (body_day);

-- The delivery log of one webhook (GET /v1/webhooks/{id}/deliveries): its
-- count and one page, newest first, each attempt with its body. Plans are
-- generic, made once per session: a custom plan would be made for every
-- request and considers every partition with its indexes (tens of ms with
-- a month of days), where the executor opens only the newest days that the
-- page needs. The unfiltered log, the common case, has a query of its
-- own; filters go through one query that tests each. The body is looked
-- up for the page's rows only, after the LIMIT. The caller checks
-- that the webhook is its tenant's; every row's tenant is checked too
-- (from the index: attempts_webhook_sent includes tenant_id).
CREATE FUNCTION hl_delivery_count(tid text, wid text, ok boolean, etype text, since timestamptz, until timestamptz)
RETURNS bigint LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  n bigint;
BEGIN
  IF ok IS NULL AND etype IS NULL AND since IS NULL AND until IS NULL THEN
    SELECT count(*) INTO n FROM attempts a WHERE a.webhook_id = wid AND a.tenant_id = tid;
  ELSE
    SELECT count(*) INTO n FROM attempts a WHERE a.webhook_id = wid AND a.tenant_id = tid
      AND (ok IS NULL OR a.success = ok) AND (etype IS NULL OR a.event_type = etype)
      AND (since IS NULL OR a.sent_at >= since) AND (until IS NULL OR a.sent_at < until);
  END IF;
  RETURN n;
END $$;

CREATE FUNCTION hl_delivery_page(tid text, wid text, ok boolean, etype text, since timestamptz, until timestamptz,
                                 lim int, skip bigint, newest_first boolean DEFAULT true)
RETURNS TABLE (id text, webhook_id text, endpoint_id text, endpoint_url text, event_id text, event_type text,
               body text, attempt int, status_code int, response text, error text, success boolean,
               sent_at timestamptz, duration_ms int, next_attempt_at timestamptz)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
  -- both orders walk the (webhook_id, sent_at DESC, id DESC) index, one of
  -- them backwards; each branch keeps a plan of its own
  IF ok IS NULL AND etype IS NULL AND since IS NULL AND until IS NULL AND newest_first THEN
    RETURN QUERY
    SELECT a.id, a.webhook_id, a.endpoint_id, a.endpoint_url, a.event_id, a.event_type,
           (SELECT b.body FROM bodies b WHERE b.tenant_id = a.tenant_id AND b.event_id = a.event_id
            AND b.day = hl_utc_day(a.sent_at)),
           a.attempt, a.status_code, a.response, a.error, a.success, a.sent_at, a.duration_ms, a.next_attempt_at
    FROM (SELECT * FROM attempts a WHERE a.webhook_id = wid AND a.tenant_id = tid
          ORDER BY a.sent_at DESC, a.id DESC LIMIT lim OFFSET skip) a
    ORDER BY a.sent_at DESC, a.id DESC;
  ELSIF ok IS NULL AND etype IS NULL AND since IS NULL AND until IS NULL THEN
    RETURN QUERY
    SELECT a.id, a.webhook_id, a.endpoint_id, a.endpoint_url, a.event_id, a.event_type,
           (SELECT b.body FROM bodies b WHERE b.tenant_id = a.tenant_id AND b.event_id = a.event_id
            AND b.day = hl_utc_day(a.sent_at)),
           a.attempt, a.status_code, a.response, a.error, a.success, a.sent_at, a.duration_ms, a.next_attempt_at
    FROM (SELECT * FROM attempts a WHERE a.webhook_id = wid AND a.tenant_id = tid
          ORDER BY a.sent_at, a.id LIMIT lim OFFSET skip) a
    ORDER BY a.sent_at, a.id;
  ELSIF newest_first THEN
    RETURN QUERY
    SELECT a.id, a.webhook_id, a.endpoint_id, a.endpoint_url, a.event_id, a.event_type,
           (SELECT b.body FROM bodies b WHERE b.tenant_id = a.tenant_id AND b.event_id = a.event_id
            AND b.day = hl_utc_day(a.sent_at)),
           a.attempt, a.status_code, a.response, a.error, a.success, a.sent_at, a.duration_ms, a.next_attempt_at
    FROM (SELECT * FROM attempts a WHERE a.webhook_id = wid AND a.tenant_id = tid
            AND (ok IS NULL OR a.success = ok) AND (etype IS NULL OR a.event_type = etype)
            AND (since IS NULL OR a.sent_at >= since) AND (until IS NULL OR a.sent_at < until)
          ORDER BY a.sent_at DESC, a.id DESC LIMIT lim OFFSET skip) a
    ORDER BY a.sent_at DESC, a.id DESC;
  ELSE
    RETURN QUERY
    SELECT a.id, a.webhook_id, a.endpoint_id, a.endpoint_url, a.event_id, a.event_type,
           (SELECT b.body FROM bodies b WHERE b.tenant_id = a.tenant_id AND b.event_id = a.event_id
            AND b.day = hl_utc_day(a.sent_at)),
           a.attempt, a.status_code, a.response, a.error, a.success, a.sent_at, a.duration_ms, a.next_attempt_at
    FROM (SELECT * FROM attempts a WHERE a.webhook_id = wid AND a.tenant_id = tid
            AND (ok IS NULL OR a.success = ok) AND (etype IS NULL OR a.event_type = etype)
            AND (since IS NULL OR a.sent_at >= since) AND (until IS NULL OR a.sent_at < until)
          ORDER BY a.sent_at, a.id LIMIT lim OFFSET skip) a
    ORDER BY a.sent_at, a.id;
  END IF;
END $$;
