/* routes_recover.c: deliver again what failed for good in a time window.
 *
 *   POST /v1/webhooks/:id/recover {"since": T, "until"?: T}  -> 202
 *        {"recovered": N, "since", "until", "more": bool, "next_since"?}
 *
 * A delivery of an event to an endpoint of the webhook failed for good in
 * [since, until) when its latest attempt record (whenever made) was sent
 * in the window and failed, and no retry of it is pending. Each such
 * delivery, to the webhook's endpoints that are enabled, gets one row in
 * its endpoint's slow lane (the 'retries' rows that dispatcher/lanes.c
 * serves oldest first under the endpoint's rate limit and concurrency),
 * due at a pace of its own, so that the live traffic of the endpoint goes
 * between them; the dispatcher then signs it with the webhook's secret
 * of that moment and records a new attempt. A delivery with a row pending
 * (from a recover still running, a retry, or the slow lane) is left as it
 * is: recovering the same window twice adds nothing. A deleted record is
 * not recovered: only the records kept decide.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "time_param.h"

#define RECOVER_ID_MAX 64
#define RECOVER_WINDOW_DAYS 31      /* until - since, at most: the default retention (30 d) and a day */
#define RECOVER_MAX 100000          /* deliveries one call recovers, the oldest first */
#define RECOVER_RATE 50             /* recovered deliveries due per second per endpoint, at most */
/* the statement timeout of a recover's transaction, above the requests'
 * DB_TIMEOUT_REQUEST_MS: 100,000 rows took 2-10 s on two busy cores */
#define RECOVER_TIMEOUT_MS 30000

/* The body's fields into 'since' and 'until' (normalized; until "" when
 * absent). Returns 0 or HL_EINVAL naming the field. */
static int recover_body_parse(struct api_call *call, const json_t *body, char *since, char *until)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        if (strcmp(k, "since") != 0 && strcmp(k, "until") != 0)
            return hl_error_set(&call->err, HL_EINVAL, "Unknown field \"%s\".", k);
    }
    json_t *s = json_object_get(body, "since"), *u = json_object_get(body, "until");
    if (s == NULL)
        return hl_error_set(&call->err, HL_EINVAL, "\"since\" must be specified (an RFC 3339 timestamp).");
    if (!json_is_string(s) || !time_rfc3339_normalize(json_string_value(s), since, TIME_PARAM_OUT))
        return hl_error_set(&call->err, HL_EINVAL,
                            "\"since\" must be an RFC 3339 timestamp such as 2026-11-25T10:00:00Z.");
    until[0] = '\0';
    if (u != NULL && !json_is_null(u) &&
        (!json_is_string(u) || !time_rfc3339_normalize(json_string_value(u), until, TIME_PARAM_OUT)))
        return hl_error_set(&call->err, HL_EINVAL,
                            "\"until\" must be an RFC 3339 timestamp such as 2026-11-25T10:00:00Z.");
    return 0;
}

/* Check the window and the webhook, held FOR SHARE until the caller's
 * transaction ends (it cannot be disabled or deleted under the new rows).
 * Writes the window as clients see it into 'since_ts' and 'until_ts'.
 * Returns 0, HL_EINVAL, HL_ENOTFOUND, HL_ECONFLICT (disabled) or HL_EDB. */
static int recover_check(struct api_call *call, const char *id, const char *since, const char *until,
                         char *since_ts, char *until_ts, size_t cap)
{
    char days[16];
    snprintf(days, sizeof(days), "%d", RECOVER_WINDOW_DAYS);
    const char *params[5] = { since, until[0] ? until : NULL, days, id, call->who.tenant };
    PGresult *res = db_query(call->pg, &call->err,
        "SELECT x.s < x.u, x.u - x.s <= make_interval(days => $3::int), hl_ts(x.s), hl_ts(x.u), "
        "(SELECT w.is_active FROM webhooks w WHERE w.id = $4 AND w.tenant_id = $5 FOR SHARE) "
        "FROM (SELECT $1::timestamptz AS s, coalesce($2::timestamptz, now()) AS u) x", 5, params);
    if (res == NULL)
        return HL_EDB;
    int rc = 0;
    if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
        rc = hl_error_set(&call->err, HL_EINVAL, until[0] ? "\"since\" must be before \"until\"."
                                                          : "\"since\" must be in the past.");
    else if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
        rc = hl_error_set(&call->err, HL_EINVAL, "\"since\" must be at most %d days before \"until\".",
                          RECOVER_WINDOW_DAYS);
    else if (PQgetisnull(res, 0, 4))
        rc = hl_error_set(&call->err, HL_ENOTFOUND, "Webhook not found.");
    else if (strcmp(PQgetvalue(res, 0, 4), "t") != 0)
        rc = hl_error_set(&call->err, HL_ECONFLICT, "Webhook is disabled; enable it to recover deliveries.");
    snprintf(since_ts, cap, "%s", PQgetvalue(res, 0, 2));
    snprintf(until_ts, cap, "%s", PQgetvalue(res, 0, 3));
    PQclear(res);
    return rc;
}

/* The slow-lane rows of the deliveries to recover, the oldest failures
 * first and at most RECOVER_MAX. The latest record of each delivery is
 * found in one walk of the webhook's log from 'since' on (a later record,
 * even after 'until', decides); row k of an endpoint is due k / pace
 * seconds from now, the pace being RECOVER_RATE or half the endpoint's
 * rate_limit if that is lower. A delivery whose body is no longer stored
 * is left out: a slow-lane row without one would park its lane (the
 * bodies of a day outlive its records by a day, so only a body removed by
 * hand is missing). Sets *count and, when more remain, the send time of
 * the first one left into 'next' ("" otherwise). */
static int recover_insert(struct api_call *call, const char *id, const char *since, const char *until,
                          long *count, char *next, size_t cap)
{
    char max[24], rate[24];
    snprintf(max, sizeof(max), "%d", RECOVER_MAX);
    snprintf(rate, sizeof(rate), "%d", RECOVER_RATE);
    /* until "": now(), the same instant as recover_check's in this transaction */
    const char *params[6] = { id, call->who.tenant, since, until[0] ? until : NULL, max, rate };
    PGresult *res = db_query(call->pg, &call->err,
        "WITH latest AS ("
        "  SELECT DISTINCT ON (a.endpoint_id, a.event_id) a.id, a.tenant_id, a.webhook_id, a.endpoint_id, "
        "  a.event_id, a.event_type, a.attempt, a.success, a.sent_at "
        "  FROM attempts a WHERE a.webhook_id = $1 AND a.tenant_id = $2 AND a.sent_at >= $3::timestamptz "
        "  ORDER BY a.endpoint_id, a.event_id, a.sent_at DESC, a.attempt DESC, a.id DESC), "
        "cand AS ("
        "  SELECT l.*, row_number() OVER (ORDER BY l.sent_at, l.id) AS k FROM latest l "
        "  WHERE NOT l.success AND l.sent_at < coalesce($4::timestamptz, now()) "
        "  AND l.endpoint_id IN (SELECT e->>'id' FROM webhooks w, jsonb_array_elements(w.endpoints) e "
        "                        WHERE w.id = $1 AND hl_endpoint_on(e)) "
        "  AND NOT EXISTS (SELECT 1 FROM retries r WHERE r.endpoint_id = l.endpoint_id AND r.event_id = l.event_id) "
        "  AND EXISTS (SELECT 1 FROM bodies b WHERE b.tenant_id = l.tenant_id AND b.event_id = l.event_id "
        "              AND b.day = hl_utc_day(l.sent_at))), "
        "pick AS ("
        "  SELECT c.*, row_number() OVER (PARTITION BY c.endpoint_id ORDER BY c.k) - 1 AS n "
        "  FROM cand c WHERE c.k <= $5::bigint), "
        "pace AS ("
        "  SELECT CASE WHEN w.rate_limit > 0 THEN least($6::float8, w.rate_limit / 2.0) ELSE $6::float8 END AS per_s "
        "  FROM webhooks w WHERE w.id = $1), "
        "ins AS ("
        "  INSERT INTO retries (tenant_id, webhook_id, endpoint_id, event_id, event_type, body_day, attempt, due_at) "
        "  SELECT p.tenant_id, p.webhook_id, p.endpoint_id, p.event_id, p.event_type, hl_utc_day(p.sent_at), "
        "  p.attempt + 1, now() + make_interval(secs => p.n / pace.per_s) FROM pick p, pace "
        "  ORDER BY p.endpoint_id, p.k "
        "  ON CONFLICT (endpoint_id, event_id) DO NOTHING RETURNING 1) "
        "SELECT (SELECT count(*) FROM ins), (SELECT hl_ts(c.sent_at) FROM cand c WHERE c.k = $5::bigint + 1)",
        6, params);
    if (res == NULL)
        return HL_EDB;
    *count = atol(PQgetvalue(res, 0, 0));
    snprintf(next, cap, "%s", PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

static int webhook_recover(struct api_call *call)
{
    const char *id = api_param(call, "id");
    char since[TIME_PARAM_OUT], until[TIME_PARAM_OUT], since_ts[40], until_ts[40], next[40];
    long count = 0;
    json_t *body = NULL;
    int rc;
    if (id == NULL || strlen(id) > RECOVER_ID_MAX || strncmp(id, "wh_", 3) != 0)
        return hl_error_set(&call->err, HL_ENOTFOUND, "Webhook not found.");
    if ((body = api_body_object(call)) == NULL)
        return call->err.code;
    rc = recover_body_parse(call, body, since, until);
    json_decref(body);
    if (rc < 0)
        return rc;
    if ((rc = db_begin(call->pg, &call->err)) < 0)
        return rc;
    if ((rc = db_timeout_extend(call->pg, RECOVER_TIMEOUT_MS, &call->err)) < 0)
        goto out;
    if ((rc = recover_check(call, id, since, until, since_ts, until_ts, sizeof(since_ts))) < 0 ||
        (rc = recover_insert(call, id, since, until, &count, next, sizeof(next))) < 0 ||
        (rc = db_commit(call->pg, &call->err)) < 0)
        goto out;
    json_t *reply = json_pack("{s:I,s:s,s:s,s:b}", "recovered", (json_int_t)count, "since", since_ts, "until",
                              until_ts, "more", next[0] != '\0');
    if (reply != NULL && next[0] != '\0' && json_object_set_new(reply, "next_since", json_string(next)) < 0) {
        json_decref(reply);
        reply = NULL;
    }
    if (reply == NULL) {
        rc = hl_error_set(&call->err, HL_ENOMEM, "cannot build the reply");
        goto out;
    }
    rc = api_reply(call, 202, reply);
out:
    if (rc != 0)
        db_rollback(call->pg);
    db_timeout_restore(call->pg);
    return rc;
}

const struct api_route routes_recover[] = {
    { "POST", "/v1/webhooks/:id/recover", SCOPE_WEBHOOKS_WRITE, true, webhook_recover },
    { NULL, NULL, 0, false, NULL },
};
