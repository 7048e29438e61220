/* routes_events.c: publishing events and reading the event catalog.
 *
 *   POST /v1/events         {"type","data"?,"id"?,"occurred_at"?} -> 202 {"id"}
 *                           once Kafka has acknowledged the envelope, 503
 *                           when it does not in time (publish.h).
 *                           An Idempotency-Key seen in the last 24 h gets
 *                           the first answer again and publishes nothing;
 *                           one whose publish is in doubt answers 409.
 *   GET  /v1/webhook-types  the catalog with descriptions and groups
 *
 * A tenant publishes business events only: the operational types
 * (catalog.h) answer 422.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "envelope.h"
#include "idempotency.h"
#include "event_input.h"
#include "log.h"
#include "publish.h"
#include "webhook_store.h"


/* Is 'type' a known event type (not a group: events have one type) that
 * a tenant may publish? The operational types are hookline's own reports
 * on the tenant's webhooks: a tenant cannot forge one. */
static int event_type_check(struct api_call *call, const char *type)
{
    if (catalog_is_operational(type)) {
        api_reply(call, 422, json_pack("{s:s,s:[s]}", "error",
                                       "\"type\" is an operational event type: only hookline produces those.",
                                       "unavailable", type));
        return hl_error_set(&call->err, HL_EUNKNOWN_EVENT, "operational event type");
    }
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

/* Settle the claimed 'key' by how the publish of 'event_id' ended ('rc'). */
static void event_settle_key(struct api_call *call, const char *key, const char *event_id, int rc,
                             const char *reply_text)
{
    PGconn *pg = api_pg(call);
    if (pg == NULL) {
        log_error("Idempotency-Key of event %s for tenant %s not settled: %s", event_id, call->who.tenant,
                  call->err.msg);
        return;
    }
    struct hl_error err = { 0 };
    int src = rc == 0 ? idempotency_answer(pg, call->who.tenant, key, event_id, 202, reply_text, &err)
            : rc == HL_EINDOUBT ? idempotency_mark_in_doubt(pg, call->who.tenant, key, event_id, &err)
            : idempotency_release(pg, call->who.tenant, key, event_id, &err);
    if (src < 0)
        log_error("Idempotency-Key of event %s for tenant %s not settled: %s", event_id, call->who.tenant, err.msg);
}

static int event_publish(struct api_call *call)
{
    json_t *body = api_body_object(call), *env = NULL, *reply = NULL;
    char *value = NULL, *reply_text = NULL;
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
    const char *event_id = json_string_value(json_object_get(env, "id"));
    reply = json_pack("{s:s}", "id", event_id);
    reply_text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    if (reply_text == NULL) {
        rc = hl_error_set(&call->err, HL_ENOMEM, "cannot build the answer");
        goto out;
    }
    if (key != NULL) {
        struct idempotency_seen seen;
        claimed = idempotency_claim(call->pg, call->who.tenant, key, event_id, &seen, &call->err);
        if (claimed == 0) {
            rc = api_reply(call, seen.status, seen.reply);
            u_map_put(call->resp->map_header, "Idempotent-Replayed", "true");
            goto out;
        }
        if (claimed < 0) {
            /* the delivery report settles it within the producer's message timeout */
            if (seen.in_doubt)
                call->retry_after_s = API_KAFKA_TIMEOUT_MS / 1000;
            rc = claimed;
            goto out;
        }
    }
    struct kafka_msg msg = {
        .topic = HL_TOPIC_EVENTS,
        .key = call->who.tenant, .key_len = strlen(call->who.tenant),
        .value = value, .len = strlen(value),
    };
    struct publish_key idem = { .tenant = call->who.tenant, .key = key, .reply = reply_text };
    rc = api_outside_enter(call, "Too many requests are waiting on the event bus; retry shortly.");
    if (rc == 0) {
        rc = publisher_send(call->ctx->pub, &msg, event_id, key ? &idem : NULL, &call->err);
        api_outside_leave(call);
    }
    if (rc == HL_EINDOUBT)
        call->retry_after_s = (int)((API_KAFKA_TIMEOUT_MS - call->ctx->cfg.publish_timeout_ms) / 1000) + 1;
    if (rc == 0) {
        rc = api_reply(call, 202, reply);
        reply = NULL;
    }
    if (claimed == 1)
        event_settle_key(call, key, event_id, rc, reply_text);
out:
    free(reply_text);
    json_decref(reply);
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
