/* auth.c: API keys. A key is shown once when issued; the database keeps
 * only its SHA-256, so each request costs one indexed lookup. The admin
 * key comes from the environment and manages tenants and keys only.
 */
#include "api.h"

#include <string.h>

#include "log.h"

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

int auth_check(struct api_call *call, unsigned scope)
{
    const char *key = auth_presented_key(call->req);
    struct api_principal *who = &call->who;
    if (key == NULL)
        return hl_error_set(&call->err, HL_EAUTH, "Missing API key: send it as x-api-key or Authorization: Bearer.");
    if (strlen(key) > 256)
        return hl_error_set(&call->err, HL_EAUTH, "Invalid API key.");

    const char *admin = call->ctx->cfg.admin_key;
    if (admin[0] && hl_str_equal_ct(key, admin)) {
        who->admin = true;
        if (scope != SCOPE_ADMIN)
            return hl_error_set(&call->err, HL_EFORBIDDEN,
                                "The admin key manages tenants and keys; use a tenant's key for this route.");
        return 0;
    }
    if (scope == SCOPE_ADMIN && !admin[0])
        return hl_error_set(&call->err, HL_EAUTH, "Admin routes are disabled: HOOKLINE_ADMIN_KEY is not set.");

    char hash[HL_KEYHASH_LEN + 1];
    hl_apikey_hash(key, hash);
    const char *params[1] = { hash };
    PGresult *res = db_query(call->pg, &call->err,
        "SELECT id, tenant_id, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", 1, params);
    if (res == NULL)
        return HL_EDB;
    int rc = 0;
    if (PQntuples(res) != 1) {
        rc = hl_error_set(&call->err, HL_EAUTH, "Invalid API key.");
        goto out;
    }
    snprintf(who->key_id, sizeof(who->key_id), "%s", PQgetvalue(res, 0, 0));
    snprintf(who->tenant, sizeof(who->tenant), "%s", PQgetvalue(res, 0, 1));
    who->scopes = auth_scopes_parse(PQgetvalue(res, 0, 2));
    /* only a valid tenant key learns that the route is the admin's: a wrong one is 401 */
    if (scope == SCOPE_ADMIN)
        rc = hl_error_set(&call->err, HL_EFORBIDDEN, "This route needs the admin key.");
    else if ((who->scopes & scope) != scope)
        rc = hl_error_set(&call->err, HL_EFORBIDDEN, "This key lacks the %s scope.", auth_scope_name(scope));
out:
    PQclear(res);
    return rc;
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
