/* routes_events.c: publishing events and reading the event catalog.
 *
 *   POST /v1/events         {"type","data"?,"id"?,"occurred_at"?} -> 202 {"id"}
 *                           once Kafka has acknowledged the envelope.
 *                           An Idempotency-Key seen in the last 24 h gets
 *                           the first answer again and publishes nothing.
 *   GET  /v1/webhook-types  the catalog with descriptions and groups
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "event_input.h"
#include "log.h"
#include "webhook_store.h"


/* Is 'type' a known event type (not a group: events have one type)? */
static int event_type_check(struct api_call *call, const char *type)
{
    const char *params[1] = { type };
    PGresult *res = db_query(call->pg, &call->err, "SELECT 1 FROM event_types WHERE name = $1", 1, params);
    if (res == NULL)
        return HL_EDB;
    int known = PQntuples(res) == 1;
    PQclear(res);
    if (!known) {
        api_reply(call, 422, json_pack("{s:s,s:[s]}", "error", "Some events are not available", "unavailable", type));
        return hl_error_set(&call->err, HL_EUNKNOWN_EVENT, "Some events are not available");
    }
    return 0;
}

/* Claim 'key' for this request. Returns 1 if claimed (go on and publish),
 * 0 if an earlier answer was replayed into 'call', or an error code. */
static int idempotency_claim(struct api_call *call, const char *key)
{
    const char *params[2] = { call->who.tenant, key };
    /* an expired claim is someone else's past: forget it first */
    if (db_exec(call->pg, &call->err,
                "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2 AND created_at < now() - interval '24 hours'",
                2, params) < 0)
        return HL_EDB;
    PGresult *res = db_query(call->pg, &call->err,
        "INSERT INTO idempotency_keys (tenant_id, key) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1", 2, params);
    if (res == NULL)
        return HL_EDB;
    int claimed = PQntuples(res) == 1;
    PQclear(res);
    if (claimed)
        return 1;
    res = db_query(call->pg, &call->err,
        "SELECT status, response::text FROM idempotency_keys WHERE tenant_id = $1 AND key = $2", 2, params);
    if (res == NULL)
        return HL_EDB;
    int rc;
    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        rc = hl_error_set(&call->err, HL_ECONFLICT, "A request with this Idempotency-Key is in progress; retry later.");
    } else {
        api_reply(call, atoi(PQgetvalue(res, 0, 0)), json_loads(PQgetvalue(res, 0, 1), 0, NULL));
        u_map_put(call->resp->map_header, "Idempotent-Replayed", "true");
        rc = 0;
    }
    PQclear(res);
    return rc;
}

static void idempotency_settle(struct api_call *call, const char *key, bool ok)
{
    char status[8];
    snprintf(status, sizeof(status), "%d", call->status);
    char *text = ok ? json_dumps(call->reply, JSON_COMPACT) : NULL;
    const char *params[4] = { call->who.tenant, key, status, text };
    struct hl_error err = { 0 };
    int rc = ok ? db_exec(call->pg, &err,
                          "UPDATE idempotency_keys SET status = $3::int, response = $4::jsonb WHERE tenant_id = $1 AND key = $2",
                          4, params)
                : db_exec(call->pg, &err, "DELETE FROM idempotency_keys WHERE tenant_id = $1 AND key = $2", 2, params);
    if (rc < 0)
        log_error("idempotency key for tenant %s not settled: %s", call->who.tenant, err.msg);
    free(text);
}

static int event_publish(struct api_call *call)
{
    json_t *body = api_body_object(call), *env = NULL;
    char *value = NULL;
    int rc = call->err.code, claimed = 0;
    if (body == NULL)
        return rc;
    const char *key = u_map_get_case(call->req->map_header, "Idempotency-Key");
    json_t *type = json_object_get(body, "type"), *data = json_object_get(body, "data");
    json_t *id = json_object_get(body, "id"), *at = json_object_get(body, "occurred_at");
    rc = HL_EINVAL;
    if (key != NULL && hl_limit_check(HL_LIMIT_IDEMPOTENCY_KEY, strlen(key), &call->err) < 0)
        goto out;
    if (event_input_check(body, &call->err) < 0)
        goto out;
    if ((rc = event_type_check(call, json_string_value(type))) < 0)
        goto out;
    env = envelope_new(id ? json_string_value(id) : NULL, json_string_value(type), call->who.tenant,
                       at ? json_string_value(at) : NULL, data);
    value = env ? json_dumps(env, JSON_COMPACT) : NULL;
    if (value == NULL) {
        rc = hl_error_set(&call->err, HL_ENOMEM, "cannot build the envelope");
        goto out;
    }
    if ((long)strlen(value) > call->ctx->cfg.event_max_bytes) {
        rc = hl_error_set(&call->err, HL_ETOOBIG, "Event is larger than %ld bytes.", call->ctx->cfg.event_max_bytes);
        goto out;
    }
    if (key != NULL) {
        claimed = idempotency_claim(call, key);
        if (claimed <= 0) {
            rc = claimed;
            goto out;
        }
    }
    struct kafka_msg msg = {
        .topic = HL_TOPIC_EVENTS,
        .key = call->who.tenant, .key_len = strlen(call->who.tenant),
        .value = value, .len = strlen(value),
    };
    if (kafka_producer_send(call->ctx->kp, &msg, 1, NULL) != 1) {
        rc = hl_error_set(&call->err, HL_EKAFKA, "event %s not acknowledged by Kafka",
                          json_string_value(json_object_get(env, "id")));
        goto out;
    }
    rc = api_reply(call, 202, json_pack("{s:O}", "id", json_object_get(env, "id")));
out:
    if (claimed == 1)
        idempotency_settle(call, key, rc == 0);
    free(value);
    json_decref(env);
    json_decref(body);
    return rc;
}

static int event_types_list(struct api_call *call)
{
    json_t *list = catalog_list_load(call->pg, &call->err);
    return list ? api_reply(call, 200, list) : call->err.code;
}

const struct api_route routes_events[] = {
    { "POST", "/v1/events", SCOPE_EVENTS_WRITE, true, event_publish },
    { "GET", "/v1/webhook-types", SCOPE_WEBHOOKS_READ, true, event_types_list },
    { NULL, NULL, 0, false, NULL },
};
