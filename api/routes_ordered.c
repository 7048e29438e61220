/* routes_ordered.c: the lines of an ordered webhook ("ordered": true,
 * sql/016_ordered.sql).
 *
 *   GET  /v1/webhooks/:id/waiting          each endpoint's head (the delivery
 *                                          the others wait behind), how many
 *                                          wait behind it, and the first 10 of
 *                                          them in their order
 *   POST /v1/webhooks/:id/deliveries/:did/skip
 *                                          give up the head whose delivery
 *                                          attempt record 'did' names; the next
 *                                          one goes at once
 *
 * 'did' is the id of an attempt record (the delivery log's "id") of the
 * head's event at that endpoint, usually its latest failed attempt. A
 * skipped delivery keeps its attempt records (failed, with no retry
 * pending): POST .../deliveries/{did}/retry or .../recover can deliver it
 * again later, at the head of the line. Every query names the caller's
 * tenant and the webhook of the path, so a foreign id is absent.
 */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define ORDERED_ID_MAX 64

static const char *ordered_webhook_id(struct api_call *call)
{
    const char *id = api_param(call, "id");
    if (id == NULL || strlen(id) > ORDERED_ID_MAX || strncmp(id, "wh_", 3) != 0) {
        hl_error_set(&call->err, HL_ENOTFOUND, "Webhook not found.");
        return NULL;
    }
    return id;
}

#define ORDERED_NEXT_TEXT "10"     /* the deliveries shown waiting behind a head, in their order */

/* The head of each lane: 'sending' while a dispatcher has it out (taken
 * under its lane's current lease), 'held' while it waits on its next
 * attempt after a failure, else 'due'. */
#define ORDERED_HEADS_SQL \
    "SELECT e->>'id', e->>'url', h.event_id, h.event_type, h.attempt, hl_ts(h.due_at), " \
    "CASE WHEN h.epoch IS NOT NULL AND h.epoch = l.epoch AND l.lease_until > now() THEN 'sending' " \
    "     WHEN h.due_at > now() THEN 'held' ELSE 'due' END, " \
    "(SELECT count(*) FROM retries r WHERE r.endpoint_id = e->>'id') - (h.id IS NOT NULL)::int, " \
    "(SELECT a.id FROM attempts a WHERE a.endpoint_id = e->>'id' AND a.event_id = h.event_id " \
    "   ORDER BY a.sent_at DESC, a.attempt DESC LIMIT 1), " \
    "(SELECT a.status_code FROM attempts a WHERE a.endpoint_id = e->>'id' AND a.event_id = h.event_id " \
    "   ORDER BY a.sent_at DESC, a.attempt DESC LIMIT 1), " \
    "(SELECT coalesce(json_agg(json_build_object('event_id', n.event_id, 'event_type', n.event_type) " \
    "   ORDER BY n.pos NULLS FIRST, n.due_at, n.id), '[]') FROM (SELECT r.event_id, r.event_type, r.pos, r.due_at, " \
    "   r.id FROM retries r WHERE r.endpoint_id = e->>'id' AND r.id <> h.id " \
    "   ORDER BY r.pos NULLS FIRST, r.due_at, r.id LIMIT " ORDERED_NEXT_TEXT ") n) " \
    "FROM webhooks w CROSS JOIN LATERAL jsonb_array_elements(w.endpoints) WITH ORDINALITY AS x(e, n) " \
    "LEFT JOIN LATERAL (SELECT * FROM retries r WHERE r.endpoint_id = e->>'id' " \
    "   ORDER BY r.pos NULLS FIRST, r.due_at, r.id LIMIT 1) h ON true " \
    "LEFT JOIN lanes l ON l.endpoint_id = e->>'id' " \
    "WHERE w.id = $1 AND w.tenant_id = $2 AND e->>'kind' IS NULL ORDER BY x.n"

static int ordered_waiting(struct api_call *call)
{
    const char *id = ordered_webhook_id(call);
    if (id == NULL)
        return HL_ENOTFOUND;
    bool ordered;
    int rc = api_webhook_flag(call, "SELECT ordered FROM webhooks WHERE id = $1 AND tenant_id = $2", id, &ordered);
    if (rc < 0)
        return rc;
    const char *params[2] = { id, call->who.tenant };
    PGresult *res = db_query(call->pg, &call->err, ORDERED_HEADS_SQL, 2, params);
    if (res == NULL)
        return HL_EDB;
    json_t *eps = json_array();
    for (int i = 0; eps && i < PQntuples(res); i++) {
        json_t *head = json_null();
        if (!PQgetisnull(res, i, 2))
            head = json_pack("{s:s,s:s,s:i,s:s,s:s,s:o,s:o}", "event_id", PQgetvalue(res, i, 2),
                             "event_type", PQgetvalue(res, i, 3), "attempt", atoi(PQgetvalue(res, i, 4)),
                             "due_at", PQgetvalue(res, i, 5), "state", PQgetvalue(res, i, 6),
                             "delivery_id", PQgetisnull(res, i, 8) ? json_null() : json_string(PQgetvalue(res, i, 8)),
                             "last_status", PQgetisnull(res, i, 9) ? json_null()
                                                                  : json_integer(atol(PQgetvalue(res, i, 9))));
        json_t *next = json_loads(PQgetvalue(res, i, 10), 0, NULL);
        json_t *ep = json_pack("{s:s,s:s?,s:o,s:I,s:o}", "endpoint_id", PQgetvalue(res, i, 0),
                               "url", PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1), "head", head,
                               "waiting", (json_int_t)atoll(PQgetvalue(res, i, 7)),
                               "next", next ? next : json_array());
        if (ep == NULL || json_array_append_new(eps, ep) < 0) {
            json_decref(eps);
            eps = NULL;
        }
    }
    PQclear(res);
    json_t *reply = eps ? json_pack("{s:s,s:b,s:o}", "webhook_id", id, "ordered", (int)ordered, "endpoints", eps)
                        : NULL;
    if (reply == NULL)
        return hl_error_set(&call->err, HL_ENOMEM, "cannot build the answer");
    return api_reply(call, 200, reply);
}

static int ordered_skip(struct api_call *call)
{
    const char *id = ordered_webhook_id(call);
    const char *did = id ? api_param(call, "did") : NULL;
    if (did == NULL || *did == '\0' || strlen(did) > ORDERED_ID_MAX)
        return id ? hl_error_set(&call->err, HL_ENOTFOUND, "Delivery not found.") : HL_ENOTFOUND;
    const char *params[3] = { did, call->who.tenant, id };
    PGresult *res = NULL;
    bool ordered;
    int rc;
    if ((rc = db_begin(call->pg, &call->err)) < 0)
        return rc;
    /* held until commit: "ordered" cannot change under the skip */
    if ((rc = api_webhook_flag(call, "SELECT ordered FROM webhooks WHERE id = $1 AND tenant_id = $2 FOR SHARE", id,
                               &ordered)) < 0)
        goto out;
    /* the attempt record, and its delivery's row if that is its lane's head */
    res = db_query(call->pg, &call->err,
        "SELECT a.endpoint_id, a.event_id, h.id, h.event_id = a.event_id "
        "FROM attempts a LEFT JOIN LATERAL (SELECT r.id, r.event_id FROM retries r WHERE r.endpoint_id = a.endpoint_id "
        "  ORDER BY r.pos NULLS FIRST, r.due_at, r.id LIMIT 1 FOR UPDATE) h ON true "
        "WHERE a.id = $1 AND a.tenant_id = $2 AND a.webhook_id = $3 LIMIT 1", 3, params);
    if (res == NULL) {
        rc = HL_EDB;
        goto out;
    }
    if (PQntuples(res) != 1) {
        rc = hl_error_set(&call->err, HL_ENOTFOUND, "Delivery not found.");
        goto out;
    }
    if (!ordered) {
        rc = hl_error_set(&call->err, HL_ECONFLICT, "Webhook is not ordered: its deliveries hold nothing back.");
        goto out;
    }
    if (PQgetisnull(res, 0, 2) || strcmp(PQgetvalue(res, 0, 3), "t") != 0) {
        rc = hl_error_set(&call->err, HL_ECONFLICT,
                          "Delivery is not the head of its endpoint's line (delivered, exhausted, skipped, or "
                          "waiting behind another): nothing to skip.");
        goto out;
    }
    char endpoint[ORDERED_ID_MAX + 1], event[ORDERED_ID_MAX * 4];
    snprintf(endpoint, sizeof(endpoint), "%s", PQgetvalue(res, 0, 0));
    snprintf(event, sizeof(event), "%s", PQgetvalue(res, 0, 1));
    const char *row[2] = { PQgetvalue(res, 0, 2), endpoint };
    /* the next head goes at once: its lane wakes at its due time (unless parked) */
    if ((rc = db_exec(call->pg, &call->err, "DELETE FROM retries WHERE id = $1::bigint", 1, row)) < 0 ||
        (rc = db_exec(call->pg, &call->err,
                      "UPDATE lanes SET next_due_at = hl_lane_due(endpoint_id, true) "
                      "WHERE endpoint_id = $1 AND next_due_at IS NOT NULL", 1, row + 1)) < 0 ||
        (rc = db_commit(call->pg, &call->err)) < 0)
        goto out;
    log_info("tenant %s skipped event %s at endpoint %s of ordered webhook %s", call->who.tenant, event, endpoint, id);
    rc = api_reply(call, 200, json_pack("{s:s,s:s,s:s,s:b}", "id", did, "event_id", event, "endpoint_id", endpoint,
                                        "skipped", 1));
out:
    if (rc != 0)
        db_rollback(call->pg);
    PQclear(res);
    return rc;
}

const struct api_route routes_ordered[] = {
    { "GET", "/v1/webhooks/:id/waiting", SCOPE_WEBHOOKS_READ, true, ordered_waiting },
    { "POST", "/v1/webhooks/:id/deliveries/:did/skip", SCOPE_WEBHOOKS_WRITE, true, ordered_skip },
    { NULL, NULL, 0, false, NULL },
};
