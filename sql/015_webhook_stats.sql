-- 015_webhook_stats.sql: delivery health per webhook and hour, and the
-- signature each attempt was sent with. Released migrations are never
-- edited.
--
-- webhook_stats holds one row per webhook and UTC hour: attempts that
-- succeeded and failed, the longest duration, and a histogram of the
-- durations over the fixed buckets of hl_stats_bounds(). The dispatcher
-- adds each batch of attempts to it in the transaction that records them
-- (one INSERT ... ON CONFLICT DO UPDATE, rows in key order: two writers
-- wait for each other in one order and never deadlock), so GET
-- /v1/webhooks/{id}/stats and the list's success_rate_24h read at most 24
-- rows a day per webhook, however many attempts there were. p50/p95 come
-- from the histogram: within the bucket of the rank, interpolated
-- linearly, the top bucket closed by the longest duration seen.
-- The rows go with their webhook (webhook_store_delete) and with age, like
-- the attempt log (api/retention.c). The upgrade fills the table from the
-- attempt log as it stands.

-- Lower bounds (ms) of the duration buckets: bucket i holds
-- [b[i], b[i+1]), the last one everything from 30 s on. Never changed
-- once rows exist: a new set of bounds is a new table.
CREATE FUNCTION hl_stats_bounds() RETURNS int[] LANGUAGE sql IMMUTABLE AS
$$ SELECT '{0,5,10,20,30,50,75,100,150,200,300,500,750,1000,1500,2000,3000,5000,7500,10000,15000,30000}'::int[] $$;

-- The histogram of the durations 'ds' (ms; a negative one counts as 0).
CREATE FUNCTION hl_stats_hist(ds int[]) RETURNS int[] LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg(coalesce(c.n, 0)::int ORDER BY i)
  FROM generate_series(1, cardinality(hl_stats_bounds())) i
  LEFT JOIN (SELECT width_bucket(greatest(v, 0), hl_stats_bounds()) AS k, count(*) AS n
             FROM unnest(ds) v GROUP BY 1) c ON c.k = i
$$;

-- Two histograms added bucket by bucket (NULL: none).
CREATE FUNCTION hl_stats_hist_add(a int[], b int[]) RETURNS int[] LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a
              ELSE ARRAY(SELECT coalesce(x, 0) + coalesce(y, 0) FROM unnest(a, b) WITH ORDINALITY AS u(x, y, o)
                         ORDER BY o) END
$$;

CREATE AGGREGATE hl_stats_hist_sum(int[]) (SFUNC = hl_stats_hist_add, STYPE = int[]);

-- The q-quantile (0 < q <= 1) of the durations counted in 'hist', whose
-- longest was 'max_ms', in ms; NULL when it counts none.
CREATE FUNCTION hl_stats_percentile(hist int[], max_ms int, q float8) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  b int[] := hl_stats_bounds();
  total bigint := 0;
  cum bigint := 0;
  rank float8;
  lo float8;
  hi float8;
BEGIN
  IF hist IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT coalesce(sum(x), 0) INTO total FROM unnest(hist) x;
  IF total = 0 THEN
    RETURN NULL;
  END IF;
  rank := q * total;
  FOR i IN 1 .. cardinality(hist) LOOP
    IF hist[i] > 0 AND cum + hist[i] >= rank THEN
      lo := b[i];
      hi := CASE WHEN i < cardinality(b) THEN b[i + 1] ELSE greatest(max_ms, lo) END;
      hi := least(hi, greatest(max_ms, lo));   -- nothing took longer than the longest
      RETURN round(lo + (hi - lo) * (rank - cum) / hist[i]);
    END IF;
    cum := cum + hist[i];
  END LOOP;
  RETURN max_ms;
END $$;

-- Rows are updated in place many times an hour: room on each page keeps
-- those updates HOT (no indexed column changes).
CREATE TABLE webhook_stats (
    webhook_id  text NOT NULL,
    hour        timestamptz NOT NULL,           -- UTC hour the attempts were sent in
    tenant_id   text NOT NULL,
    succeeded   int NOT NULL,
    failed      int NOT NULL,
    max_ms      int NOT NULL,                   -- longest duration
    hist        int[] NOT NULL,                 -- durations per bucket of hl_stats_bounds()
    PRIMARY KEY (webhook_id, hour)
) WITH (fillfactor = 70);
CREATE INDEX webhook_stats_hour ON webhook_stats (hour);

INSERT INTO webhook_stats (webhook_id, hour, tenant_id, succeeded, failed, max_ms, hist)
SELECT webhook_id, date_trunc('hour', sent_at, 'UTC'), min(tenant_id),
       count(*) FILTER (WHERE success), count(*) FILTER (WHERE NOT success), max(duration_ms),
       hl_stats_hist(array_agg(duration_ms))
FROM attempts GROUP BY 1, 2;

-- The webhook-signature header an attempt went out with (NULL for
-- attempts recorded before this migration): the delivery log shows what
-- was sent, and a signature cannot be made again once its secret rotated.
-- No default: adding the column rewrites nothing.
ALTER TABLE attempts ADD COLUMN signature text;
