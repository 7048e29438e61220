/* routes_webhooks.c: the tenant's webhooks.
 *
 *   POST   /v1/webhooks                     create; the secret is shown once
 *   GET    /v1/webhooks?page=&size=&event=&name=&active=
 *   GET    /v1/webhooks/:id                 secret "redacted"
 *   PUT    /v1/webhooks/:id                 replace
 *   PATCH  /v1/webhooks/:id                 change the given fields
 *   DELETE /v1/webhooks/:id
 *   POST   /v1/webhooks/:id/rotate-secret   new secret, shown once; the old
 *                                           one keeps signing for 24 h
 *
 * GET by id answers from the document cache (doc_cache.c) when it can; every
 * write here evicts the webhook from it once committed, before replying.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "doc_cache.h"
#include "envelope.h"
#include "webhook_input.h"
#include "webhook_store.h"

#define ROTATION_OVERLAP_MS (24LL * 3600 * 1000)

/* A path id that cannot exist is answered as absent without a query. */
static const char *webhook_path_id(struct api_call *call)
{
    const char *id = api_param(call, "id");
    if (id == NULL || strlen(id) > 64 || strncmp(id, "wh_", 3) != 0) {
        hl_error_set(&call->err, HL_ENOTFOUND, "Webhook not found.");
        return NULL;
    }
    return id;
}

/* Check the TLS certificate of every endpoint URL in 'doc' that 'old'
 * (may be NULL) did not already have. */
static int webhook_tls_check(struct api_call *call, const json_t *doc, const json_t *old)
{
    if (!call->ctx->cfg.tls_check)
        return 0;
    size_t i, j;
    json_t *ep, *oep;
    json_array_foreach(json_object_get(doc, "endpoints"), i, ep) {
        const char *url = json_string_value(json_object_get(ep, "url"));
        bool known = false;
        json_array_foreach(json_object_get(old, "endpoints"), j, oep)
            known = known || strcmp(json_string_value(json_object_get(oep, "url")), url) == 0;
        if (!known && tls_check_url(call->ctx, url, &call->err) < 0)
            return HL_EINVAL;
    }
    return 0;
}

/* Validate 'body' into 'doc'; on unknown events the reply carries them. */
static int webhook_apply(struct api_call *call, json_t *doc, const json_t *body, enum webhook_mode mode)
{
    json_t *known = catalog_names_load(call->pg, &call->err);
    if (known == NULL)
        return HL_EDB;
    json_t *unknown = NULL;
    struct webhook_rules rules = {
        .policy = &call->ctx->policy,
        .max_retries_cap = call->ctx->cfg.retry_steps,
        .known_events = known,
    };
    int rc = webhook_input_apply(doc, body, mode, &rules, &unknown, &call->err);
    if (rc == HL_EUNKNOWN_EVENT)
        api_reply(call, 422, json_pack("{s:s,s:o}", "error", call->err.msg, "unavailable", unknown));
    else
        json_decref(unknown);
    json_decref(known);
    return rc;
}

static int webhook_create(struct api_call *call)
{
    char id[HL_ID_MAX], secret[HL_SECRET_MAX];
    json_t *body = api_body_object(call), *doc = NULL, *stored = NULL;
    int rc = call->err.code;
    if (body == NULL)
        goto out;
    if (hl_id_new("wh_", id, sizeof(id)) < 0 || hl_secret_new(secret, sizeof(secret)) < 0) {
        rc = hl_error_set(&call->err, HL_EIO, "no randomness available");
        goto out;
    }
    doc = json_pack("{s:s,s:s,s:s,s:s,s:[]}", "id", id, "tenant", call->who.tenant, "secret", secret,
                    "created_by", call->who.key_id, "endpoints");
    if ((rc = webhook_apply(call, doc, body, WEBHOOK_CREATE)) < 0)
        goto out;
    if ((rc = webhook_tls_check(call, doc, NULL)) < 0)
        goto out;
    stored = webhook_store_insert(call->pg, call->ctx->sb, doc, &call->err);
    if (stored == NULL) {
        rc = call->err.code;
        goto out;
    }
    rc = api_reply(call, 201, webhook_public(stored, json_string_value(json_object_get(stored, "secret"))));
out:
    json_decref(stored);
    json_decref(doc);
    json_decref(body);
    return rc;
}

static int webhook_list(struct api_call *call)
{
    struct webhook_list_query q = { .page = 1, .size = 100, .active = -1 };
    if (api_query_int(call, "page", 1, 1000000, &q.page) < 0 || api_query_int(call, "size", 1, 100, &q.size) < 0)
        return HL_EINVAL;
    q.event = api_query(call, "event");
    q.name = api_query(call, "name");
    /* longer than any stored value can be: a mistake, said so rather than an empty page */
    if (q.event != NULL && strlen(q.event) > LIMIT_EVENT_TYPE_MAX)
        return hl_error_set(&call->err, HL_EINVAL, "\"event\" must be at most %d characters.", LIMIT_EVENT_TYPE_MAX);
    if (q.name != NULL && strlen(q.name) > LIMIT_WEBHOOK_NAME_MAX)
        return hl_error_set(&call->err, HL_EINVAL, "\"name\" must be at most %d bytes.", LIMIT_WEBHOOK_NAME_MAX);
    const char *active = api_query(call, "active");
    if (active != NULL) {
        if (strcmp(active, "true") == 0)
            q.active = 1;
        else if (strcmp(active, "false") == 0)
            q.active = 0;
        else
            return hl_error_set(&call->err, HL_EINVAL, "\"active\" must be true or false.");
    }
    json_t *page = webhook_store_list(call->pg, call->ctx->sb, call->who.tenant, &q, &call->err);
    return page ? api_reply(call, 200, page) : call->err.code;
}

/* From the cache, else from PostgreSQL into the cache. Both answers are
 * the same bytes: the compact dump of webhook_public(). */
static int webhook_get(struct api_call *call)
{
    const char *id = webhook_path_id(call);
    if (id == NULL)
        return call->err.code;
    struct doc_cache *dc = call->ctx->docs;
    size_t len = 0;
    uint64_t ticket = 0;
    char *text = doc_cache_get(dc, id, call->who.tenant, &len, &ticket);
    if (text != NULL) {
        int rc = api_reply_text(call, 200, text, len);
        free(text);
        return rc;
    }
    /* the ticket was taken before this read: a change notified meanwhile voids the fill */
    PGconn *pg = api_pg(call);
    json_t *doc = pg ? webhook_store_get(pg, call->ctx->sb, call->who.tenant, id, false, &call->err) : NULL;
    if (doc == NULL)
        return call->err.code ? call->err.code : HL_EDB;
    json_t *pub = webhook_public(doc, NULL);
    json_decref(doc);
    text = json_dumps(pub, JSON_COMPACT);
    json_decref(pub);
    if (text == NULL)
        return hl_error_set(&call->err, HL_ENOMEM, "cannot format the webhook");
    len = strlen(text);
    doc_cache_put(dc, id, call->who.tenant, text, len, ticket);
    int rc = api_reply_text(call, 200, text, len);
    free(text);
    return rc;
}

/* Read-modify-write under a row lock, with the lifecycle event. */
static int webhook_change(struct api_call *call, enum webhook_mode mode)
{
    const char *id = webhook_path_id(call);
    json_t *body = id ? api_body_object(call) : NULL, *old = NULL, *doc = NULL, *stored = NULL;
    int rc = call->err.code;
    if (body == NULL)
        return rc;
    if ((rc = db_begin(call->pg, &call->err)) < 0)
        goto out;
    old = webhook_store_get(call->pg, call->ctx->sb, call->who.tenant, id, true, &call->err);
    if (old == NULL) {
        rc = call->err.code;
        goto out;
    }
    doc = json_deep_copy(old);
    if ((rc = webhook_apply(call, doc, body, mode)) < 0 || (rc = webhook_tls_check(call, doc, old)) < 0)
        goto out;
    stored = webhook_store_update(call->pg, call->ctx->sb, doc, "webhook.updated", &call->err);
    if (stored == NULL) {
        rc = call->err.code;
        goto out;
    }
    if ((rc = db_commit(call->pg, &call->err)) < 0)
        goto out;
    /* after the commit: a GET that read the old row before it cannot store it now */
    doc_cache_evict(call->ctx->docs, id);
    api_reply(call, 200, webhook_public(stored, NULL));
out:
    if (rc != 0)
        db_rollback(call->pg);
    json_decref(stored);
    json_decref(doc);
    json_decref(old);
    json_decref(body);
    return rc;
}

static int webhook_replace(struct api_call *call)
{
    return webhook_change(call, WEBHOOK_REPLACE);
}

static int webhook_patch(struct api_call *call)
{
    return webhook_change(call, WEBHOOK_PATCH);
}

static int webhook_delete(struct api_call *call)
{
    const char *id = api_param(call, "id");
    if (id == NULL || strlen(id) > 64)
        return hl_error_set(&call->err, HL_ENOTFOUND, "Webhook not found. Unable to delete unknown resource");
    if (webhook_store_delete(call->pg, call->who.tenant, id, &call->err) < 0)
        return call->err.code;
    doc_cache_evict(call->ctx->docs, id);
    return api_reply(call, 200, json_pack("{s:s,s:b}", "id", id, "deleted", 1));
}

static int webhook_rotate(struct api_call *call)
{
    char secret[HL_SECRET_MAX], until[40];
    const char *id = webhook_path_id(call);
    json_t *doc = NULL, *stored = NULL;
    int rc = call->err.code;
    if (id == NULL)
        return rc;
    if (hl_secret_new(secret, sizeof(secret)) < 0)
        return hl_error_set(&call->err, HL_EIO, "no randomness available");
    if ((rc = db_begin(call->pg, &call->err)) < 0)
        goto out;
    doc = webhook_store_get(call->pg, call->ctx->sb, call->who.tenant, id, true, &call->err);
    if (doc == NULL) {
        rc = call->err.code;
        goto out;
    }
    hl_time_format(hl_time_now_ms() + ROTATION_OVERLAP_MS, until, sizeof(until));
    json_object_set(doc, "previous_secret", json_object_get(doc, "secret"));
    json_object_set_new(doc, "previous_secret_expires_at", json_string(until));
    json_object_set_new(doc, "secret", json_string(secret));
    stored = webhook_store_update(call->pg, call->ctx->sb, doc, "webhook.secret_rotated", &call->err);
    if (stored == NULL) {
        rc = call->err.code;
        goto out;
    }
    if ((rc = db_commit(call->pg, &call->err)) < 0)
        goto out;
    doc_cache_evict(call->ctx->docs, id);
    json_t *reply = webhook_public(stored, secret);
    json_object_set_new(reply, "previous_secret_expires_at", json_string(until));
    api_reply(call, 200, reply);
out:
    if (rc != 0)
        db_rollback(call->pg);
    json_decref(stored);
    json_decref(doc);
    return rc;
}

const struct api_route routes_webhooks[] = {
    { "POST", "/v1/webhooks", SCOPE_WEBHOOKS_WRITE, true, webhook_create },
    { "GET", "/v1/webhooks", SCOPE_WEBHOOKS_READ, true, webhook_list },
    { "GET", "/v1/webhooks/:id", SCOPE_WEBHOOKS_READ, false, webhook_get },    /* api_pg on a miss */
    { "PUT", "/v1/webhooks/:id", SCOPE_WEBHOOKS_WRITE, true, webhook_replace },
    { "PATCH", "/v1/webhooks/:id", SCOPE_WEBHOOKS_WRITE, true, webhook_patch },
    { "DELETE", "/v1/webhooks/:id", SCOPE_WEBHOOKS_WRITE, true, webhook_delete },
    { "POST", "/v1/webhooks/:id/rotate-secret", SCOPE_WEBHOOKS_WRITE, true, webhook_rotate },
    { NULL, NULL, 0, false, NULL },
};
