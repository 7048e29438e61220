/* ops_events.c: the operational events of a batch of attempts, as outbox
 * rows in the batch's transaction (contract in ops_events.h; the envelope
 * and the event ids are built by sql/012_operational_events.sql). */
#include "ops_events.h"

#include <stdio.h>

#include "db.h"

#define OPS_TS_MS(col) "hl_ts(to_timestamp(" col " / 1000.0))"

int ops_events_failing(PGconn *pg, const char *rows, long every_ms, struct hl_error *err)
{
    char every[32];
    snprintf(every, sizeof(every), "%ld", every_ms);
    const char *params[2] = { rows, every };
    /* the rows were locked by this transaction's health upsert: no one
     * else decides for them meanwhile */
    return db_exec(pg, err,
        "WITH x AS (SELECT * FROM json_to_recordset($1::json) AS x(endpoint_id text, endpoint_url text, "
        "  fail_ms bigint, fail_event_id text, fail_event_type text, fail_attempt int, fail_status int, "
        "  fail_error text, fail_dlv_id text)), "
        "n AS (UPDATE endpoint_health h SET noticed_failing_since = h.failing_since, failing_noticed_at = now() "
        "  FROM x WHERE h.endpoint_id = x.endpoint_id AND h.failing_since IS NOT NULL "
        "  AND h.noticed_failing_since IS NULL "
        "  AND (h.failing_noticed_at IS NULL "
        "       OR h.failing_noticed_at <= now() - make_interval(secs => $2::float8 / 1000)) "
        "  RETURNING h.webhook_id, h.endpoint_id, h.failing_since, x.endpoint_url, x.fail_ms, x.fail_event_id, "
        "  x.fail_event_type, x.fail_attempt, x.fail_status, x.fail_error, x.fail_dlv_id) "
        "SELECT hl_ops_event(n.webhook_id, 'endpoint.failing', "
        "  hl_ops_event_id('endpoint.failing:' || n.endpoint_id || ':' || hl_ts(n.failing_since)), "
        "  jsonb_build_object('endpoint_id', n.endpoint_id, 'endpoint_url', n.endpoint_url, "
        "    'failing_since', hl_ts(n.failing_since), 'event_id', n.fail_event_id, 'event_type', n.fail_event_type, "
        "    'attempt', n.fail_attempt, 'status_code', n.fail_status, 'error', n.fail_error, "
        "    'delivery_id', n.fail_dlv_id, 'sent_at', " OPS_TS_MS("n.fail_ms") ")) "
        "FROM n ORDER BY n.endpoint_id",
        2, params);
}

int ops_events_recovered(PGconn *pg, const char *rows, struct hl_error *err)
{
    const char *params[1] = { rows };
    /* 'o' reads the notice being cleared: the rows are this transaction's
     * (locked by its health statements), so it is the value 'h' replaces */
    return db_exec(pg, err,
        "WITH x AS (SELECT * FROM json_to_recordset($1::json) "
        "  AS x(endpoint_id text, endpoint_url text, ok_ms bigint)), "
        "n AS (UPDATE endpoint_health h SET noticed_failing_since = NULL FROM x, endpoint_health o "
        "  WHERE h.endpoint_id = x.endpoint_id AND o.endpoint_id = h.endpoint_id AND x.ok_ms IS NOT NULL "
        "  AND h.failing_since IS NULL AND h.noticed_failing_since IS NOT NULL "
        "  RETURNING h.webhook_id, h.endpoint_id, x.endpoint_url, x.ok_ms, o.noticed_failing_since AS since) "
        "SELECT hl_ops_event(n.webhook_id, 'endpoint.recovered', "
        "  hl_ops_event_id('endpoint.recovered:' || n.endpoint_id || ':' || hl_ts(n.since)), "
        "  jsonb_build_object('endpoint_id', n.endpoint_id, 'endpoint_url', n.endpoint_url, "
        "    'failing_since', hl_ts(n.since), 'recovered_at', " OPS_TS_MS("n.ok_ms") ")) "
        "FROM n ORDER BY n.endpoint_id",
        1, params);
}

int ops_events_exhausted(PGconn *pg, const char *failures, struct hl_error *err)
{
    const char *params[1] = { failures };
    return db_exec(pg, err,
        "SELECT hl_ops_event(x.webhook_id, 'delivery.exhausted', "
        "  hl_ops_event_id('delivery.exhausted:' || x.endpoint_id || ':' || x.event_id || ':' || x.attempt), "
        "  jsonb_build_object('endpoint_id', x.endpoint_id, 'endpoint_url', x.endpoint_url, "
        "    'event_id', x.event_id, 'event_type', x.event_type, 'attempts', x.attempt, "
        "    'last_status_code', x.status, 'last_error', x.error, 'last_delivery_id', x.dlv_id, "
        "    'last_attempt_at', " OPS_TS_MS("x.sent_ms") ")) "
        "FROM json_to_recordset($1::json) AS x(webhook_id text, endpoint_id text, endpoint_url text, "
        "  event_id text, event_type text, attempt int, sent_ms bigint, final boolean, gone boolean, "
        "  ops boolean, status int, error text, dlv_id text) "
        "WHERE x.final AND NOT x.gone AND NOT x.ops ORDER BY x.endpoint_id, x.sent_ms",
        1, params);
}

int ops_events_disabled(PGconn *pg, const char *wid, const char *eid, const char *url, const char *reason,
                        const char *detail, struct hl_error *err)
{
    const char *params[5] = { wid, eid, url, reason, detail };
    return db_exec(pg, err,
        "SELECT hl_ops_event(w.id, 'webhook.disabled', "
        "  hl_ops_event_id('webhook.disabled:' || w.id || ':' || w.version), "
        "  jsonb_build_object('endpoint_id', $2::text, 'endpoint_url', $3::text, 'reason', $4::text, "
        "    'detail', $5::text, 'disabled_at', hl_ts(now()))) "
        "FROM webhooks w WHERE w.id = $1",
        5, params);
}
