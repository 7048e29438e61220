/* auth.c: API keys. A key is shown once when issued; the database keeps
 * only its SHA-256, so a request costs one indexed lookup, or none when
 * the key's principal is in a small cache (AUTH_CACHE_TTL_MS). The admin
 * key comes from the environment and manages tenants and keys only.
 */
#include "api.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Valid keys recently seen: SHA-256 of the key -> principal. Bounded
 * (direct-mapped, a colliding key replaces the older one), entries live
 * AUTH_CACHE_TTL_MS. A revoke through this process empties the key's entry
 * at once (auth_cache_forget); a revoke through another api process, or
 * any change made to api_keys behind the api's back, takes effect here
 * within AUTH_CACHE_TTL_MS: that is the staleness bound. Invalid keys are
 * never cached. */
#define AUTH_CACHE_SLOTS 1024
#define AUTH_CACHE_TTL_MS 1000

struct auth_cache_entry {
    char hash[HL_KEYHASH_LEN + 1];  /* "" = empty */
    char key_id[HL_ID_MAX];
    char tenant[LIMIT_TENANT_ID_MAX + 1];
    unsigned scopes;
    long long expires_ms;
};

static struct auth_cache_entry auth_cache[AUTH_CACHE_SLOTS];
static unsigned long auth_cache_gen;    /* bumped by every forget */
static pthread_mutex_t auth_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static long long auth_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The slot of a key: its hash's first 8 hex digits (lower case). */
static struct auth_cache_entry *auth_cache_slot(const char *hash)
{
    unsigned h = 0;
    for (int i = 0; i < 8 && hash[i]; i++)
        h = h * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return &auth_cache[h % AUTH_CACHE_SLOTS];
}

/* Fill 'who' from the cache; true on a live hit. Sets *gen for a later put. */
static bool auth_cache_get(const char *hash, struct api_principal *who, unsigned long *gen)
{
    bool hit = false;
    pthread_mutex_lock(&auth_cache_lock);
    struct auth_cache_entry *e = auth_cache_slot(hash);
    if (e->hash[0] && hl_str_equal_ct(e->hash, hash) && e->expires_ms > auth_now_ms()) {
        memcpy(who->key_id, e->key_id, sizeof(who->key_id));
        memcpy(who->tenant, e->tenant, sizeof(who->tenant));
        who->scopes = e->scopes;
        hit = true;
    }
    *gen = auth_cache_gen;
    pthread_mutex_unlock(&auth_cache_lock);
    return hit;
}

/* Remember a principal read from the database, unless a forget ran since
 * the read began (the row read may be the one just revoked). */
static void auth_cache_put(const char *hash, const struct api_principal *who, unsigned long gen)
{
    pthread_mutex_lock(&auth_cache_lock);
    if (gen == auth_cache_gen) {
        struct auth_cache_entry *e = auth_cache_slot(hash);
        memcpy(e->hash, hash, sizeof(e->hash));
        memcpy(e->key_id, who->key_id, sizeof(e->key_id));
        memcpy(e->tenant, who->tenant, sizeof(e->tenant));
        e->scopes = who->scopes;
        e->expires_ms = auth_now_ms() + AUTH_CACHE_TTL_MS;
    }
    pthread_mutex_unlock(&auth_cache_lock);
}

void auth_cache_forget(const char *key_id)
{
    pthread_mutex_lock(&auth_cache_lock);
    auth_cache_gen++;
    for (size_t i = 0; i < AUTH_CACHE_SLOTS; i++)
        if (auth_cache[i].hash[0] && strcmp(auth_cache[i].key_id, key_id) == 0)
            auth_cache[i].hash[0] = '\0';
    pthread_mutex_unlock(&auth_cache_lock);
}

static const struct { const char *name; unsigned bit; } auth_scopes[] = {
    { "webhooks:read", SCOPE_WEBHOOKS_READ },
    { "webhooks:write", SCOPE_WEBHOOKS_WRITE },
    { "events:write", SCOPE_EVENTS_WRITE },
};

static unsigned auth_scope_bit(const char *name)
{
    for (size_t i = 0; i < sizeof(auth_scopes) / sizeof(auth_scopes[0]); i++)
        if (strcmp(auth_scopes[i].name, name) == 0)
            return auth_scopes[i].bit;
    return 0;
}

static const char *auth_scope_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof(auth_scopes) / sizeof(auth_scopes[0]); i++)
        if (auth_scopes[i].bit == bit)
            return auth_scopes[i].name;
    return "admin";
}

/* The presented key, from x-api-key or "Authorization: Bearer <key>". */
static const char *auth_presented_key(const struct _u_request *req)
{
    const char *key = u_map_get_case(req->map_header, "x-api-key");
    if (key != NULL && *key)
        return key;
    const char *authz = u_map_get_case(req->map_header, "Authorization");
    if (authz != NULL && strncasecmp(authz, "Bearer ", 7) == 0) {
        authz += 7;
        while (*authz == ' ')
            authz++;
        return *authz ? authz : NULL;
    }
    return NULL;
}

/* Parse a Postgres text[] literal of scope names into bits. */
static unsigned auth_scopes_parse(const char *arr)
{
    unsigned bits = 0;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", arr);
    char *save = NULL;
    for (char *tok = strtok_r(buf, "{},\"", &save); tok; tok = strtok_r(NULL, "{},\"", &save))
        bits |= auth_scope_bit(tok);
    return bits;
}

/* Fill call->who from the live portal session whose token hashes to
 * 'hash': one indexed read, no cache. Returns 0, HL_EAUTH or HL_EDB. */
static int auth_portal_lookup(struct api_call *call, const char *hash)
{
    struct api_principal *who = &call->who;
    const char *params[1] = { hash };
    PGconn *pg = api_pg(call);
    if (pg == NULL)
        return HL_EDB;
    PGresult *res = db_query(pg, &call->err,
        "SELECT id, tenant_id, scopes FROM portal_sessions "
        "WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > now()", 1, params);
    if (res == NULL)
        return HL_EDB;
    bool found = PQntuples(res) == 1 && (size_t)PQgetlength(res, 0, 0) < sizeof(who->key_id) &&
                 (size_t)PQgetlength(res, 0, 1) < sizeof(who->tenant);
    if (found) {
        memcpy(who->key_id, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0) + 1);
        memcpy(who->tenant, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1) + 1);
        who->scopes = auth_scopes_parse(PQgetvalue(res, 0, 2));
        who->portal = true;
    }
    PQclear(res);
    if (!found)
        return hl_error_set(&call->err, HL_EAUTH, "This portal link has expired or was revoked.");
    return 0;
}

int auth_check(struct api_call *call, unsigned scope)
{
    const char *key = auth_presented_key(call->req);
    struct api_principal *who = &call->who;
    if (key == NULL)
        return hl_error_set(&call->err, HL_EAUTH, "Missing API key: send it as x-api-key or Authorization: Bearer.");
    if (strlen(key) > LIMIT_API_KEY_MAX)
        return hl_error_set(&call->err, HL_EAUTH, "Invalid API key.");

    const char *admin = call->ctx->cfg.admin_key;
    if (admin[0] && hl_str_equal_ct(key, admin)) {
        who->admin = true;
        if (scope != SCOPE_ADMIN && !(scope & SCOPE_ADMIN_OK))
            return hl_error_set(&call->err, HL_EFORBIDDEN,
                                "The admin key manages tenants and keys; use a tenant's key for this route.");
        return 0;
    }
    if (scope == SCOPE_ADMIN && !admin[0])
        return hl_error_set(&call->err, HL_EAUTH, "Admin routes are disabled: HOOKLINE_ADMIN_KEY is not set.");

    scope &= ~(unsigned)SCOPE_ADMIN_OK;

    char hash[HL_KEYHASH_LEN + 1];
    hl_apikey_hash(key, hash);
    unsigned long gen = 0;
    if (strncmp(key, HL_PORTAL_TOKEN_PREFIX, strlen(HL_PORTAL_TOKEN_PREFIX)) == 0) {
        int rc = auth_portal_lookup(call, hash);
        if (rc != 0)
            return rc;
    } else if (!auth_cache_get(hash, who, &gen)) {
        const char *params[1] = { hash };
        PGconn *pg = api_pg(call);
        if (pg == NULL)
            return HL_EDB;
        PGresult *res = db_query(pg, &call->err,
            "SELECT id, tenant_id, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", 1, params);
        if (res == NULL)
            return HL_EDB;
        bool found = PQntuples(res) == 1, fits = true;
        if (found) {
            /* a tenant id cut short would be another tenant's: never truncate */
            fits = (size_t)PQgetlength(res, 0, 0) < sizeof(who->key_id) &&
                   (size_t)PQgetlength(res, 0, 1) < sizeof(who->tenant);
            if (fits) {
                memcpy(who->key_id, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0) + 1);
                memcpy(who->tenant, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1) + 1);
                who->scopes = auth_scopes_parse(PQgetvalue(res, 0, 2));
            } else {
                log_error("API key %.*s: its id or tenant id is longer than the limits allow; refused",
                          HL_ID_MAX, PQgetvalue(res, 0, 0));
            }
        }
        PQclear(res);
        if (!found || !fits)
            return hl_error_set(&call->err, HL_EAUTH, "Invalid API key.");
        auth_cache_put(hash, who, gen);
    }
    /* only a valid tenant key learns that the route is the admin's: a wrong one is 401 */
    if (scope == SCOPE_ADMIN)
        return hl_error_set(&call->err, HL_EFORBIDDEN, "This route needs the admin key.");
    if ((who->scopes & scope) != scope)
        return hl_error_set(&call->err, HL_EFORBIDDEN, "This key lacks the %s scope.", auth_scope_name(scope));
    return 0;
}

int auth_scopes_from_json(const json_t *scopes, unsigned *bits)
{
    size_t i;
    json_t *s;
    *bits = 0;
    if (!json_is_array(scopes) || json_array_size(scopes) == 0)
        return HL_EINVAL;
    json_array_foreach(scopes, i, s) {
        unsigned bit = json_is_string(s) ? auth_scope_bit(json_string_value(s)) : 0;
        if (bit == 0)
            return HL_EINVAL;
        *bits |= bit;
    }
    return 0;
}

json_t *auth_scopes_to_json(unsigned bits)
{
    json_t *names = json_array();
    for (size_t b = 0; names && b < sizeof(auth_scopes) / sizeof(auth_scopes[0]); b++)
        if (bits & auth_scopes[b].bit)
            json_array_append_new(names, json_string(auth_scopes[b].name));
    return names;
}

void auth_scopes_literal(unsigned bits, char out[AUTH_SCOPES_LITERAL_MAX])
{
    strcpy(out, "{");
    for (size_t b = 0; b < sizeof(auth_scopes) / sizeof(auth_scopes[0]); b++) {
        if (!(bits & auth_scopes[b].bit))
            continue;
        if (out[1])
            strcat(out, ",");
        strcat(out, auth_scopes[b].name);
    }
    strcat(out, "}");
}

const char *auth_scope_missing(unsigned have, unsigned want)
{
    for (size_t b = 0; b < sizeof(auth_scopes) / sizeof(auth_scopes[0]); b++)
        if ((want & auth_scopes[b].bit) && !(have & auth_scopes[b].bit))
            return auth_scopes[b].name;
    return NULL;
}

json_t *auth_key_issue(PGconn *pg, const char *tenant, const json_t *scopes, const char *label,
                       struct hl_error *err)
{
    char id[HL_ID_MAX], key[HL_APIKEY_MAX], hash[HL_KEYHASH_LEN + 1], prefix[16];
    if (!json_is_array(scopes) || json_array_size(scopes) == 0) {
        hl_error_set(err, HL_EINVAL, "\"scopes\" must be a non-empty array of webhooks:read, webhooks:write, events:write.");
        return NULL;
    }
    /* build the Postgres array literal; names are checked, so no quoting */
    char arr[128] = "{";
    size_t i;
    json_t *s;
    unsigned seen = 0;
    json_array_foreach(scopes, i, s) {
        unsigned bit = json_is_string(s) ? auth_scope_bit(json_string_value(s)) : 0;
        if (bit == 0) {
            hl_error_set(err, HL_EINVAL, "\"scopes\" must be a non-empty array of webhooks:read, webhooks:write, events:write.");
            return NULL;
        }
        if (seen & bit)
            continue;
        seen |= bit;
        if (arr[1])
            strcat(arr, ",");
        strcat(arr, json_string_value(s));
    }
    strcat(arr, "}");
    if (hl_id_new("key_", id, sizeof(id)) < 0 || hl_apikey_new(key, sizeof(key)) < 0) {
        hl_error_set(err, HL_EIO, "no randomness available");
        return NULL;
    }
    hl_apikey_hash(key, hash);
    snprintf(prefix, sizeof(prefix), "%.8s", key);
    const char *params[6] = { id, tenant, hash, prefix, label ? label : "", arr };
    PGresult *res = db_query(pg, err,
        "INSERT INTO api_keys (id, tenant_id, key_hash, prefix, label, scopes) "
        "SELECT $1, $2, $3, $4, $5, $6::text[] WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $2) "
        "RETURNING hl_ts(created_at), scopes::text", 6, params);
    if (res == NULL)
        return NULL;
    json_t *reply = NULL;
    if (PQntuples(res) == 0) {
        hl_error_set(err, HL_ENOTFOUND, "Tenant not found.");
    } else {
        json_t *names = json_array();
        for (size_t b = 0; b < sizeof(auth_scopes) / sizeof(auth_scopes[0]); b++)
            if (seen & auth_scopes[b].bit)
                json_array_append_new(names, json_string(auth_scopes[b].name));
        reply = json_pack("{s:s,s:s,s:s,s:o,s:s,s:s}", "id", id, "key", key, "tenant", tenant,
                          "scopes", names, "label", label ? label : "", "created_at", PQgetvalue(res, 0, 0));
    }
    PQclear(res);
    return reply;
}
