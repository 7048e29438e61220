/* sub_index.c: the in-memory index of webhook subscriptions.
 *
 * by_id holds every known webhook; by_key maps "tenant\x1f<type or group>"
 * to the active webhooks subscribed to it, so matching one event costs two
 * hash lookups whatever other tenants or types hold. Entries are applied
 * by version: a replayed or reordered lifecycle event never undoes a newer
 * one, and deleted webhooks leave a tombstone with their last version.
 */
#include "dispatcher.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "catalog.h"
#include "db.h"
#include "envelope.h"
#include "filter.h"
#include "log.h"

#define LOAD_BATCH 2000

struct sub_list {
    size_t n, cap;
    struct sub **v;
};

struct tombstone {
    long long version;
    unsigned gen;
};

/* Every known webhook by id: open addressing over the subs themselves
 * (the key is s->id, not a copy), linear probing, backward-shift deletion.
 * A strmap costs a slot three times this size plus a key allocation per
 * webhook, a fifth of what a webhook needs. */
struct sub_table {
    struct sub **slots;         /* NULL: empty */
    size_t cap;                 /* a power of two */
    size_t n;
};

struct sub_index {
    struct sub_table by_id;
    struct strmap *by_key;      /* tenant\x1fname -> struct sub_list */
    struct strmap *tombstones;  /* id -> struct tombstone */
    struct strmap *tenants;     /* id -> (void *)1 */
    unsigned stamp;
    unsigned gen;
};

static size_t sub_table_hash(const char *id)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *id; id++) {
        h ^= (unsigned char)*id;
        h *= 1099511628211ULL;
    }
    return (size_t)h;
}

/* The slot holding 'id', or the empty slot where it would go. */
static size_t sub_table_find(const struct sub_table *t, const char *id)
{
    size_t mask = t->cap - 1;
    for (size_t i = sub_table_hash(id) & mask;; i = (i + 1) & mask)
        if (t->slots[i] == NULL || strcmp(t->slots[i]->id, id) == 0)
            return i;
}

static struct sub *sub_table_get(const struct sub_table *t, const char *id)
{
    return t->cap ? t->slots[sub_table_find(t, id)] : NULL;
}

/* Store 's' (replacing a sub with the same id). Returns 0 or -1 (out of memory). */
static int sub_table_put(struct sub_table *t, struct sub *s)
{
    if ((t->n + 1) * 10 > t->cap * 7) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        struct sub **slots = calloc(cap, sizeof(*slots));
        if (slots == NULL)
            return -1;
        struct sub_table grown = { slots, cap, t->n };
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i])
                grown.slots[sub_table_find(&grown, t->slots[i]->id)] = t->slots[i];
        free(t->slots);
        *t = grown;
    }
    size_t i = sub_table_find(t, s->id);
    if (t->slots[i] == NULL)
        t->n++;
    t->slots[i] = s;
    return 0;
}

static void sub_table_del(struct sub_table *t, const char *id)
{
    if (t->cap == 0)
        return;
    size_t mask = t->cap - 1, i = sub_table_find(t, id);
    if (t->slots[i] == NULL)
        return;
    t->slots[i] = NULL;
    t->n--;
    /* move back entries of the run that now could sit earlier */
    for (size_t j = (i + 1) & mask; t->slots[j]; j = (j + 1) & mask) {
        size_t home = sub_table_hash(t->slots[j]->id) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            t->slots[i] = t->slots[j];
            t->slots[j] = NULL;
            i = j;
        }
    }
}

void sub_ref(struct sub *s)
{
    s->refs++;
}

void sub_unref(struct sub *s)
{
    if (s == NULL || --s->refs > 0)
        return;
    for (size_t i = 0; i < s->neps; i++)
        curl_slist_free_all(s->eps[i].headers);
    json_decref(s->filter);
    free(s);    /* its arrays and strings share the allocation */
}

/* Tenant ids and event names, one copy each for the whole process: a
 * webhook's own copies cost more than the rest of it. Never shrinks
 * (bounded by the tenants and event names ever seen); one thread. */
static struct strmap *sub_names;

static const char *sub_intern(const char *name)
{
    if (sub_names == NULL && (sub_names = strmap_new()) == NULL)
        return NULL;
    char *copy = strmap_get(sub_names, name);
    if (copy != NULL)
        return copy;
    if ((copy = strdup(name)) == NULL || strmap_put(sub_names, name, copy, NULL) < 0) {
        free(copy);
        return NULL;
    }
    return copy;
}

static void sub_list_free(void *val)
{
    struct sub_list *l = val;
    free(l->v);
    free(l);
}

struct sub_index *sub_index_new(void)
{
    struct sub_index *idx = calloc(1, sizeof(*idx));
    if (idx == NULL)
        return NULL;
    idx->by_key = strmap_new();
    idx->tombstones = strmap_new();
    idx->tenants = strmap_new();
    if (!idx->by_key || !idx->tombstones || !idx->tenants) {
        sub_index_free(idx);
        return NULL;
    }
    return idx;
}

void sub_index_free(struct sub_index *idx)
{
    if (idx == NULL)
        return;
    strmap_free(idx->by_key, sub_list_free);
    for (size_t i = 0; i < idx->by_id.cap; i++)
        sub_unref(idx->by_id.slots[i]);
    free(idx->by_id.slots);
    strmap_free(idx->tombstones, free);
    strmap_free(idx->tenants, NULL);
    free(idx);
}

/* "tenant\x1fname": sub_from_doc and envelope_parse bound both parts, so
 * the key always fits */
#define INDEX_KEY_MAX (LIMIT_TENANT_ID_MAX + 1 + LIMIT_EVENT_TYPE_MAX + 1)

static void index_key(char *out, size_t cap, const char *tenant, const char *name)
{
    snprintf(out, cap, "%s\x1f%s", tenant, name);
}

static void index_link(struct sub_index *idx, struct sub *s)
{
    char key[INDEX_KEY_MAX];
    for (size_t i = 0; i < s->nevents; i++) {
        index_key(key, sizeof(key), s->tenant, s->events[i]);
        struct sub_list *l = strmap_get(idx->by_key, key);
        if (l == NULL) {
            l = calloc(1, sizeof(*l));
            if (l == NULL || strmap_put(idx->by_key, key, l, NULL) < 0) {
                free(l);
                log_error("subscription index: out of memory");
                continue;
            }
        }
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 4;
            struct sub **v = realloc(l->v, cap * sizeof(*v));
            if (v == NULL)
                continue;
            l->v = v;
            l->cap = cap;
        }
        l->v[l->n++] = s;
    }
}

static void index_unlink(struct sub_index *idx, struct sub *s)
{
    char key[INDEX_KEY_MAX];
    for (size_t i = 0; i < s->nevents; i++) {
        index_key(key, sizeof(key), s->tenant, s->events[i]);
        struct sub_list *l = strmap_get(idx->by_key, key);
        if (l == NULL)
            continue;
        for (size_t j = 0; j < l->n; j++) {
            if (l->v[j] == s) {
                l->v[j] = l->v[--l->n];
                break;
            }
        }
        if (l->n == 0)
            sub_list_free(strmap_del(idx->by_key, key));
    }
}

/* Header lines for one endpoint: the webhook's, overridden by the endpoint's. */
static struct curl_slist *sub_headers(const json_t *wh_headers, const json_t *ep_headers)
{
    json_t *merged = json_object();
    if (json_is_object(wh_headers))
        json_object_update(merged, (json_t *)wh_headers);
    if (json_is_object(ep_headers))
        json_object_update(merged, (json_t *)ep_headers);
    struct curl_slist *list = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(merged, k, v) {
        /* sized to fit: the api bounds names and values, but whatever is
         * stored goes out whole, never cut to a buffer */
        const char *value = json_string_value(v) ? json_string_value(v) : "";
        size_t cap = strlen(k) + 2 + strlen(value) + 1;
        char *line = malloc(cap);
        if (line == NULL)
            continue;
        /* libcurl drops a "Name: " line with nothing but blanks after the
         * colon; "Name;" is its way to send the header with an empty value */
        if (value[strspn(value, " \t")] == '\0')
            snprintf(line, cap, "%s;", k);
        else
            snprintf(line, cap, "%s: %s", k, value);
        list = curl_slist_append(list, line);
        free(line);
    }
    json_decref(merged);
    return list;
}

/* Copy 'str' to *at and advance it. */
static const char *sub_put_str(char **at, const char *str)
{
    size_t len = strlen(str) + 1;
    char *copy = memcpy(*at, str, len);
    *at += len;
    return copy;
}

static struct sub *sub_from_doc(const json_t *doc, long long version)
{
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *tenant = json_string_value(json_object_get(doc, "tenant"));
    const char *secret = json_string_value(json_object_get(doc, "secret"));
    json_t *events = json_object_get(doc, "events"), *eps = json_object_get(doc, "endpoints");
    /* bounds only where a fixed buffer depends on them (the index keys), and
     * then the api's own: a webhook refused here would never get an event;
     * the secrets are copied into an allocation sized to fit */
    if (!id || !tenant || !secret || !json_is_array(events) || !json_is_array(eps) ||
        strlen(id) >= HL_ID_MAX || strlen(tenant) > LIMIT_TENANT_ID_MAX)
        return NULL;
    const char *prev = json_string_value(json_object_get(doc, "previous_secret"));
    /* one allocation: the struct, events[], eps[], then the strings */
    size_t nev = 0, nep = json_array_size(eps), chars = strlen(id) + strlen(secret) + (prev ? strlen(prev) : 0) + 3;
    size_t i;
    json_t *v;
    json_array_foreach(events, i, v) {
        if (json_is_string(v) && json_string_length(v) > LIMIT_EVENT_TYPE_MAX)
            return NULL;
        nev += json_is_string(v);
    }
    json_array_foreach(eps, i, v) {
        const char *eid = json_string_value(json_object_get(v, "id"));
        const char *url = json_string_value(json_object_get(v, "url"));
        if (!eid || !url || strlen(eid) >= HL_ID_MAX)
            return NULL;
        chars += strlen(eid) + strlen(url) + 2;
    }
    struct sub *s = calloc(1, sizeof(*s) + nev * sizeof(*s->events) + nep * sizeof(*s->eps) + chars);
    if (s == NULL)
        return NULL;
    s->events = (const char **)(s + 1);
    s->eps = (struct sub_endpoint *)(s->events + nev);
    char *at = (char *)(s->eps + nep);
    s->refs = 1;
    s->id = sub_put_str(&at, id);
    s->secret = sub_put_str(&at, secret);
    s->prev_secret = sub_put_str(&at, prev ? prev : "");
    s->tenant = sub_intern(tenant);
    s->version = version;
    s->active = json_is_true(json_object_get(doc, "is_active"));
    s->max_retries = (int)json_integer_value(json_object_get(doc, "max_retries"));
    s->rate_limit = (int)json_integer_value(json_object_get(doc, "rate_limit"));
    if (prev)
        s->prev_expires_ms = hl_time_parse_ms(json_string_value(json_object_get(doc, "previous_secret_expires_at")));
    json_t *filter = json_object_get(doc, "filter");
    if (json_is_object(filter) && json_object_size(filter) > 0)
        s->filter = json_incref(filter);
    if (s->tenant == NULL)
        goto fail;
    json_array_foreach(events, i, v) {
        if (json_is_string(v) && (s->events[s->nevents++] = sub_intern(json_string_value(v))) == NULL)
            goto fail;
    }
    json_array_foreach(eps, i, v) {
        struct sub_endpoint *ep = &s->eps[s->neps++];
        ep->id = sub_put_str(&at, json_string_value(json_object_get(v, "id")));
        ep->url = sub_put_str(&at, json_string_value(json_object_get(v, "url")));
        ep->headers = sub_headers(json_object_get(doc, "headers"), json_object_get(v, "headers"));
    }
    return s;
fail:
    sub_unref(s);
    return NULL;
}

static void index_remove(struct sub_index *idx, struct sub *s)
{
    index_unlink(idx, s);
    sub_table_del(&idx->by_id, s->id);
    sub_unref(s);
}

static void index_tombstone(struct sub_index *idx, const char *id, long long version)
{
    struct tombstone *t = strmap_get(idx->tombstones, id);
    if (t == NULL) {
        t = calloc(1, sizeof(*t));
        if (t == NULL || strmap_put(idx->tombstones, id, t, NULL) < 0) {
            free(t);
            return;
        }
    }
    if (version > t->version)
        t->version = version;
    t->gen = idx->gen;
}

int sub_index_apply(struct sub_index *idx, const json_t *doc, long long version, bool deleted)
{
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *tenant = json_string_value(json_object_get(doc, "tenant"));
    if (id == NULL || tenant == NULL)
        return -1;
    struct sub *old = sub_table_get(&idx->by_id, id);
    struct tombstone *t = strmap_get(idx->tombstones, id);
    if ((old && version <= old->version) || (t && version <= t->version)) {
        if (old && version == old->version)
            old->gen = idx->gen;
        return 0;
    }
    if (!strmap_get(idx->tenants, tenant))
        strmap_put(idx->tenants, tenant, (void *)1, NULL);
    struct sub *s = NULL;
    if (!deleted) {
        s = sub_from_doc(doc, version);
        if (s == NULL)
            return -1;
        s->gen = idx->gen;
    }
    if (old)
        index_remove(idx, old);
    if (deleted) {
        index_tombstone(idx, id, version);
        return 1;
    }
    if (sub_table_put(&idx->by_id, s) < 0) {
        sub_unref(s);
        return -1;
    }
    if (s->active)
        index_link(idx, s);
    return 1;
}

struct sweep {
    struct sub_index *idx;
    struct sub **gone;
    size_t n, cap;
    char **stale;
    size_t nstale, capstale;
};

static void sweep_subs(struct sub *s, struct sweep *sw)
{
    if (s->gen == sw->idx->gen)
        return;
    if (sw->n == sw->cap) {
        sw->cap = sw->cap ? sw->cap * 2 : 64;
        sw->gone = realloc(sw->gone, sw->cap * sizeof(*sw->gone));
    }
    if (sw->gone)
        sw->gone[sw->n++] = s;
}

static void sweep_tombstones(const char *key, void *val, void *arg)
{
    struct sweep *sw = arg;
    struct tombstone *t = val;
    /* a tombstone only has to outlive lifecycle events still in flight */
    if (sw->idx->gen - t->gen < 2)
        return;
    if (sw->nstale == sw->capstale) {
        sw->capstale = sw->capstale ? sw->capstale * 2 : 64;
        sw->stale = realloc(sw->stale, sw->capstale * sizeof(*sw->stale));
    }
    if (sw->stale)
        sw->stale[sw->nstale++] = strdup(key);
}

int sub_index_load(struct sub_index *idx, PGconn *pg, struct hl_error *err)
{
    idx->gen++;
    long applied = 0;
    if (db_begin(pg, err) < 0)
        return HL_EDB;
    PGresult *res = db_query(pg, err, "SELECT id FROM tenants", 0, NULL);
    if (res == NULL)
        goto fail;
    for (int i = 0; i < PQntuples(res); i++)
        if (!strmap_get(idx->tenants, PQgetvalue(res, i, 0)))
            strmap_put(idx->tenants, PQgetvalue(res, i, 0), (void *)1, NULL);
    PQclear(res);
    if (db_exec(pg, err, "DECLARE hl_load NO SCROLL CURSOR FOR "
                         "SELECT doc::text, (doc->>'version')::bigint FROM webhook_docs", 0, NULL) < 0)
        goto fail;
    for (;;) {
        res = db_query(pg, err, "FETCH 2000 FROM hl_load", 0, NULL);
        if (res == NULL)
            goto fail;
        int n = PQntuples(res);
        for (int i = 0; i < n; i++) {
            json_t *doc = json_loads(PQgetvalue(res, i, 0), 0, NULL);
            const char *wid = json_string_value(json_object_get(doc, "id"));
            if (doc && sub_index_apply(idx, doc, atoll(PQgetvalue(res, i, 1)), false) >= 0)
                applied++;
            else    /* said once per load: otherwise it would simply never get an event */
                log_warn("webhook %s: its document is malformed or over the limits; not indexed",
                         wid ? wid : "(without an id)");
            json_decref(doc);
        }
        PQclear(res);
        if (n < LOAD_BATCH)
            break;
    }
    if (db_commit(pg, err) < 0)
        goto fail;

    /* whatever the database no longer has was deleted */
    struct sweep sw = { .idx = idx };
    for (size_t i = 0; i < idx->by_id.cap; i++)
        if (idx->by_id.slots[i])
            sweep_subs(idx->by_id.slots[i], &sw);
    for (size_t i = 0; i < sw.n; i++) {
        index_tombstone(idx, sw.gone[i]->id, sw.gone[i]->version);
        index_remove(idx, sw.gone[i]);
    }
    strmap_foreach(idx->tombstones, sweep_tombstones, &sw);
    for (size_t i = 0; i < sw.nstale; i++) {
        free(strmap_del(idx->tombstones, sw.stale[i]));
        free(sw.stale[i]);
    }
    log_info("subscription index loaded: %zu webhooks (%ld read, %zu removed)", idx->by_id.n, applied, sw.n);
    free(sw.gone);
    free(sw.stale);
#ifdef __GLIBC__
    /* the documents parsed on the way were freed between the webhooks kept:
     * give those pages back instead of carrying them as resident memory */
    malloc_trim(0);
#endif
    return 0;
fail:
    db_rollback(pg);
    return HL_EDB;
}

int sub_index_fetch(struct sub_index *idx, PGconn *pg, const char *id, struct sub **out)
{
    struct hl_error err = { 0 };
    const char *params[1] = { id };
    *out = NULL;
    PGresult *res = db_query(pg, &err, "SELECT doc::text, (doc->>'version')::bigint FROM webhook_docs WHERE id = $1",
                             1, params);
    if (res == NULL) {
        log_warn("webhook %s: %s", id, err.msg);
        return -1;
    }
    int found = PQntuples(res) == 1;
    if (found) {
        json_t *doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
        if (doc)
            sub_index_apply(idx, doc, atoll(PQgetvalue(res, 0, 1)), false);
        json_decref(doc);
        *out = sub_table_get(&idx->by_id, id);
    }
    PQclear(res);
    return found && *out ? 1 : found ? -1 : 0;
}

struct sub *sub_index_get(struct sub_index *idx, const char *id)
{
    return sub_table_get(&idx->by_id, id);
}

bool sub_index_knows_tenant(struct sub_index *idx, const char *tenant)
{
    return strmap_get(idx->tenants, tenant) != NULL;
}

size_t sub_index_size(const struct sub_index *idx)
{
    return idx->by_id.n;
}

static void match_list(struct sub_index *idx, const char *key, const json_t *envelope,
                       void (*fn)(struct sub *s, void *arg), void *arg)
{
    struct sub_list *l = strmap_get(idx->by_key, key);
    for (size_t i = 0; l && i < l->n; i++) {
        struct sub *s = l->v[i];
        if (s->stamp == idx->stamp)
            continue;   /* subscribed to both the type and its group */
        s->stamp = idx->stamp;
        if (s->filter == NULL || filter_match(s->filter, envelope))
            fn(s, arg);
    }
}

bool sub_matches(const struct sub *s, const char *tenant, const char *type, const json_t *envelope)
{
    if (!s->active || strcmp(s->tenant, tenant) != 0)
        return false;
    size_t glen = catalog_group_len(type);
    bool named = false;
    for (size_t i = 0; i < s->nevents && !named; i++)
        named = strcmp(s->events[i], type) == 0 ||
                (glen < strlen(type) && strlen(s->events[i]) == glen && strncmp(s->events[i], type, glen) == 0);
    return named && (s->filter == NULL || filter_match(s->filter, envelope));
}

void sub_index_match(struct sub_index *idx, const char *tenant, const char *type, const json_t *envelope,
                     void (*fn)(struct sub *s, void *arg), void *arg)
{
    char key[INDEX_KEY_MAX], group[LIMIT_EVENT_TYPE_MAX + 1];
    idx->stamp++;
    index_key(key, sizeof(key), tenant, type);
    match_list(idx, key, envelope, fn, arg);
    size_t glen = catalog_group_len(type);
    if (glen < strlen(type) && glen < sizeof(group)) {
        memcpy(group, type, glen);
        group[glen] = '\0';
        index_key(key, sizeof(key), tenant, group);
        match_list(idx, key, envelope, fn, arg);
    }
}
