/* routes_deliveries.c: a webhook's delivery attempts and test events.
 *
 *   GET    /v1/webhooks/:id/deliveries?page=&size=|skip=&take=, sort=, success=,
 *          event_type=, since=, until=
 *                                        the attempt log, newest first unless
 *                                        sort=sent_at; since is inclusive, until
 *                                        exclusive (RFC 3339)
 *   POST   /v1/webhooks/:id/deliveries/:did/retry   redeliver now -> 202
 *   DELETE /v1/webhooks/:id/deliveries/:did         forget one attempt record
 *   POST   /v1/webhooks/:id/test         publish a webhook.test event that the
 *                                        dispatchers deliver to this webhook alone
 *
 * The rows are the dispatchers' (sql/002_deliveries.sql); every query names
 * the caller's tenant and the webhook of the path, so a foreign id is absent.
 */
#include "api.h"
#include "attempt_json.h"
#include "list_query.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "publish.h"
#include "time_param.h"

#define DELIVERY_ID_MAX 64
#define TEST_EVENT_TYPE "webhook.test"
#define TEST_EVENT_MESSAGE "This is a test event from hookline."

/* A path id that cannot exist is answered as absent without a query. */
static const char *delivery_webhook_id(struct api_call *call)
{
    const char *id = api_param(call, "id");
    if (id == NULL || strlen(id) > DELIVERY_ID_MAX || strncmp(id, "wh_", 3) != 0) {
        hl_error_set(&call->err, HL_ENOTFOUND, "Webhook not found.");
        return NULL;
    }
    return id;
}

static const char *delivery_attempt_id(struct api_call *call)
{
    const char *did = api_param(call, "did");
    if (did == NULL || *did == '\0' || strlen(did) > DELIVERY_ID_MAX) {
        hl_error_set(&call->err, HL_ENOTFOUND, "Delivery not found.");
        return NULL;
    }
    return did;
}

/* Whether webhook 'id' of the caller's tenant is active, into *active
 * (false unless it returns 0). With 'lock' the row is held FOR SHARE until
 * the caller's transaction ends, so it cannot be disabled in between.
 * Returns 0, HL_ENOTFOUND or HL_EDB. */
static int delivery_webhook_find(struct api_call *call, const char *id, bool lock, bool *active)
{
    return api_webhook_flag(call, lock
        ? "SELECT is_active FROM webhooks WHERE id = $1 AND tenant_id = $2 FOR SHARE"
        : "SELECT is_active FROM webhooks WHERE id = $1 AND tenant_id = $2", id, active);
}

/* The optional timestamp query parameter 'name' into 'out' ("" if absent). */
static int delivery_query_time(struct api_call *call, const char *name, char *out, size_t cap)
{
    const char *s = api_query(call, name);
    out[0] = '\0';
    if (s == NULL)
        return 0;
    if (strlen(s) > TIME_PARAM_MAX || !time_rfc3339_normalize(s, out, cap))
        return hl_error_set(&call->err, HL_EINVAL,
                            "\"%s\" must be an RFC 3339 timestamp such as 2026-11-25T10:00:00Z.", name);
    return 0;
}

/* ---- handlers --------------------------------------------------------------- */

static int delivery_list(struct api_call *call)
{
    static const char *const sorts[] = { "sent_at", NULL };
    struct list_window w;
    int sort = 0;
    bool desc = true;
    char since[TIME_PARAM_OUT], until[TIME_PARAM_OUT], limit[24], offset[24];
    const char *id = delivery_webhook_id(call);
    if (id == NULL)
        return HL_ENOTFOUND;
    if (list_window_parse(call, 100, &w) < 0 || list_sort_parse(call, sorts, &sort, &desc) < 0)
        return HL_EINVAL;
    const char *success = api_query(call, "success");
    if (success != NULL && strcmp(success, "true") != 0 && strcmp(success, "false") != 0)
        return hl_error_set(&call->err, HL_EINVAL, "\"success\" must be true or false.");
    /* an empty event_type is a blank filter field: any type */
    const char *type = api_query(call, "event_type");
    if (type != NULL && *type == '\0')
        type = NULL;
    if (type != NULL && strlen(type) > LIMIT_EVENT_TYPE_MAX)
        return hl_error_set(&call->err, HL_EINVAL, "\"event_type\" must be at most %d characters.",
                            LIMIT_EVENT_TYPE_MAX);
    if (delivery_query_time(call, "since", since, sizeof(since)) < 0 ||
        delivery_query_time(call, "until", until, sizeof(until)) < 0)
        return HL_EINVAL;

    bool active;
    int rc = delivery_webhook_find(call, id, false, &active);
    if (rc < 0)
        return rc;

    snprintf(limit, sizeof(limit), "%ld", w.limit);
    snprintf(offset, sizeof(offset), "%ld", w.offset);
    /* the functions keep their plans per session; the tenant is checked
     * on every row too (a record can only name its own tenant's webhook) */
    const char *params[9] = { call->who.tenant, id, success, type, since[0] ? since : NULL,
                              until[0] ? until : NULL, limit, offset, desc ? "true" : "false" };
    PGresult *res = db_query(call->pg, &call->err,
                             "SELECT hl_delivery_count($1, $2, $3::boolean, $4, $5::timestamptz, $6::timestamptz)", 6,
                             params);
    if (res == NULL)
        return HL_EDB;
    long count = atol(PQgetvalue(res, 0, 0));
    PQclear(res);

    res = db_query(call->pg, &call->err,
                   "SELECT " ATTEMPT_JSON_COLUMNS " FROM hl_delivery_page($1, $2, $3::boolean, $4, $5::timestamptz, "
                   "$6::timestamptz, $7::int, $8::bigint, $9::boolean)", 9, params);
    if (res == NULL)
        return HL_EDB;
    json_t *elements = json_array();
    for (int i = 0; elements && i < PQntuples(res); i++) {
        if (json_array_append_new(elements, attempt_json_from_row(res, i, 0, true)) < 0) {
            json_decref(elements);
            elements = NULL;
        }
    }
    PQclear(res);
    json_t *reply = elements ? list_envelope_new("Delivery", count, &w) : NULL;
    if (reply != NULL && json_object_set_new(reply, "elements", elements) < 0) {
        json_decref(reply);
        reply = NULL;
    } else if (reply == NULL) {
        json_decref(elements);
    }
    if (reply == NULL)
        return hl_error_set(&call->err, HL_ENOMEM, "cannot build the delivery list");
    return api_reply(call, 200, reply);
}

static int delivery_retry(struct api_call *call)
{
    const char *id = delivery_webhook_id(call);
    const char *did = id ? delivery_attempt_id(call) : NULL;
    if (did == NULL)
        return HL_ENOTFOUND;
    const char *params[3] = { did, call->who.tenant, id };
    PGresult *res = NULL;
    bool active;
    int rc;
    if ((rc = db_begin(call->pg, &call->err)) < 0)
        return rc;
    /* held until commit: the webhook cannot be disabled under the new retry */
    if ((rc = delivery_webhook_find(call, id, true, &active)) < 0)
        goto out;
    /* and whether its endpoint is disabled on its own (a 410, or failing too long) */
    res = db_query(call->pg, &call->err,
        "SELECT a.event_id, EXISTS (SELECT 1 FROM webhooks w, jsonb_array_elements(w.endpoints) e "
        "WHERE w.id = a.webhook_id AND e->>'id' = a.endpoint_id AND e->'is_active' = 'false'::jsonb) "
        "FROM attempts a WHERE a.id = $1 AND a.tenant_id = $2 AND a.webhook_id = $3", 3, params);
    if (res == NULL) {
        rc = HL_EDB;
        goto out;
    }
    if (PQntuples(res) != 1) {
        rc = hl_error_set(&call->err, HL_ENOTFOUND, "Delivery not found.");
        goto out;
    }
    if (!active) {
        rc = hl_error_set(&call->err, HL_ECONFLICT, "Webhook is disabled; enable it to retry deliveries.");
        goto out;
    }
    if (strcmp(PQgetvalue(res, 0, 1), "t") == 0) {
        rc = hl_error_set(&call->err, HL_ECONFLICT,
                          "Endpoint is disabled; enable it (\"is_active\": true) to retry deliveries to it.");
        goto out;
    }
    PQclear(res);
    /* the next attempt number continues the delivery's own count; a retry
     * already pending keeps its number and is simply due now */
    res = db_query(call->pg, &call->err,
        "INSERT INTO retries (tenant_id, webhook_id, endpoint_id, event_id, event_type, body_day, attempt, due_at, "
        "lease_until) "
        "SELECT a.tenant_id, a.webhook_id, a.endpoint_id, a.event_id, a.event_type, hl_utc_day(a.sent_at), "
        "1 + (SELECT max(b.attempt) FROM attempts b WHERE b.endpoint_id || ' ' || b.event_id = "
        "a.endpoint_id || ' ' || a.event_id AND b.endpoint_id = a.endpoint_id AND b.event_id = a.event_id), "
        "now(), NULL FROM attempts a WHERE a.id = $1 AND a.tenant_id = $2 AND a.webhook_id = $3 "
        "ON CONFLICT (endpoint_id, event_id) DO UPDATE SET due_at = now(), lease_until = NULL "
        "RETURNING event_id",
        3, params);
    if (res == NULL) {
        rc = call->err.code;
        goto out;
    }
    if (PQntuples(res) != 1) {
        rc = hl_error_set(&call->err, HL_ENOTFOUND, "Delivery not found.");
        goto out;
    }
    if ((rc = db_commit(call->pg, &call->err)) < 0)
        goto out;
    rc = api_reply(call, 202, json_pack("{s:s,s:s,s:b}", "id", did, "event_id", PQgetvalue(res, 0, 0),
                                        "retry_scheduled", 1));
out:
    if (rc != 0)
        db_rollback(call->pg);
    PQclear(res);
    return rc;
}

static int delivery_delete(struct api_call *call)
{
    const char *id = delivery_webhook_id(call);
    const char *did = id ? delivery_attempt_id(call) : NULL;
    if (did == NULL)
        return HL_ENOTFOUND;
    bool active;
    int rc = delivery_webhook_find(call, id, false, &active);
    if (rc < 0)
        return rc;
    const char *params[3] = { did, call->who.tenant, id };
    PGresult *res = db_query(call->pg, &call->err,
        "DELETE FROM attempts WHERE id = $1 AND tenant_id = $2 AND webhook_id = $3 RETURNING id", 3, params);
    if (res == NULL)
        return HL_EDB;
    int found = PQntuples(res) == 1;
    PQclear(res);
    if (!found)
        return hl_error_set(&call->err, HL_ENOTFOUND, "Delivery not found.");
    return api_reply(call, 200, json_pack("{s:s,s:b}", "id", did, "deleted", 1));
}

/* Whether the request has no body worth parsing (none, or only blanks). */
static bool request_body_blank(const struct _u_request *req)
{
    const char *p = req->binary_body;
    for (size_t i = 0; p != NULL && i < req->binary_body_length; i++)
        if (!isspace((unsigned char)p[i]))
            return false;
    return true;
}

static int webhook_test(struct api_call *call)
{
    const char *id = delivery_webhook_id(call);
    json_t *body = NULL, *data = NULL, *env = NULL;
    char *value = NULL;
    int rc = HL_ENOTFOUND;
    if (id == NULL)
        return rc;
    /* no body at all is the plain "send a test event" button */
    if (!request_body_blank(call->req)) {
        if ((body = api_body_object(call)) == NULL) {
            rc = call->err.code;
            goto out;
        }
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v) {
            if (strcmp(k, "payload") != 0) {
                rc = hl_error_set(&call->err, HL_EINVAL, "Unknown field \"%s\".", k);
                goto out;
            }
        }
        data = json_object_get(body, "payload");
        if (data != NULL && !json_is_object(data)) {
            rc = hl_error_set(&call->err, HL_EINVAL, "\"payload\" must be an object.");
            goto out;
        }
    }
    bool active;
    if ((rc = delivery_webhook_find(call, id, false, &active)) < 0)
        goto out;
    if (!active) {
        rc = hl_error_set(&call->err, HL_ECONFLICT, "Webhook is disabled; enable it to send test events.");
        goto out;
    }
    json_t *message = data ? NULL : json_pack("{s:s}", "message", TEST_EVENT_MESSAGE);
    env = envelope_new(NULL, TEST_EVENT_TYPE, call->who.tenant, NULL, data ? data : message);
    json_decref(message);
    /* "webhook_id" makes the dispatchers deliver to this webhook alone */
    if (env == NULL || json_object_set_new(env, "webhook_id", json_string(id)) < 0 ||
        (value = json_dumps(env, JSON_COMPACT)) == NULL) {
        rc = hl_error_set(&call->err, HL_ENOMEM, "cannot build the test event");
        goto out;
    }
    if ((long)strlen(value) > call->ctx->cfg.event_max_bytes) {
        rc = hl_error_set(&call->err, HL_ETOOBIG, "Event is larger than %ld bytes.", call->ctx->cfg.event_max_bytes);
        goto out;
    }
    const char *event_id = json_string_value(json_object_get(env, "id"));
    struct kafka_msg msg = {
        .topic = HL_TOPIC_EVENTS,
        .key = call->who.tenant, .key_len = strlen(call->who.tenant),
        .value = value, .len = strlen(value),
    };
    rc = api_outside_enter(call, "Too many requests are waiting on the event bus; retry shortly.");
    if (rc == 0) {
        rc = publisher_send(call->ctx->pub, &msg, event_id, NULL, &call->err);
        api_outside_leave(call);
    }
    if (rc < 0) {
        if (rc == HL_EINDOUBT)
            call->retry_after_s = (int)((API_KAFKA_TIMEOUT_MS - call->ctx->cfg.publish_timeout_ms) / 1000) + 1;
        goto out;
    }
    rc = api_reply(call, 202, json_pack("{s:s}", "event_id", event_id));
out:
    free(value);
    json_decref(env);
    json_decref(body);
    return rc;
}

const struct api_route routes_deliveries[] = {
    { "GET", "/v1/webhooks/:id/deliveries", SCOPE_WEBHOOKS_READ, true, delivery_list },
    { "POST", "/v1/webhooks/:id/deliveries/:did/retry", SCOPE_WEBHOOKS_WRITE, true, delivery_retry },
    { "DELETE", "/v1/webhooks/:id/deliveries/:did", SCOPE_WEBHOOKS_WRITE, true, delivery_delete },
    { "POST", "/v1/webhooks/:id/test", SCOPE_WEBHOOKS_WRITE, true, webhook_test },
    { NULL, NULL, 0, false, NULL },
};
