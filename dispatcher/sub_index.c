/* sub_index.c: the in-memory index of webhook subscriptions.
 *
 * by_id holds every known webhook; by_key maps "tenant\x1f<type or group>"
 * to the active webhooks subscribed to it, so matching one event costs two
 * hash lookups whatever other tenants or types hold. Entries are applied
 * by version: a replayed or reordered lifecycle event never undoes a newer
 * one, and deleted webhooks leave a tombstone with their last version.
 *
 * Documents come with their secrets and header values sealed
 * (webhook_seal.h); they are opened here, into the webhook's own
 * allocation and its header lines, and live nowhere else. A webhook whose
 * values do not open is left out of the index (its events are not
 * delivered, its slow-lane rows wait) and reported: once per version in the
 * log, and in the count sub_index_undecryptable() gives to /metrics.
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
#include "endpoint_auth.h"
#include "envelope.h"
#include "filter.h"
#include "log.h"
#include "webhook_seal.h"

#define LOAD_BATCH 1000       /* webhooks read per statement of a load */
#define HL_STR_(x) #x
#define HL_STR(x) HL_STR_(x)
/* A sync reads the webhooks created since the last one began, and this
 * much before: a webhook's created_at is its transaction's start, which
 * commits (and becomes visible) a little later. */
#define SYNC_MARGIN_MS 60000
#define SYNC_FETCH_MAX 200     /* new webhooks read per sync */

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
    const struct secretbox *sb; /* borrowed */
    struct sub_table by_id;
    struct strmap *by_key;      /* tenant\x1fname -> struct sub_list */
    struct strmap *tombstones;  /* id -> struct tombstone */
    struct strmap *tenants;     /* id -> (void *)1 */
    struct strmap *sealed_shut; /* id -> struct tombstone: the last version whose values did not open */
    unsigned stamp;
    unsigned gen;
    bool loading;               /* a paged load is under way (sub_index_load_step) */
    char load_after[HL_ID_MAX];        /* the last id it read */
    long load_read;
    sub_new_fn *on_new;         /* an active webhook the index did not know */
    void *on_new_arg;
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
    /* the opened secrets go with the webhook; header lines as libcurl frees them */
    memset((char *)s->secret, 0, strlen(s->secret));
    memset((char *)s->prev_secret, 0, strlen(s->prev_secret));
    for (size_t i = 0; i < s->neps; i++) {
        curl_slist_free_all(s->eps[i].headers);
        if (s->eps[i].authorization) {
            memset(s->eps[i].authorization, 0, strlen(s->eps[i].authorization));
            free(s->eps[i].authorization);
        }
    }
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

struct sub_index *sub_index_new(const struct secretbox *sb)
{
    struct sub_index *idx = calloc(1, sizeof(*idx));
    if (idx == NULL)
        return NULL;
    idx->sb = sb;
    idx->by_key = strmap_new();
    idx->tombstones = strmap_new();
    idx->tenants = strmap_new();
    idx->sealed_shut = strmap_new();
    if (!idx->by_key || !idx->tombstones || !idx->tenants || !idx->sealed_shut) {
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
    strmap_free(idx->sealed_shut, free);
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

/* Open each value of headers object 'h' (field "<prefix><name>") into
 * 'merged', replacing a value of the same name. Returns 0 or -1 ('err'). */
static int sub_headers_open(const struct secretbox *sb, const char *tenant, const char *id, const json_t *h,
                            const char *prefix, json_t *merged, struct hl_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)h, k, v) {
        char *field = NULL, *value = NULL;
        if (asprintf(&field, "%s%s", prefix, k) < 0)
            return hl_error_set(err, HL_ENOMEM, "out of memory");
        value = webhook_field_open(sb, tenant, id, field, json_string_value(v) ? json_string_value(v) : "", err);
        free(field);
        if (value == NULL)
            return -1;
        json_object_set_new(merged, k, json_string(value));
        memset(value, 0, strlen(value));
        free(value);
    }
    return 0;
}

/* Header lines for endpoint 'ep' of webhook 'doc': the webhook's,
 * overridden by the endpoint's, opened. Sets *out (NULL = none); returns 0,
 * or -1 with the reason in 'err' when a value does not open. */
static int sub_headers(const struct secretbox *sb, const json_t *doc, const json_t *ep, struct curl_slist **out,
                       struct hl_error *err)
{
    const char *tenant = json_string_value(json_object_get(doc, "tenant"));
    const char *id = json_string_value(json_object_get(doc, "id"));
    char prefix[HL_ID_MAX + 32];
    snprintf(prefix, sizeof(prefix), "endpoints/%s/headers/", json_string_value(json_object_get(ep, "id")));
    json_t *merged = json_object();
    *out = NULL;
    if (merged == NULL || sub_headers_open(sb, tenant, id, json_object_get(doc, "headers"), "headers/", merged, err) < 0 ||
        sub_headers_open(sb, tenant, id, json_object_get(ep, "headers"), prefix, merged, err) < 0) {
        json_decref(merged);
        return -1;
    }
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
        *out = curl_slist_append(*out, line);
        memset(line, 0, cap);
        free(line);
    }
    json_decref(merged);
    return 0;
}

/* The Authorization line of endpoint 'ep' of webhook 'doc' from its
 * credentials, opened. Sets *out (NULL = none); returns 0, or -1 with the
 * reason in 'err' when a value does not open. */
static int sub_auth(const struct secretbox *sb, const json_t *doc, const json_t *ep, char **out, struct hl_error *err)
{
    const json_t *auth = json_object_get(ep, "auth");
    *out = NULL;
    if (!json_is_object(auth))
        return 0;
    const char *tenant = json_string_value(json_object_get(doc, "tenant"));
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *epid = json_string_value(json_object_get(ep, "id"));
    json_t *opened = json_object();
    int rc = opened ? 0 : hl_error_set(err, HL_ENOMEM, "out of memory");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)auth, k, v) {
        if (rc < 0)
            break;
        if (strcmp(k, "type") == 0) {
            json_object_set(opened, k, v);
            continue;
        }
        char *field = NULL, *value = NULL;
        if (asprintf(&field, "endpoints/%s/auth/%s", epid, k) < 0) {
            rc = hl_error_set(err, HL_ENOMEM, "out of memory");
            break;
        }
        value = webhook_field_open(sb, tenant, id, field, json_string_value(v) ? json_string_value(v) : "", err);
        free(field);
        if (value == NULL) {
            rc = -1;
            break;
        }
        json_object_set_new(opened, k, json_string(value));
        memset(value, 0, strlen(value));
        free(value);
    }
    if (rc == 0 && (*out = endpoint_auth_header_new(opened, err)) == NULL)
        rc = -1;
    /* jansson keeps its own copies of the opened values: wipe them before they go */
    json_object_foreach(opened, k, v) {
        if (json_is_string(v) && strcmp(k, "type") != 0)
            memset((char *)json_string_value(v), 0, json_string_length(v));
    }
    json_decref(opened);
    return rc;
}

/* Is endpoint 'ep' (a stored element of "endpoints") a poll endpoint? */
static bool sub_endpoint_poll(const json_t *ep)
{
    const char *kind = json_string_value(json_object_get(ep, "kind"));
    return kind != NULL && strcmp(kind, "poll") == 0;
}

/* An endpoint's url: "" for a poll endpoint, which has none; NULL when a
 * push endpoint lacks one (malformed). */
static const char *sub_endpoint_url(const json_t *ep)
{
    return sub_endpoint_poll(ep) ? "" : json_string_value(json_object_get(ep, "url"));
}

/* Copy 'str' to *at and advance it. */
static const char *sub_put_str(char **at, const char *str)
{
    size_t len = strlen(str) + 1;
    char *copy = memcpy(*at, str, len);
    *at += len;
    return copy;
}

/* The webhook of 'doc' at 'version' with its secrets opened, or NULL: a
 * malformed document, or (with HL_ESECRET and the field in 'err') one whose
 * values do not open. */
static struct sub *sub_from_doc(const struct secretbox *sb, const json_t *doc, long long version,
                                struct hl_error *err)
{
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *tenant = json_string_value(json_object_get(doc, "tenant"));
    const char *sealed = json_string_value(json_object_get(doc, "secret"));
    json_t *events = json_object_get(doc, "events"), *eps = json_object_get(doc, "endpoints");
    /* bounds only where a fixed buffer depends on them (the index keys), and
     * then the api's own: a webhook refused here would never get an event;
     * the secrets are copied into an allocation sized to fit */
    if (!id || !tenant || !sealed || !json_is_array(events) || !json_is_array(eps) ||
        strlen(id) >= HL_ID_MAX || strlen(tenant) > LIMIT_TENANT_ID_MAX)
        return NULL;
    const char *sealed_prev = json_string_value(json_object_get(doc, "previous_secret"));
    char *secret = webhook_field_open(sb, tenant, id, "secret", sealed, err);
    char *prev = secret && sealed_prev ? webhook_field_open(sb, tenant, id, "previous_secret", sealed_prev, err) : NULL;
    struct sub *s = NULL;
    if (secret == NULL || (sealed_prev && prev == NULL))
        goto out;
    /* one allocation: the struct, events[], eps[], then the strings */
    size_t nev = 0, nep = json_array_size(eps), chars = strlen(id) + strlen(secret) + (prev ? strlen(prev) : 0) + 3;
    size_t i;
    json_t *v;
    json_array_foreach(events, i, v) {
        if (json_is_string(v) && json_string_length(v) > LIMIT_EVENT_TYPE_MAX)
            goto out;
        nev += json_is_string(v);
    }
    json_array_foreach(eps, i, v) {
        const char *eid = json_string_value(json_object_get(v, "id"));
        const char *url = sub_endpoint_url(v);
        if (!eid || !url || strlen(eid) >= HL_ID_MAX)
            goto out;
        chars += strlen(eid) + strlen(url) + 2;
    }
    s = calloc(1, sizeof(*s) + nev * sizeof(*s->events) + nep * sizeof(*s->eps) + chars);
    if (s == NULL)
        goto out;
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
    s->ordered = json_is_true(json_object_get(doc, "ordered"));
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
        ep->url = sub_put_str(&at, sub_endpoint_url(v));
        ep->poll = sub_endpoint_poll(v);
        if (sub_headers(sb, doc, v, &ep->headers, err) < 0 || sub_auth(sb, doc, v, &ep->authorization, err) < 0)
            goto fail;
        /* absent (written before endpoints had a state of their own): active */
        ep->active = !json_is_false(json_object_get(v, "is_active"));
    }
    goto out;
fail:
    sub_unref(s);
    s = NULL;
out:
    if (secret)
        memset(secret, 0, strlen(secret));
    if (prev)
        memset(prev, 0, strlen(prev));
    free(secret);
    free(prev);
    return s;
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

/* Webhook 'id' at 'version' does not open ('why'): out of the index, and
 * said once per version. */
static void index_sealed_shut(struct sub_index *idx, const char *id, long long version, const char *why)
{
    struct tombstone *t = strmap_get(idx->sealed_shut, id);
    if (t == NULL) {
        t = calloc(1, sizeof(*t));
        if (t == NULL || strmap_put(idx->sealed_shut, id, t, NULL) < 0) {
            free(t);
            t = NULL;
        }
    } else if (t->version == version) {
        t->gen = idx->gen;
        return;
    }
    if (t != NULL) {
        t->version = version;
        t->gen = idx->gen;
    }
    log_error("%s; version %lld of the webhook is left out of the index: its events are not delivered "
              "until its secrets open with HOOKLINE_SECRETS_KEY", why, version);
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
        if (old)    /* seen by a load: not deleted (a newer one came meanwhile) */
            old->gen = idx->gen;
        return 0;
    }
    if (!strmap_get(idx->tenants, tenant))
        strmap_put(idx->tenants, tenant, (void *)1, NULL);
    struct sub *s = NULL;
    if (!deleted) {
        struct hl_error why = { 0 };
        s = sub_from_doc(idx->sb, doc, version, &why);
        if (s == NULL && why.code == HL_ESECRET) {
            /* what it had would sign with secrets that may no longer be the webhook's */
            if (old)
                index_remove(idx, old);
            index_sealed_shut(idx, id, version, why.msg);
            return SUB_APPLY_SEALED_SHUT;
        }
        if (s == NULL)
            return -1;
        s->gen = idx->gen;
    }
    free(strmap_del(idx->sealed_shut, id));
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
    if (old == NULL && t == NULL && s->active && idx->on_new)
        idx->on_new(s, hl_time_parse_ms(json_string_value(json_object_get(doc, "created_at"))), idx->on_new_arg);
    return 1;
}

void sub_index_on_new(struct sub_index *idx, sub_new_fn *fn, void *arg)
{
    idx->on_new = fn;
    idx->on_new_arg = arg;
}

int sub_index_sync_created(struct sub_index *idx, PGconn *pg, long long since_ms)
{
    struct hl_error err = { 0 };
    char since[32];
    snprintf(since, sizeof(since), "%lld", since_ms - SYNC_MARGIN_MS);
    const char *params[1] = { since };
    PGresult *res = db_query_prepared(pg, &err, "SELECT id, (version)::bigint FROM webhooks "
                                       "WHERE created_at > to_timestamp($1::bigint / 1000.0)", 1, params);
    if (res == NULL) {
        log_warn("index sync: %s", err.msg);
        return -1;
    }
    int rc = 0, fetched = 0;
    for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
        const char *id = PQgetvalue(res, i, 0);
        struct sub *s = sub_table_get(&idx->by_id, id);
        struct tombstone *t = strmap_get(idx->tombstones, id), *shut = strmap_get(idx->sealed_shut, id);
        long long version = atoll(PQgetvalue(res, i, 1));
        if ((s && s->version >= version) || (t && t->version >= version) || (shut && shut->version >= version))
            continue;   /* known, gone, or known not to open (the next load tries it again) */
        if (fetched++ == SYNC_FETCH_MAX) {
            rc = 1;     /* the rest at the next sync */
            break;
        }
        if (sub_index_fetch(idx, pg, id, &s) < 0)
            rc = -1;
    }
    PQclear(res);
    return rc;
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

static void sweep_stale_add(struct sweep *sw, const char *key)
{
    if (sw->nstale == sw->capstale) {
        sw->capstale = sw->capstale ? sw->capstale * 2 : 64;
        sw->stale = realloc(sw->stale, sw->capstale * sizeof(*sw->stale));
    }
    if (sw->stale)
        sw->stale[sw->nstale++] = strdup(key);
}

static void sweep_tombstones(const char *key, void *val, void *arg)
{
    struct sweep *sw = arg;
    const struct tombstone *t = val;
    /* a tombstone only has to outlive lifecycle events still in flight */
    if (sw->idx->gen - t->gen >= 2)
        sweep_stale_add(sw, key);
}

/* A webhook that did not open and that this load no longer found. */
static void sweep_sealed_shut(const char *key, void *val, void *arg)
{
    struct sweep *sw = arg;
    const struct tombstone *t = val;
    if (t->gen != sw->idx->gen)
        sweep_stale_add(sw, key);
}

/* The end of a load: whatever the database no longer has was deleted. */
static void sub_index_sweep(struct sub_index *idx)
{
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
    /* webhooks that did not open and are no longer in the database */
    sw.nstale = 0;
    strmap_foreach(idx->sealed_shut, sweep_sealed_shut, &sw);
    for (size_t i = 0; i < sw.nstale; i++) {
        free(strmap_del(idx->sealed_shut, sw.stale[i]));
        free(sw.stale[i]);
    }
    log_info("subscription index loaded: %zu webhooks (%ld read, %zu removed)", idx->by_id.n, idx->load_read, sw.n);
    free(sw.gone);
    free(sw.stale);
#ifdef __GLIBC__
    /* the documents parsed on the way were freed between the webhooks kept:
     * give those pages back instead of carrying them as resident memory */
    malloc_trim(0);
#endif
}

int sub_index_load_step(struct sub_index *idx, PGconn *pg, struct hl_error *err)
{
    if (!idx->loading) {
        /* a new pass: what it does not see again (in this or a newer
         * version, or applied meanwhile) is gone */
        PGresult *res = db_query(pg, err, "SELECT id FROM tenants", 0, NULL);
        if (res == NULL)
            return HL_EDB;
        for (int i = 0; i < PQntuples(res); i++)
            if (!strmap_get(idx->tenants, PQgetvalue(res, i, 0)))
                strmap_put(idx->tenants, PQgetvalue(res, i, 0), (void *)1, NULL);
        PQclear(res);
        idx->gen++;
        idx->loading = true;
        idx->load_after[0] = '\0';
        idx->load_read = 0;
    }
    const char *params[1] = { idx->load_after };
    PGresult *res = db_query(pg, err,
                             "SELECT doc::text, (doc->>'version')::bigint, id FROM webhook_docs WHERE id > $1 "
                             "ORDER BY id LIMIT " HL_STR(LOAD_BATCH), 1, params);
    if (res == NULL) {
        idx->loading = false;   /* the next pass starts over */
        return HL_EDB;
    }
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        json_t *doc = json_loads(PQgetvalue(res, i, 0), 0, NULL);
        const char *wid = PQgetvalue(res, i, 2);
        int rc = doc ? sub_index_apply(idx, doc, atoll(PQgetvalue(res, i, 1)), false) : -1;
        if (rc >= 0)
            idx->load_read++;
        else if (rc != SUB_APPLY_SEALED_SHUT)   /* that one said so itself, once per version */
            /* said once per load: otherwise it would simply never get an event */
            log_warn("webhook %s: its document is malformed or over the limits; not indexed", wid);
        json_decref(doc);
    }
    if (n > 0)
        snprintf(idx->load_after, sizeof(idx->load_after), "%s", PQgetvalue(res, n - 1, 2));
    PQclear(res);
    if (n == LOAD_BATCH)
        return 1;
    idx->loading = false;
    sub_index_sweep(idx);
    return 0;
}

int sub_index_load(struct sub_index *idx, PGconn *pg, struct hl_error *err)
{
    idx->loading = false;
    int rc;
    while ((rc = sub_index_load_step(idx, pg, err)) == 1)
        ;
    return rc < 0 ? HL_EDB : 0;
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

size_t sub_index_sealed_shut(const struct sub_index *idx)
{
    return strmap_size(idx->sealed_shut);
}

/* The webhook an operational event is about (data.webhook_id), which it
 * never goes to: a webhook's own failures are not fed back to it, so a
 * failing endpoint cannot keep itself failing, nor get itself disabled, by
 * failing to take the news of its failures. NULL for other events. */
static const char *match_about(const char *type, const json_t *envelope)
{
    if (!catalog_is_operational(type))
        return NULL;
    return json_string_value(json_object_get(json_object_get(envelope, "data"), "webhook_id"));
}

static void match_list(struct sub_index *idx, const char *key, const json_t *envelope, const char *about,
                       void (*fn)(struct sub *s, void *arg), void *arg)
{
    struct sub_list *l = strmap_get(idx->by_key, key);
    for (size_t i = 0; l && i < l->n; i++) {
        struct sub *s = l->v[i];
        if (s->stamp == idx->stamp)
            continue;   /* subscribed to both the type and its group */
        s->stamp = idx->stamp;
        if (about && strcmp(s->id, about) == 0)
            continue;
        if (s->filter == NULL || filter_match(s->filter, envelope))
            fn(s, arg);
    }
}

bool sub_matches(const struct sub *s, const char *tenant, const char *type, const json_t *envelope)
{
    if (!s->active || strcmp(s->tenant, tenant) != 0)
        return false;
    const char *about = match_about(type, envelope);
    if (about && strcmp(s->id, about) == 0)
        return false;
    char group[LIMIT_EVENT_TYPE_MAX + 1];
    bool grouped = catalog_group_of(type, group, sizeof(group)), named = false;
    for (size_t i = 0; i < s->nevents && !named; i++)
        named = strcmp(s->events[i], type) == 0 || (grouped && strcmp(s->events[i], group) == 0);
    return named && (s->filter == NULL || filter_match(s->filter, envelope));
}

void sub_index_match(struct sub_index *idx, const char *tenant, const char *type, const json_t *envelope,
                     void (*fn)(struct sub *s, void *arg), void *arg)
{
    char key[INDEX_KEY_MAX], group[LIMIT_EVENT_TYPE_MAX + 1];
    const char *about = match_about(type, envelope);
    idx->stamp++;
    index_key(key, sizeof(key), tenant, type);
    match_list(idx, key, envelope, about, fn, arg);
    if (catalog_group_of(type, group, sizeof(group))) {
        index_key(key, sizeof(key), tenant, group);
        match_list(idx, key, envelope, about, fn, arg);
    }
}
