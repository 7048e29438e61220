/* routes_portal.c: embeddable portal sessions, for the admin key or a
 * tenant key with webhooks:write (its own tenant only).
 *
 *   POST   /v1/portal-sessions      {"tenant","ttl_s"?,"scopes"?} -> 201 {"id","url","expires_at",...}
 *   DELETE /v1/portal-sessions/:id  revoke at once
 *
 * The url is <HOOKLINE_PUBLIC_URL>/portal#token=hlp_...: the token sits in
 * the fragment, which a browser never sends, so it reaches no request line
 * and no log; the console reads it, takes it out of the address bar,
 * holds it in memory (no cookie: nothing for third-party cookie rules to
 * block in an iframe) and sends it as a bearer key. The
 * database keeps only its SHA-256 (sql/013). A portal session cannot issue
 * or revoke portal sessions: the link's holder never outlives its expiry.
 */
#include "api.h"

#include <string.h>

#define PORTAL_TTL_DEFAULT_S 3600
#define PORTAL_SCOPES_DEFAULT (SCOPE_WEBHOOKS_READ | SCOPE_WEBHOOKS_WRITE)
#define PORTAL_URL_MAX (sizeof(((struct hl_config *)0)->public_url) + 64 + HL_APIKEY_MAX)

/* A Host header worth building a link on: host[:port] of [A-Za-z0-9.-],
 * or a bracketed IPv6 address. */
static bool portal_host_valid(const char *host)
{
    size_t n = host ? strlen(host) : 0;
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = host[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '.' || c == ':' || c == '[' || c == ']';
        if (!ok)
            return false;
    }
    return true;
}

/* The link for 'token' into 'out'. Returns 0 or HL_EINVAL (no usable base). */
static int portal_url(struct api_call *call, const char *token, char *out, size_t cap)
{
    const char *base = call->ctx->cfg.public_url;
    if (base[0]) {
        snprintf(out, cap, "%s/portal#token=%s", base, token);
        return 0;
    }
    const char *host = u_map_get_case(call->req->map_header, "Host");
    if (!portal_host_valid(host))
        return hl_error_set(&call->err, HL_EINVAL,
                            "The request's Host header is not host[:port]; the operator can set HOOKLINE_PUBLIC_URL.");
    snprintf(out, cap, "http://%s/portal#token=%s", host, token);
    return 0;
}

static int portal_create(struct api_call *call)
{
    const struct api_principal *who = &call->who;
    if (who->portal)
        return hl_error_set(&call->err, HL_EFORBIDDEN, "A portal session cannot create portal sessions.");
    json_t *body = api_body_object(call);
    if (body == NULL)
        return call->err.code;
    int rc = HL_EINVAL;
    json_t *jtenant = json_object_get(body, "tenant"), *jttl = json_object_get(body, "ttl_s");
    json_t *jscopes = json_object_get(body, "scopes");
    const char *tenant = NULL;
    long long ttl = PORTAL_TTL_DEFAULT_S;
    unsigned scopes = PORTAL_SCOPES_DEFAULT;

    /* 400: every field's shape, before anything is looked up */
    if (jtenant != NULL && !json_is_null(jtenant)) {
        if (!json_is_string(jtenant) ||
            !hl_limit_tenant_id_valid(json_string_value(jtenant), json_string_length(jtenant))) {
            hl_error_set(&call->err, rc, "\"tenant\" must be a tenant id (1 to %d letters, digits, '_' or '-').",
                         LIMIT_TENANT_ID_MAX);
            goto out;
        }
        tenant = json_string_value(jtenant);
    } else if (who->admin) {
        hl_error_set(&call->err, rc, "\"tenant\" must be specified: the tenant whose console the link opens.");
        goto out;
    }
    if (jttl != NULL) {
        const struct hl_limit_def *def = hl_limit_get(HL_LIMIT_PORTAL_TTL);
        if (!json_is_integer(jttl) || json_integer_value(jttl) < def->min || json_integer_value(jttl) > def->max) {
            hl_error_set(&call->err, rc, "\"ttl_s\" must be an integer from %ld to %ld (seconds).", def->min, def->max);
            goto out;
        }
        ttl = json_integer_value(jttl);
    }
    if (jscopes != NULL) {
        if (auth_scopes_from_json(jscopes, &scopes) < 0) {
            hl_error_set(&call->err, rc,
                         "\"scopes\" must be a non-empty array of webhooks:read, webhooks:write, events:write.");
            goto out;
        }
        if (!(scopes & SCOPE_WEBHOOKS_READ)) {
            hl_error_set(&call->err, rc, "\"scopes\" must include webhooks:read: the console reads the webhooks.");
            goto out;
        }
    }
    /* 404: another tenant is absent to a tenant key */
    if (!who->admin && tenant != NULL && strcmp(tenant, who->tenant) != 0) {
        rc = hl_error_set(&call->err, HL_ENOTFOUND, "Tenant not found.");
        goto out;
    }
    if (tenant == NULL)
        tenant = who->tenant;
    /* 403: a key hands on no more than it holds */
    const char *missing = who->admin ? NULL : auth_scope_missing(who->scopes, scopes);
    if (missing != NULL) {
        rc = hl_error_set(&call->err, HL_EFORBIDDEN,
                          "\"scopes\" may not be wider than the caller's key, which lacks %s.", missing);
        goto out;
    }

    char id[HL_ID_MAX], token[HL_APIKEY_MAX], hash[HL_KEYHASH_LEN + 1], lit[AUTH_SCOPES_LITERAL_MAX];
    char ttl_s[24], url[PORTAL_URL_MAX];
    if (hl_id_new("ps_", id, sizeof(id)) < 0 || hl_portal_token_new(token, sizeof(token)) < 0) {
        rc = hl_error_set(&call->err, HL_EIO, "no randomness available");
        goto out;
    }
    if ((rc = portal_url(call, token, url, sizeof(url))) < 0)
        goto out;
    hl_apikey_hash(token, hash);
    auth_scopes_literal(scopes, lit);
    snprintf(ttl_s, sizeof(ttl_s), "%lld", ttl);
    const char *params[6] = { id, tenant, hash, lit, who->admin ? "admin" : who->key_id, ttl_s };
    PGresult *res = db_query(call->pg, &call->err,
        "INSERT INTO portal_sessions (id, tenant_id, token_hash, scopes, created_by, expires_at) "
        "SELECT $1, $2, $3, $4::text[], $5, now() + make_interval(secs => $6::int) "
        "WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $2) "
        "RETURNING hl_ts(created_at), hl_ts(expires_at)", 6, params);
    if (res == NULL) {
        rc = call->err.code;
        goto out;
    }
    if (PQntuples(res) == 0) {
        rc = hl_error_set(&call->err, HL_ENOTFOUND, "Tenant not found.");
    } else {
        rc = api_reply(call, 201, json_pack("{s:s,s:s,s:s,s:s,s:o,s:s}", "id", id, "url", url, "expires_at",
                                            PQgetvalue(res, 0, 1), "tenant", tenant, "scopes",
                                            auth_scopes_to_json(scopes), "created_at", PQgetvalue(res, 0, 0)));
    }
    PQclear(res);
out:
    json_decref(body);
    return rc;
}

static int portal_revoke(struct api_call *call)
{
    const struct api_principal *who = &call->who;
    if (who->portal)
        return hl_error_set(&call->err, HL_EFORBIDDEN, "A portal session cannot revoke portal sessions.");
    /* the admin key reaches every tenant's sessions; a tenant key its own */
    const char *params[2] = { api_param(call, "id"), who->admin ? "" : who->tenant };
    PGresult *res = db_query(call->pg, &call->err,
        "UPDATE portal_sessions SET revoked_at = coalesce(revoked_at, now()) "
        "WHERE id = $1 AND ($2 = '' OR tenant_id = $2) RETURNING id", 2, params);
    if (res == NULL)
        return call->err.code;
    bool found = PQntuples(res) == 1;
    PQclear(res);
    if (!found)
        return hl_error_set(&call->err, HL_ENOTFOUND, "Portal session not found.");
    /* committed: auth reads the row on every call, so the link stops working now */
    return api_reply(call, 200, json_pack("{s:s,s:b}", "id", params[0], "revoked", 1));
}

const struct api_route routes_portal[] = {
    { "POST", "/v1/portal-sessions", SCOPE_WEBHOOKS_WRITE | SCOPE_ADMIN_OK, true, portal_create },
    { "DELETE", "/v1/portal-sessions/:id", SCOPE_WEBHOOKS_WRITE | SCOPE_ADMIN_OK, true, portal_revoke },
    { NULL, NULL, 0, false, NULL },
};
