/* routes_admin.c: tenants and their API keys, for the admin key only.
 *
 *   POST   /v1/tenants                       {"id"?, "name"?} -> 201 tenant
 *   POST   /v1/tenants/:tenant/keys          {"scopes"?, "label"?} -> 201 key, shown once
 *   DELETE /v1/tenants/:tenant/keys/:key_id  revoke at once
 */
#include "api.h"

#include <string.h>

json_t *tenant_create(PGconn *pg, const char *id, const char *name, bool exist_ok, struct hl_error *err)
{
    char gen[HL_ID_MAX];
    if (id == NULL) {
        if (hl_id_new("tn_", gen, sizeof(gen)) < 0) {
            hl_error_set(err, HL_EIO, "no randomness available");
            return NULL;
        }
        id = gen;
    }
    if (!hl_limit_tenant_id_valid(id, strlen(id))) {
        hl_error_set(err, HL_EINVAL,
                     "\"id\" must be 1 to %d letters, digits, '_' or '-', starting with a letter or digit.",
                     LIMIT_TENANT_ID_MAX);
        return NULL;
    }
    const char *params[2] = { id, name ? name : id };
    PGresult *res = db_query(pg, err,
        exist_ok ? "INSERT INTO tenants (id, name) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET name = tenants.name "
                   "RETURNING id, name, hl_ts(created_at)"
                 : "INSERT INTO tenants (id, name) VALUES ($1, $2) RETURNING id, name, hl_ts(created_at)",
        2, params);
    if (res == NULL) {
        if (err && err->code == HL_EDUP) {
            hl_error_clear(err);
            hl_error_set(err, HL_EDUP, "A tenant with this id already exists.");
        }
        return NULL;
    }
    json_t *t = json_pack("{s:s,s:s,s:s}", "id", PQgetvalue(res, 0, 0), "name", PQgetvalue(res, 0, 1),
                          "created_at", PQgetvalue(res, 0, 2));
    PQclear(res);
    return t;
}

static int admin_tenant_create(struct api_call *call)
{
    json_t *body = api_body_object(call);
    if (body == NULL)
        return call->err.code;
    int rc = HL_EINVAL;
    json_t *id = json_object_get(body, "id"), *name = json_object_get(body, "name");
    if (id && !json_is_string(id)) {
        hl_error_set(&call->err, rc, "\"id\" must be a string.");
        goto out;
    }
    if (name && !json_is_string(name)) {
        hl_error_set(&call->err, rc, "\"name\" must be a string.");
        goto out;
    }
    if (name && hl_limit_check(HL_LIMIT_TENANT_NAME, json_string_length(name), &call->err) < 0)
        goto out;
    json_t *t = tenant_create(call->pg, id ? json_string_value(id) : NULL, name ? json_string_value(name) : NULL,
                              false, &call->err);
    rc = t ? api_reply(call, 201, t) : call->err.code;
out:
    json_decref(body);
    return rc;
}

static int admin_key_create(struct api_call *call)
{
    json_t *body = api_body_object(call);
    if (body == NULL)
        return call->err.code;
    int rc = HL_EINVAL;
    json_t *scopes = json_object_get(body, "scopes"), *label = json_object_get(body, "label");
    json_t *all = NULL;
    if (label && !json_is_string(label)) {
        hl_error_set(&call->err, rc, "\"label\" must be a string.");
        goto out;
    }
    if (label && hl_limit_check(HL_LIMIT_KEY_LABEL, json_string_length(label), &call->err) < 0)
        goto out;
    if (scopes == NULL)
        scopes = all = json_pack("[sss]", "webhooks:read", "webhooks:write", "events:write");
    json_t *key = auth_key_issue(call->pg, api_param(call, "tenant"), scopes,
                                 label ? json_string_value(label) : NULL, &call->err);
    rc = key ? api_reply(call, 201, key) : call->err.code;
out:
    json_decref(all);
    json_decref(body);
    return rc;
}

static int admin_key_revoke(struct api_call *call)
{
    const char *params[2] = { api_param(call, "key_id"), api_param(call, "tenant") };
    PGresult *res = db_query(call->pg, &call->err,
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND tenant_id = $2 RETURNING id",
        2, params);
    if (res == NULL)
        return call->err.code;
    int found = PQntuples(res) == 1;
    PQclear(res);
    if (!found)
        return hl_error_set(&call->err, HL_ENOTFOUND, "API key not found.");
    auth_cache_forget(params[0]);   /* committed: the key stops working at once */
    return api_reply(call, 200, json_pack("{s:s,s:b}", "id", params[0], "revoked", 1));
}

const struct api_route routes_admin[] = {
    { "POST", "/v1/tenants", SCOPE_ADMIN, true, admin_tenant_create },
    { "POST", "/v1/tenants/:tenant/keys", SCOPE_ADMIN, true, admin_key_create },
    { "DELETE", "/v1/tenants/:tenant/keys/:key_id", SCOPE_ADMIN, true, admin_key_revoke },
    { NULL, NULL, 0, false, NULL },
};
