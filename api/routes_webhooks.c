/* routes_webhooks.c: the tenant's webhooks.
 *
 *   POST   /v1/webhooks                     create; the secret is shown once
 *   GET    /v1/webhooks?page=&size=|skip=&take=, sort=, event=, name=, active=,
 *          created_by=, owner=, team=, include=deliveries
 *   GET    /v1/webhooks/:id                 secret "redacted"
 *   PUT    /v1/webhooks/:id                 replace
 *   PATCH  /v1/webhooks/:id                 change the given fields
 *   DELETE /v1/webhooks/:id
 *   POST   /v1/webhooks/:id/rotate-secret   new secret, shown once; the old
 *                                           one keeps signing for 24 h
 *
 * GET by id and the list answer from the document cache (doc_cache.c) when they can; every
 * write here evicts the webhook from it once committed, before replying.
 */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "doc_cache.h"
#include "envelope.h"
#include "list_query.h"
#include "log.h"
#include "webhook_input.h"
#include "webhook_stats.h"
#include "webhook_store.h"

#define ROTATION_OVERLAP_MS (24LL * 3600 * 1000)
#define WEBHOOK_CHANGE_TRIES 3   /* reads of the row; a check between two, so 2 suffice */
#define WEBHOOK_CHANGE_AGAIN 1   /* webhook_change_once: endpoints checked, read the row again */
#define WEBHOOK_LIST_SIZE_MAX 100    /* size= and take= */
#define WEBHOOK_LIST_DELIVERIES 5    /* latest attempts embedded per webhook by include=deliveries */
#define WEBHOOK_LIST_FILTER_VALUE_MAX 1024  /* owner= and team=, bytes */

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

/* The endpoints of one request to check: URL and field name of each. */
struct webhook_tls_todo {
    size_t n;
    struct tls_check_target targets[LIMIT_ENDPOINTS_MAX];
    char fields[LIMIT_ENDPOINTS_MAX][48];
};

/* Collect into 'todo' every endpoint URL of 'doc' (borrowed) that neither
 * 'old' (may be NULL) nor 'checked' (URLs checked earlier in this
 * request; may be NULL) has; 'body' names the fields. Returns how many. */
static size_t webhook_tls_todo(const struct api_call *call, const json_t *doc, const json_t *old, const json_t *body,
                               const json_t *checked, struct webhook_tls_todo *todo)
{
    todo->n = 0;
    if (!call->ctx->cfg.tls_check)
        return 0;
    const json_t *wrapped = json_object_get(body, "webhook");
    if (json_object_size(body) == 1 && json_is_object(wrapped))
        body = wrapped;
    bool by_endpoints = json_object_get(body, "endpoints") != NULL;
    size_t i, j;
    json_t *ep, *oep;
    json_array_foreach(json_object_get(doc, "endpoints"), i, ep) {
        const char *url = json_string_value(json_object_get(ep, "url"));
        bool known = url == NULL || todo->n == LIMIT_ENDPOINTS_MAX || json_object_get(checked, url) != NULL;
        json_array_foreach(json_object_get(old, "endpoints"), j, oep)
            known = known || json_equal(json_object_get(oep, "url"), json_object_get(ep, "url"));
        if (known)
            continue;
        if (by_endpoints)
            snprintf(todo->fields[todo->n], sizeof(todo->fields[0]), "endpoints[%zu].url", i);
        else
            snprintf(todo->fields[todo->n], sizeof(todo->fields[0]), "url");
        todo->targets[todo->n] = (struct tls_check_target){ .url = url, .field = todo->fields[todo->n] };
        todo->n++;
    }
    return todo->n;
}

/* Check the TLS certificates of 'todo', all together, holding no pool
 * connection and no worker meanwhile; add the URLs to 'checked' (may be
 * NULL). Returns 0, HL_EINVAL naming the field, or HL_EBUSY. */
static int webhook_tls_check(struct api_call *call, const struct webhook_tls_todo *todo, json_t *checked)
{
    if (todo->n == 0)
        return 0;
    int rc = api_outside_enter(call, "Too many endpoint checks are in progress; retry shortly.");
    if (rc < 0)
        return rc;
    rc = tls_check_urls(call->ctx, todo->targets, todo->n, &call->err);
    api_outside_leave(call);
    for (size_t i = 0; rc == 0 && checked != NULL && i < todo->n; i++)
        json_object_set_new(checked, todo->targets[i].url, json_true());
    return rc;
}

/* Validate 'body' into 'doc'; on unknown events the reply carries them. */
static int webhook_apply(struct api_call *call, json_t *doc, const json_t *body, enum webhook_mode mode)
{
    PGconn *pg = api_pg(call);
    json_t *known = pg ? catalog_names_load(pg, &call->err) : NULL;
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
    struct webhook_tls_todo todo;
    webhook_tls_todo(call, doc, NULL, body, NULL, &todo);
    if ((rc = webhook_tls_check(call, &todo, NULL)) < 0)
        goto out;
    PGconn *pg = api_pg(call);
    stored = pg ? webhook_store_insert(pg, call->ctx->sb, doc, &call->err) : NULL;
    if (stored == NULL) {
        rc = call->err.code ? call->err.code : HL_EDB;
        goto out;
    }
    rc = api_reply(call, 201, webhook_public(stored, json_string_value(json_object_get(stored, "secret"))));
out:
    json_decref(stored);
    json_decref(doc);
    json_decref(body);
    return rc;
}

/* A reply body built up from pieces; 'failed' once an allocation failed. */
struct list_body {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void list_body_add(struct list_body *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 16384;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *buf = realloc(b->buf, cap);
        if (buf == NULL) {
            b->failed = true;
            return;
        }
        b->buf = buf;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

/* An optional text query parameter of at most 'max' bytes into *out (NULL
 * when absent or empty: a blank filter field). Returns 0 or HL_EINVAL. */
static int webhook_list_text(struct api_call *call, const char *name, size_t max, const char **out)
{
    const char *s = api_query(call, name);
    *out = s != NULL && *s != '\0' ? s : NULL;
    if (*out != NULL && strlen(*out) > max)
        return hl_error_set(&call->err, HL_EINVAL, "\"%s\" must be at most %zu bytes.", name, max);
    return 0;
}

/* The query of GET /v1/webhooks into *q, *w and *with_deliveries.
 * Returns 0 or HL_EINVAL naming the parameter. */
static int webhook_list_parse(struct api_call *call, struct webhook_list_query *q, struct list_window *w,
                              bool *with_deliveries)
{
    static const char *const sorts[] = { [WEBHOOK_SORT_CREATED_AT] = "created_at", [WEBHOOK_SORT_NAME] = "name", NULL };
    int sort = WEBHOOK_SORT_CREATED_AT;
    if (list_window_parse(call, WEBHOOK_LIST_SIZE_MAX, w) < 0 || list_sort_parse(call, sorts, &sort, &q->desc) < 0)
        return HL_EINVAL;
    q->sort = (enum webhook_sort)sort;
    q->offset = w->offset;
    q->limit = w->limit;
    /* longer than any stored value can be: a mistake, said so rather than an empty page */
    q->event = api_query(call, "event");
    if (q->event != NULL && strlen(q->event) > LIMIT_EVENT_TYPE_MAX)
        return hl_error_set(&call->err, HL_EINVAL, "\"event\" must be at most %d characters.", LIMIT_EVENT_TYPE_MAX);
    q->name = api_query(call, "name");
    if (q->name != NULL && strlen(q->name) > LIMIT_WEBHOOK_NAME_MAX)
        return hl_error_set(&call->err, HL_EINVAL, "\"name\" must be at most %d bytes.", LIMIT_WEBHOOK_NAME_MAX);
    if (webhook_list_text(call, "created_by", HL_ID_MAX - 1, &q->created_by) < 0 ||
        webhook_list_text(call, "owner", WEBHOOK_LIST_FILTER_VALUE_MAX, &q->owner) < 0 ||
        webhook_list_text(call, "team", WEBHOOK_LIST_FILTER_VALUE_MAX, &q->team) < 0)
        return HL_EINVAL;
    const char *active = api_query(call, "active");
    if (active != NULL) {
        if (strcmp(active, "true") == 0)
            q->active = 1;
        else if (strcmp(active, "false") == 0)
            q->active = 0;
        else
            return hl_error_set(&call->err, HL_EINVAL, "\"active\" must be true or false.");
    }
    const char *include = api_query(call, "include");
    if (include != NULL && strcmp(include, "deliveries") != 0)
        return hl_error_set(&call->err, HL_EINVAL, "\"include\" must be \"deliveries\" (or left out).");
    *with_deliveries = include != NULL;
    return 0;
}

/* The page is the ids from PostgreSQL (one query on the tenant's index)
 * and each webhook's text from the document cache, the same bytes GET by
 * id sends; only the documents not cached are read and formatted, in one
 * more query, and cached for the next page. The reply is put together
 * from those texts, never parsed again: formatting 100 documents per page
 * was most of what a page cost. */
static int webhook_list(struct api_call *call)
{
    struct webhook_list_query q = { .active = -1 };
    struct list_window w;
    bool with_deliveries = false;
    int rc = webhook_list_parse(call, &q, &w, &with_deliveries);
    if (rc < 0)
        return rc;
    long count = 0;
    PGresult *res = webhook_store_list_ids(call->pg, call->who.tenant, &q, &count, &call->err);
    if (res == NULL)
        return call->err.code ? call->err.code : HL_EDB;

    int n = PQntuples(res), nmiss = 0;
    const char *ids[WEBHOOK_LIST_SIZE_MAX], *miss_ids[WEBHOOK_LIST_SIZE_MAX];
    char *texts[WEBHOOK_LIST_SIZE_MAX] = { 0 };
    size_t lens[WEBHOOK_LIST_SIZE_MAX] = { 0 };
    uint64_t tickets[WEBHOOK_LIST_SIZE_MAX] = { 0 };
    int miss_at[WEBHOOK_LIST_SIZE_MAX];
    json_t *docs = NULL, *deliveries = NULL, *env = NULL;
    char *head = NULL;
    struct list_body body = { 0 };
    if (n > WEBHOOK_LIST_SIZE_MAX)
        n = WEBHOOK_LIST_SIZE_MAX;
    for (int i = 0; i < n; i++) {
        ids[i] = PQgetvalue(res, i, 0);
        /* the ticket is taken before the read below: a change notified meanwhile voids the fill */
        texts[i] = doc_cache_get(call->ctx->docs, ids[i], call->who.tenant, &lens[i], &tickets[i]);
        if (texts[i] == NULL) {
            miss_ids[nmiss] = ids[i];
            miss_at[nmiss++] = i;
        }
    }
    if (nmiss > 0) {
        docs = webhook_store_public_docs(call->pg, call->ctx->sb, call->who.tenant, miss_ids, nmiss, &call->err);
        if (docs == NULL) {
            rc = call->err.code ? call->err.code : HL_EDB;
            goto out;
        }
        for (int m = 0; m < nmiss; m++) {
            int i = miss_at[m];
            json_t *pub = json_object_get(docs, ids[i]);
            if (pub == NULL)
                continue;   /* deleted since the ids were read: left out, as a moment later */
            if ((texts[i] = json_dumps(pub, JSON_COMPACT)) == NULL) {
                rc = hl_error_set(&call->err, HL_ENOMEM, "cannot format the webhook");
                goto out;
            }
            lens[i] = strlen(texts[i]);
            doc_cache_put(call->ctx->docs, ids[i], call->who.tenant, texts[i], lens[i], tickets[i]);
        }
    }
    if (with_deliveries && n > 0) {
        deliveries = webhook_store_latest_attempts(call->pg, call->who.tenant, ids, n, WEBHOOK_LIST_DELIVERIES,
                                                   &call->err);
        if (deliveries == NULL) {
            rc = call->err.code ? call->err.code : HL_EDB;
            goto out;
        }
    }

    /* a live figure beside the cached documents (webhook_stats.c); the list
     * does not fail for want of it: the rates are null then */
    double rates[WEBHOOK_LIST_SIZE_MAX];
    struct hl_error why = { 0 };
    if (webhook_stats_rates(call->pg, call->who.tenant, ids, n, rates, &why) < 0)
        log_warn("webhook list of %s: no success rates: %s", call->who.tenant, why.msg);

    env = list_envelope_new("Webhook", count, &w);
    if (env == NULL || json_object_set_new(env, "elements", json_array()) < 0 ||
        (head = json_dumps(env, JSON_COMPACT)) == NULL) {
        rc = hl_error_set(&call->err, HL_ENOMEM, "cannot build the webhook list");
        goto out;
    }
    /* "...,"elements":[]}" without its "]}": the elements go in between */
    list_body_add(&body, head, strlen(head) - 2);
    bool first = true;
    for (int i = 0; i < n; i++) {
        if (texts[i] == NULL)
            continue;
        if (!first)
            list_body_add(&body, ",", 1);
        first = false;
        /* a document is one object: its last byte is its closing brace */
        char rate[48];
        int rate_len = webhook_stats_rate_field(rates[i], rate, sizeof(rate));
        list_body_add(&body, texts[i], lens[i] - 1);
        list_body_add(&body, rate, (size_t)rate_len);
        if (!with_deliveries) {
            list_body_add(&body, "}", 1);
            continue;
        }
        json_t *recent = json_object_get(deliveries, ids[i]);
        char *arr = recent ? json_dumps(recent, JSON_COMPACT) : NULL;
        if (recent != NULL && arr == NULL) {
            body.failed = true;
            break;
        }
        list_body_add(&body, ",\"deliveries\":", 14);
        list_body_add(&body, arr ? arr : "[]", arr ? strlen(arr) : 2);
        list_body_add(&body, "}", 1);
        free(arr);
    }
    list_body_add(&body, "]}", 2);
    rc = body.failed ? hl_error_set(&call->err, HL_ENOMEM, "cannot build the webhook list")
                     : api_reply_text(call, 200, body.buf, body.len);
out:
    for (int i = 0; i < n; i++)
        free(texts[i]);
    free(body.buf);
    free(head);
    json_decref(env);
    json_decref(docs);
    json_decref(deliveries);
    PQclear(res);
    return rc;
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

/* One try of a read-modify-write under the row's lock, with the lifecycle
 * event. When the change brings endpoints not checked yet, the lock and
 * the connection are let go, they are checked, and the try ends with
 * WEBHOOK_CHANGE_AGAIN: the next one reads the row afresh. Returns 0 with
 * the stored document in *stored, WEBHOOK_CHANGE_AGAIN, or an error. */
static int webhook_change_once(struct api_call *call, const char *id, const json_t *body, enum webhook_mode mode,
                               json_t *checked, json_t **stored)
{
    json_t *old = NULL, *doc = NULL;
    PGconn *pg = api_pg(call);
    int rc = pg ? db_begin(pg, &call->err) : HL_EDB;
    if (rc < 0)
        goto out;
    if ((old = webhook_store_get(pg, call->ctx->sb, call->who.tenant, id, true, &call->err)) == NULL) {
        rc = call->err.code;
        goto out;
    }
    doc = json_deep_copy(old);
    if ((rc = webhook_apply(call, doc, body, mode)) < 0)
        goto out;
    struct webhook_tls_todo todo;
    if (webhook_tls_todo(call, doc, old, body, checked, &todo) > 0) {
        /* no lock, transaction or connection held while endpoints answer */
        db_rollback(pg);
        rc = webhook_tls_check(call, &todo, checked);
        pg = NULL;
        if (rc == 0)
            rc = WEBHOOK_CHANGE_AGAIN;
        goto out;
    }
    *stored = webhook_store_update(pg, call->ctx->sb, doc, "webhook.updated", &call->err);
    rc = *stored ? db_commit(pg, &call->err) : call->err.code;
out:
    if (rc != 0 && pg != NULL)
        db_rollback(pg);
    json_decref(doc);
    json_decref(old);
    return rc;
}

/* Read-modify-write: one try, or two when new endpoints are checked in
 * between (a change made meanwhile is then read and kept). */
static int webhook_change(struct api_call *call, enum webhook_mode mode)
{
    const char *id = webhook_path_id(call);
    json_t *body = id ? api_body_object(call) : NULL, *stored = NULL, *checked = json_object();
    int rc = call->err.code;
    if (body == NULL)
        goto out;
    if (checked == NULL) {
        rc = hl_error_set(&call->err, HL_ENOMEM, "out of memory");
        goto out;
    }
    for (int attempt = 1; attempt <= WEBHOOK_CHANGE_TRIES; attempt++) {
        rc = webhook_change_once(call, id, body, mode, checked, &stored);
        if (rc != WEBHOOK_CHANGE_AGAIN)
            break;
    }
    if (rc == WEBHOOK_CHANGE_AGAIN)
        rc = hl_error_set(&call->err, HL_ECONFLICT, "The webhook's endpoints kept changing while this request ran; "
                          "retry.");
    if (rc < 0)
        goto out;
    /* after the commit: a GET that read the old row before it cannot store it now */
    doc_cache_evict(call->ctx->docs, id);
    api_reply(call, 200, webhook_public(stored, NULL));
out:
    json_decref(stored);
    json_decref(checked);
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
