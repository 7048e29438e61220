/* webhook_store.c: SQL for webhooks, the outbox and the event catalog. */
#include "webhook_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attempt_json.h"
#include "catalog.h"
#include "db.h"
#include "log.h"
#include "webhook_input.h"
#include "webhook_seal.h"

#define DOC_COLUMNS_FROM_D \
    "d->>'name', d->>'description', d->'endpoints', ARRAY(SELECT jsonb_array_elements_text(d->'events')), " \
    "d->'headers', (d->>'max_retries')::int, (d->>'rate_limit')::int, (d->>'is_active')::boolean, " \
    "CASE WHEN jsonb_typeof(d->'filter') = 'object' THEN d->'filter' END, d->>'secret'"

/* "ordered" (sql/016_ordered.sql) is written only when the document has
 * it: a document without it (a create or change that does not name it, on
 * a database before 016) leaves the column to its default or as it is. */
#define STORE_HAS_ORDERED(doc) (json_object_get((doc), "ordered") != NULL)

/* Parse a stored document and open its secrets. New reference, or NULL
 * with HL_EDB (not JSON) or HL_ESECRET. */
static json_t *store_doc_parse(const struct secretbox *sb, const char *text, struct hl_error *err)
{
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (doc == NULL) {
        hl_error_set(err, HL_EDB, "webhook document is not JSON: %s", jerr.text);
        return NULL;
    }
    if (webhook_open(doc, sb, NULL, err) < 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Run 'sql' (params: id, then optionally tenant) and parse the one
 * document it returns; HL_ENOTFOUND when there is none. */
static json_t *store_doc_query(PGconn *pg, const struct secretbox *sb, const char *sql, int nparams,
                               const char *const *params, struct hl_error *err)
{
    PGresult *res = db_query(pg, err, sql, nparams, params);
    if (res == NULL)
        return NULL;
    json_t *doc = NULL;
    if (PQntuples(res) == 1)
        doc = store_doc_parse(sb, PQgetvalue(res, 0, 0), err);
    else
        hl_error_set(err, HL_ENOTFOUND, "Webhook not found.");
    PQclear(res);
    return doc;
}

static json_t *store_doc_by_id(PGconn *pg, const struct secretbox *sb, const char *id, struct hl_error *err)
{
    const char *params[1] = { id };
    return store_doc_query(pg, sb, "SELECT doc::text FROM webhook_docs WHERE id = $1", 1, params, err);
}

/* 'doc' with its secrets sealed, as compact JSON text (caller frees), or
 * NULL with the reason in 'err'. */
static char *store_doc_sealed_text(const struct secretbox *sb, const json_t *doc, struct hl_error *err)
{
    json_t *sealed = webhook_seal_copy(doc, sb, err);
    char *text = sealed ? json_dumps(sealed, JSON_COMPACT) : NULL;
    if (sealed && text == NULL)
        hl_error_set(err, HL_ENOMEM, "cannot format the webhook");
    json_decref(sealed);
    return text;
}

/* Replace a unique-violation message with the one clients should see. */
static void store_dup_name(struct hl_error *err, const json_t *doc)
{
    if (err && err->code == HL_EDUP) {
        hl_error_clear(err);
        hl_error_set(err, HL_EDUP, "A webhook named \"%s\" already exists.",
                     json_string_value(json_object_get(doc, "name")));
    }
}

json_t *webhook_store_get(PGconn *pg, const struct secretbox *sb, const char *tenant, const char *id, bool lock,
                          struct hl_error *err)
{
    const char *params[2] = { id, tenant };
    return store_doc_query(pg, sb, lock
        ? "SELECT v.doc::text FROM webhooks w JOIN webhook_docs v ON v.id = w.id "
          "WHERE w.id = $1 AND w.tenant_id = $2 FOR UPDATE OF w"
        : "SELECT doc::text FROM webhook_docs WHERE id = $1 AND tenant_id = $2", 2, params, err);
}

json_t *webhook_store_insert(PGconn *pg, const struct secretbox *sb, const json_t *doc, struct hl_error *err)
{
    char *text = store_doc_sealed_text(sb, doc, err);
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *params[1] = { text };
    const char *kind[2] = { id, "webhook.created" };
    json_t *stored = NULL;
    if (text == NULL)
        return NULL;
    if (db_begin(pg, err) < 0)
        goto out;
    if (db_exec(pg, err, STORE_HAS_ORDERED(doc)
            ? "INSERT INTO webhooks (id, tenant_id, created_by, name, description, endpoints, events, headers, "
              "max_retries, rate_limit, is_active, filter, secret, ordered) "
              "SELECT d->>'id', d->>'tenant', d->>'created_by', " DOC_COLUMNS_FROM_D ", (d->>'ordered')::boolean "
              "FROM (SELECT $1::jsonb AS d) s"
            : "INSERT INTO webhooks (id, tenant_id, created_by, name, description, endpoints, events, headers, "
              "max_retries, rate_limit, is_active, filter, secret) "
              "SELECT d->>'id', d->>'tenant', d->>'created_by', " DOC_COLUMNS_FROM_D " FROM (SELECT $1::jsonb AS d) s",
            1, params) < 0) {
        store_dup_name(err, doc);
        goto out;
    }
    if (db_exec(pg, err, "SELECT hl_outbox_webhook($1, $2)", 2, kind) < 0)
        goto out;
    stored = store_doc_by_id(pg, sb, id, err);
    if (stored && db_commit(pg, err) < 0) {
        json_decref(stored);
        stored = NULL;
    }
out:
    if (stored == NULL)
        db_rollback(pg);
    free(text);
    return stored;
}

json_t *webhook_store_update(PGconn *pg, const struct secretbox *sb, const json_t *doc, const char *kind,
                             struct hl_error *err)
{
    char *text = store_doc_sealed_text(sb, doc, err);
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *params[1] = { text };
    const char *kparams[2] = { id, kind };
    json_t *stored = NULL;
    if (text == NULL)
        return NULL;
    PGresult *res = db_query(pg, err, STORE_HAS_ORDERED(doc)
        ? "UPDATE webhooks w SET (name, description, endpoints, events, headers, max_retries, rate_limit, "
          "is_active, filter, secret, ordered) = (SELECT " DOC_COLUMNS_FROM_D ", (d->>'ordered')::boolean), "
          "previous_secret = d->>'previous_secret', "
          "previous_secret_expires_at = (d->>'previous_secret_expires_at')::timestamptz, "
          "disabled_reason = d->>'disabled_reason', updated_at = now(), version = w.version + 1 "
          "FROM (SELECT $1::jsonb AS d) s WHERE w.id = d->>'id' AND w.tenant_id = d->>'tenant' RETURNING w.id"
        : "UPDATE webhooks w SET (name, description, endpoints, events, headers, max_retries, rate_limit, "
          "is_active, filter, secret) = (SELECT " DOC_COLUMNS_FROM_D "), "
          "previous_secret = d->>'previous_secret', "
          "previous_secret_expires_at = (d->>'previous_secret_expires_at')::timestamptz, "
          "disabled_reason = d->>'disabled_reason', updated_at = now(), version = w.version + 1 "
          "FROM (SELECT $1::jsonb AS d) s WHERE w.id = d->>'id' AND w.tenant_id = d->>'tenant' RETURNING w.id",
        1, params);
    if (res == NULL) {
        store_dup_name(err, doc);
        goto out;
    }
    int found = PQntuples(res) == 1;
    PQclear(res);
    if (!found) {
        hl_error_set(err, HL_ENOTFOUND, "Webhook not found.");
        goto out;
    }
    if (db_exec(pg, err, "SELECT hl_outbox_webhook($1, $2)", 2, kparams) < 0)
        goto out;
    stored = store_doc_by_id(pg, sb, id, err);
out:
    free(text);
    return stored;
}

int webhook_store_delete(PGconn *pg, const char *tenant, const char *id, struct hl_error *err)
{
    const char *params[2] = { id, tenant };
    PGresult *res = db_query(pg, err,
        "WITH d AS (DELETE FROM webhooks WHERE id = $1 AND tenant_id = $2 RETURNING id, tenant_id, version) "
        "INSERT INTO outbox (webhook_id, tenant_id, kind, payload) "
        "SELECT id, tenant_id, 'webhook.deleted', jsonb_build_object('type', 'webhook.deleted', "
        "'version', version + 1, 'occurred_at', hl_ts(now()), "
        "'webhook', jsonb_build_object('id', id, 'tenant', tenant_id)) FROM d RETURNING webhook_id",
        2, params);
    if (res == NULL)
        return HL_EDB;
    int found = PQntuples(res) == 1;
    PQclear(res);
    if (!found)
        return hl_error_set(err, HL_ENOTFOUND, "Webhook not found. Unable to delete unknown resource");
    /* its delivery health goes with it (the attempt log ages out), once
     * the webhook is gone: in the same transaction, this waited on an
     * attempt writer adding to those rows while the writer waited on the
     * webhook (a deadlock). A batch recorded after this adds an hour back,
     * which retention removes with its age. */
    struct hl_error e2 = { 0 };
    if (db_exec(pg, &e2, "DELETE FROM webhook_stats WHERE webhook_id = $1 AND tenant_id = $2", 2, params) < 0)
        log_warn("webhook %s deleted, its delivery health left to retention: %s", id, e2.msg);
    return 0;
}

/* 'ids' ('n') as a PostgreSQL text[] literal (caller frees), or NULL. */
static char *store_text_array(const char *const *ids, int n)
{
    size_t cap = 3;
    for (int i = 0; i < n; i++)
        cap += 2 * strlen(ids[i]) + 3;
    char *out = malloc(cap), *o = out;
    if (out == NULL)
        return NULL;
    *o++ = '{';
    for (int i = 0; i < n; i++) {
        if (i)
            *o++ = ',';
        *o++ = '"';
        for (const char *p = ids[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                *o++ = '\\';
            *o++ = *p;
        }
        *o++ = '"';
    }
    *o++ = '}';
    *o = '\0';
    return out;
}

/* Append condition 'cond' (its parameter written $%d) to 'where' for
 * value 'value' when it is set: the query names only the filters given,
 * so the common page is a short statement, quick to parse and plan. */
static void store_list_cond(char *where, size_t cap, const char *cond, const char *value, const char **params,
                            int *nparams)
{
    if (value == NULL)
        return;
    params[*nparams] = value;
    (*nparams)++;
    size_t used = strlen(where);
    char piece[256];
    snprintf(piece, sizeof(piece), cond, *nparams, *nparams, *nparams);
    snprintf(where + used, cap - used, " AND %s", piece);
}

PGresult *webhook_store_list_ids(PGconn *pg, const char *tenant, const struct webhook_list_query *q, long *count,
                                 struct hl_error *err)
{
    char limit[24], offset[24], where[1024] = " FROM webhooks WHERE tenant_id = $1";
    const char *params[10] = { tenant };
    int nparams = 1;
    const char *active = q->active < 0 ? NULL : q->active ? "true" : "false";
    /* the table, not the view: a page needs ids alone, the documents come from the cache */
    store_list_cond(where, sizeof(where), "($%d = ANY(events) OR split_part($%d, '.', 1) = ANY(events))", q->event,
                    params, &nparams);
    store_list_cond(where, sizeof(where), "strpos(lower(name), lower($%d)) > 0", q->name, params, &nparams);
    store_list_cond(where, sizeof(where), "is_active = $%d::boolean", active, params, &nparams);
    store_list_cond(where, sizeof(where), "created_by = $%d", q->created_by, params, &nparams);
    /* a filter value is one string or an array of them: containment covers both */
    store_list_cond(where, sizeof(where), "filter->'data.owner' @> to_jsonb($%d::text)", q->owner, params, &nparams);
    store_list_cond(where, sizeof(where), "filter->'data.team' @> to_jsonb($%d::text)", q->team, params, &nparams);
    static const char *const orders[][2] = {
        [WEBHOOK_SORT_CREATED_AT] = { "created_at, id", "created_at DESC, id DESC" },
        [WEBHOOK_SORT_NAME] = { "name, id", "name DESC, id DESC" },
    };
    snprintf(limit, sizeof(limit), "%ld", q->limit);
    snprintf(offset, sizeof(offset), "%ld", q->offset);
    params[nparams] = limit;
    params[nparams + 1] = offset;
    char sql[1400];
    snprintf(sql, sizeof(sql), "SELECT id, count(*) OVER ()%s ORDER BY %s LIMIT $%d OFFSET $%d", where,
             orders[q->sort][q->desc ? 1 : 0], nparams + 1, nparams + 2);
    PGresult *res = db_query(pg, err, sql, nparams + 2, params);
    if (res == NULL)
        return NULL;
    if (PQntuples(res) > 0) {
        *count = atol(PQgetvalue(res, 0, 1));
        return res;
    }
    *count = 0;
    if (q->offset == 0)
        return res;
    /* past the end: the window saw no row to count on */
    snprintf(sql, sizeof(sql), "SELECT count(*)%s", where);
    PGresult *cres = db_query(pg, err, sql, nparams, params);
    if (cres == NULL) {
        PQclear(res);
        return NULL;
    }
    *count = atol(PQgetvalue(cres, 0, 0));
    PQclear(cres);
    return res;
}

json_t *webhook_store_public_docs(PGconn *pg, const struct secretbox *sb, const char *tenant,
                                  const char *const *ids, int n, struct hl_error *err)
{
    char *arr = store_text_array(ids, n);
    if (arr == NULL) {
        hl_error_set(err, HL_ENOMEM, "out of memory");
        return NULL;
    }
    const char *params[2] = { tenant, arr };
    PGresult *res = db_query(pg, err, "SELECT id, doc::text FROM webhook_docs WHERE tenant_id = $1 AND id = ANY($2::text[])",
                             2, params);
    free(arr);
    if (res == NULL)
        return NULL;
    json_t *docs = json_object();
    for (int i = 0; docs != NULL && i < PQntuples(res); i++) {
        struct hl_error why = { 0 };
        json_t *doc = store_doc_parse(sb, PQgetvalue(res, i, 1), &why);
        if (doc == NULL && why.code == HL_ESECRET) {
            hl_error_set(err, why.code, "%s", why.msg);
            json_decref(docs);
            docs = NULL;
            break;
        }
        if (doc) {
            json_object_set_new(docs, PQgetvalue(res, i, 0), webhook_public(doc, NULL));
            json_decref(doc);
        }
    }
    PQclear(res);
    return docs;
}

json_t *webhook_store_latest_attempts(PGconn *pg, const char *tenant, const char *const *ids, int n,
                                      int per_webhook, struct hl_error *err)
{
    char *arr = store_text_array(ids, n), per[16];
    if (arr == NULL) {
        hl_error_set(err, HL_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(per, sizeof(per), "%d", per_webhook);
    const char *params[3] = { tenant, arr, per };
    PGresult *res = db_query(pg, err,
        "SELECT a.* FROM unnest($2::text[]) WITH ORDINALITY w(id, ord) CROSS JOIN LATERAL ("
        "SELECT " ATTEMPT_JSON_COLUMNS_NO_PAYLOAD ", sent_at AS order_sent_at FROM attempts "
        "WHERE tenant_id = $1 AND webhook_id = w.id ORDER BY sent_at DESC, id DESC LIMIT $3::int) a "
        "ORDER BY w.ord, a.order_sent_at DESC, a.id DESC",
        3, params);
    free(arr);
    if (res == NULL)
        return NULL;
    json_t *by_id = json_object();
    for (int i = 0; by_id != NULL && i < PQntuples(res); i++) {
        const char *wid = PQgetvalue(res, i, 1);
        json_t *list = json_object_get(by_id, wid), *el = attempt_json_from_row(res, i, 0, false);
        if (list == NULL && json_object_set_new(by_id, wid, list = json_array()) < 0)
            list = NULL;
        if (el == NULL || json_array_append_new(list, el) < 0) {
            json_decref(by_id);
            by_id = NULL;
        }
    }
    PQclear(res);
    if (by_id == NULL)
        hl_error_set(err, HL_ENOMEM, "out of memory");
    return by_id;
}

json_t *catalog_names_load(PGconn *pg, struct hl_error *err)
{
    PGresult *res = db_query(pg, err, "SELECT name FROM event_types UNION SELECT group_name FROM event_types", 0, NULL);
    if (res == NULL)
        return NULL;
    json_t *names = json_object();
    for (int i = 0; i < PQntuples(res); i++)
        json_object_set_new(names, PQgetvalue(res, i, 0), json_true());
    PQclear(res);
    return names;
}

json_t *catalog_list_load(PGconn *pg, struct hl_error *err)
{
    PGresult *res = db_query(pg, err,
        "SELECT name, description, group_name FROM event_types ORDER BY group_name, name", 0, NULL);
    if (res == NULL)
        return NULL;
    json_t *types = json_array(), *groups = json_array();
    json_t *group = NULL;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0), *gname = PQgetvalue(res, i, 2);
        json_array_append_new(types, json_pack("{s:s,s:s,s:s}", "name", name,
                                               "description", PQgetvalue(res, i, 1), "group", gname));
        if (group == NULL || strcmp(json_string_value(json_object_get(group, "name")), gname) != 0) {
            /* the catalog is the operator's: its group names have no length limit to size a buffer by */
            json_t *about = strcmp(gname, CATALOG_OPS_GROUP) == 0
                ? json_string("hookline's own events about your webhooks: disabled, failing and recovered "
                              "endpoints, deliveries that failed for good. One about a webhook never goes to "
                              "that webhook itself.")
                : json_sprintf("Every %s.* event.", gname);
            group = json_pack("{s:s,s:o,s:[]}", "name", gname, "description", about, "types");
            json_array_append_new(groups, group);
        }
        json_array_append_new(json_object_get(group, "types"), json_string(name));
    }
    PQclear(res);
    return json_pack("{s:s,s:I,s:o,s:o}", "entities", "WebhookType", "count", (json_int_t)json_array_size(types),
                     "elements", types, "groups", groups);
}
