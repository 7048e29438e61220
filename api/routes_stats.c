/* routes_stats.c: a webhook's delivery health, and one delivery as sent.
 *
 *   GET /v1/webhooks/:id/stats?since=&bucket=
 *       per bucket (1h, the default, or 1d; UTC) from 'since' (RFC 3339,
 *       default 24 h ago, at most STATS_SINCE_MAX_DAYS back) to now: the
 *       attempts that succeeded and failed, p50 and p95 duration (ms), and
 *       the same over the whole window; read from webhook_stats
 *       (sql/015_webhook_stats.sql), never from the attempt log
 *   GET /v1/webhooks/:id/deliveries/:did
 *       one attempt with its payload, the request as it went out (method,
 *       url, the hookline headers with the signature it was sent with:
 *       stored with the attempt, never made again from the secret), and
 *       every attempt of that event to that endpoint, oldest first
 *
 * Every query names the caller's tenant: another tenant's ids are absent.
 */
#include "api.h"
#include "attempt_json.h"
#include "time_param.h"

#include <stdlib.h>
#include <string.h>

#define STATS_SINCE_MAX_DAYS 31
#define STATS_ID_MAX 64
#define STATS_TIME_MAX 64
#define STATS_HISTORY_MAX 100    /* attempts of one event to one endpoint shown */

/* A path id that cannot exist is answered as absent without a query. */
static const char *stats_path_id(struct api_call *call, const char *name, const char *prefix, const char *absent)
{
    const char *id = api_param(call, name);
    if (id == NULL || *id == '\0' || strlen(id) > STATS_ID_MAX || (prefix && strncmp(id, prefix, strlen(prefix)) != 0)) {
        hl_error_set(&call->err, HL_ENOTFOUND, "%s", absent);
        return NULL;
    }
    return id;
}

/* 0 if webhook 'id' is the caller's tenant's, else HL_ENOTFOUND or HL_EDB. */
static int stats_webhook_check(struct api_call *call, const char *id)
{
    const char *params[2] = { id, call->who.tenant };
    PGresult *res = db_query(call->pg, &call->err, "SELECT 1 FROM webhooks WHERE id = $1 AND tenant_id = $2", 2,
                             params);
    if (res == NULL)
        return HL_EDB;
    int rc = PQntuples(res) == 1 ? 0 : hl_error_set(&call->err, HL_ENOTFOUND, "Webhook not found.");
    PQclear(res);
    return rc;
}

static json_t *stats_int_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_integer(strtoll(PQgetvalue(res, row, col), NULL, 10));
}

/* Columns 1.. of 'row': succeeded, failed, p50, p95, as an object. */
static json_t *stats_bucket(const PGresult *res, int row)
{
    long long ok = strtoll(PQgetvalue(res, row, 1), NULL, 10), bad = strtoll(PQgetvalue(res, row, 2), NULL, 10);
    json_t *b = json_pack("{s:I,s:I,s:o,s:o}", "succeeded", (json_int_t)ok, "failed", (json_int_t)bad,
                          "p50_ms", stats_int_or_null(res, row, 3), "p95_ms", stats_int_or_null(res, row, 4));
    if (b != NULL && ok + bad > 0)
        json_object_set_new(b, "success_rate", json_real((double)(ok * 10000 / (ok + bad)) / 10000.0));
    else if (b != NULL)
        json_object_set_new(b, "success_rate", json_null());
    return b;
}

/* The buckets from the one holding 'since' to the one holding now, each
 * with its figures (row kind 0), then the whole window's (kind 1). */
#define STATS_SQL \
    "WITH b AS (SELECT generate_series(date_trunc($4, $3::timestamptz, 'UTC'), date_trunc($4, now(), 'UTC'), " \
    "           ('1 ' || $4)::interval) AS start), " \
    "s AS (SELECT date_trunc($4, hour, 'UTC') AS start, sum(succeeded) AS ok, sum(failed) AS bad, " \
    "      max(max_ms) AS mx, hl_stats_hist_sum(hist) AS h FROM webhook_stats " \
    "      WHERE webhook_id = $1 AND tenant_id = $2 AND hour >= date_trunc($4, $3::timestamptz, 'UTC') " \
    "      GROUP BY 1), " \
    "t AS (SELECT sum(ok) AS ok, sum(bad) AS bad, max(mx) AS mx, hl_stats_hist_sum(h) AS h FROM s) " \
    "SELECT hl_ts(start), ok, bad, p50, p95 FROM (" \
    "  SELECT 0 AS kind, b.start, coalesce(s.ok, 0) AS ok, coalesce(s.bad, 0) AS bad, " \
    "  hl_stats_percentile(s.h, s.mx, 0.5) AS p50, hl_stats_percentile(s.h, s.mx, 0.95) AS p95 " \
    "  FROM b LEFT JOIN s USING (start) " \
    "  UNION ALL SELECT 1, NULL, coalesce(t.ok, 0), coalesce(t.bad, 0), hl_stats_percentile(t.h, t.mx, 0.5), " \
    "  hl_stats_percentile(t.h, t.mx, 0.95) FROM t) r ORDER BY kind, start"

static int stats_get(struct api_call *call)
{
    const char *id = stats_path_id(call, "id", "wh_", "Webhook not found.");
    if (id == NULL)
        return HL_ENOTFOUND;
    const char *bucket = api_query(call, "bucket");
    const char *unit = "hour";
    if (bucket != NULL && strcmp(bucket, "1d") == 0)
        unit = "day";
    else if (bucket != NULL && strcmp(bucket, "1h") != 0)
        return hl_error_set(&call->err, HL_EINVAL, "\"bucket\" must be 1h or 1d.");
    char since[STATS_TIME_MAX + 8] = "";
    const char *s = api_query(call, "since");
    if (s != NULL && (strlen(s) > STATS_TIME_MAX || !time_rfc3339_normalize(s, since, sizeof(since))))
        return hl_error_set(&call->err, HL_EINVAL,
                            "\"since\" must be an RFC 3339 timestamp such as 2026-11-25T10:00:00Z.");
    int rc = stats_webhook_check(call, id);
    if (rc < 0)
        return rc;
    char max_days[16];
    snprintf(max_days, sizeof(max_days), "%d", STATS_SINCE_MAX_DAYS);
    const char *check[2] = { since[0] ? since : NULL, max_days };
    PGresult *res = db_query(call->pg, &call->err,
        "SELECT hl_ts(t), t < now() - make_interval(days => $2::int), t > now(), hl_ts(now()) "
        "FROM (SELECT coalesce($1::timestamptz, now() - interval '24 hours') AS t) s", 2, check);
    if (res == NULL)
        return HL_EDB;
    bool too_old = strcmp(PQgetvalue(res, 0, 1), "t") == 0, future = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    char from[40], until[40];
    snprintf(from, sizeof(from), "%s", PQgetvalue(res, 0, 0));
    snprintf(until, sizeof(until), "%s", PQgetvalue(res, 0, 3));
    PQclear(res);
    if (too_old)
        return hl_error_set(&call->err, HL_EINVAL, "\"since\" must be within the last %d days.",
                            STATS_SINCE_MAX_DAYS);
    if (future)
        return hl_error_set(&call->err, HL_EINVAL, "\"since\" must not be in the future.");
    const char *params[4] = { id, call->who.tenant, from, unit };
    res = db_query(call->pg, &call->err, STATS_SQL, 4, params);
    if (res == NULL)
        return HL_EDB;
    json_t *buckets = json_array(), *totals = NULL;
    for (int i = 0; buckets != NULL && i < PQntuples(res); i++) {
        json_t *b = stats_bucket(res, i);
        if (b == NULL) {
            json_decref(buckets);
            buckets = NULL;
        } else if (PQgetisnull(res, i, 0)) {
            totals = b;
        } else {
            json_object_set_new(b, "start", json_string(PQgetvalue(res, i, 0)));
            json_array_append_new(buckets, b);
        }
    }
    PQclear(res);
    json_t *reply = buckets && totals
        ? json_pack("{s:s,s:s,s:s,s:s,s:o,s:o}", "webhook_id", id, "bucket", unit[0] == 'h' ? "1h" : "1d",
                    "since", from, "until", until, "totals", totals, "buckets", buckets)
        : NULL;
    if (reply == NULL) {
        json_decref(buckets);
        json_decref(totals);
        return hl_error_set(&call->err, HL_ENOMEM, "cannot build the stats");
    }
    return api_reply(call, 200, reply);
}

/* The headers hookline sent with the attempt in row 0 of 'res' (columns
 * 15..: signature, unix seconds of sent_at): webhook-id is the event id,
 * webhook-timestamp the second it was sent. The webhook's own custom
 * headers are its configuration's, not kept per attempt. */
static json_t *delivery_request(const PGresult *res, const char *event_id, const char *url)
{
    char agent[64];
    snprintf(agent, sizeof(agent), "hookline/%s", HOOKLINE_VERSION);
    json_t *headers = json_pack("{s:s,s:s,s:s,s:s,s:o}", "content-type", "application/json", "user-agent", agent,
                                "webhook-id", event_id, "webhook-timestamp", PQgetvalue(res, 0, 16),
                                "webhook-signature",
                                PQgetisnull(res, 0, 15) ? json_null() : json_string(PQgetvalue(res, 0, 15)));
    return headers ? json_pack("{s:s,s:s,s:o}", "method", "POST", "url", url, "headers", headers) : NULL;
}

static int delivery_get(struct api_call *call)
{
    const char *id = stats_path_id(call, "id", "wh_", "Webhook not found.");
    const char *did = id ? stats_path_id(call, "did", NULL, "Delivery not found.") : NULL;
    if (did == NULL)
        return HL_ENOTFOUND;
    const char *params[3] = { did, call->who.tenant, id };
    PGresult *res = db_query(call->pg, &call->err,
        "SELECT a.id, a.webhook_id, a.endpoint_id, a.endpoint_url, a.event_id, a.event_type, "
        "(SELECT b.body FROM bodies b WHERE b.tenant_id = a.tenant_id AND b.event_id = a.event_id "
        " AND b.day = hl_utc_day(a.sent_at)), a.attempt, a.status_code, a.response, a.error, a.success, "
        "hl_ts(a.sent_at), a.duration_ms, hl_ts(a.next_attempt_at), a.signature, "
        "floor(extract(epoch FROM a.sent_at))::bigint "
        "FROM attempts a WHERE a.id = $1 AND a.tenant_id = $2 AND a.webhook_id = $3", 3, params);
    if (res == NULL)
        return HL_EDB;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return hl_error_set(&call->err, HL_ENOTFOUND, "Delivery not found.");
    }
    json_t *el = attempt_json_from_row(res, 0, 0, true);
    json_t *request = delivery_request(res, PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 3));
    char key[2 * STATS_ID_MAX + 300];
    snprintf(key, sizeof(key), "%s %s", PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 4));
    PQclear(res);
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", STATS_HISTORY_MAX);
    const char *hparams[4] = { key, call->who.tenant, id, limit };
    /* through the hash index on endpoint and event (sql/010) */
    res = db_query(call->pg, &call->err,
        "SELECT " ATTEMPT_JSON_COLUMNS_NO_PAYLOAD " FROM attempts "
        "WHERE endpoint_id || ' ' || event_id = $1 AND tenant_id = $2 AND webhook_id = $3 "
        "ORDER BY sent_at, id LIMIT $4::int", 4, hparams);
    json_t *history = res ? json_array() : NULL;
    for (int i = 0; res && history && i < PQntuples(res); i++)
        if (json_array_append_new(history, attempt_json_from_row(res, i, 0, false)) < 0) {
            json_decref(history);
            history = NULL;
        }
    int failed = res == NULL;
    PQclear(res);
    if (el == NULL || request == NULL || history == NULL) {
        json_decref(el);
        json_decref(request);
        json_decref(history);
        return failed ? HL_EDB : hl_error_set(&call->err, HL_ENOMEM, "cannot build the delivery");
    }
    json_object_set_new(el, "request", request);
    json_object_set_new(el, "history", history);
    return api_reply(call, 200, el);
}

const struct api_route routes_stats[] = {
    { "GET", "/v1/webhooks/:id/stats", SCOPE_WEBHOOKS_READ, true, stats_get },
    { "GET", "/v1/webhooks/:id/deliveries/:did", SCOPE_WEBHOOKS_READ, true, delivery_get },
    { NULL, NULL, 0, false, NULL },
};
