/* test_api_portal.c: embeddable portal sessions over REST.
 *
 * POST /v1/portal-sessions with the admin key (any tenant) or a tenant key
 * with webhooks:write (its own tenant; another one answers 404) returns
 * {"id","url","expires_at"}; the url is <base>/portal#token=hlp_..., the
 * base being the request's Host or HOOKLINE_PUBLIC_URL. The token is a
 * bearer key for that tenant alone, with the session's scopes: another
 * tenant's webhook answers 404, a scope it lacks 403, admin and portal
 * routes 403. Every bad field answers 400 naming it, a scope wider than the
 * caller's key 403, no or a wrong key 401. The token stops working at its
 * expiry (not before), at once after DELETE /v1/portal-sessions/{id}, and
 * at once after a revoke written straight to PostgreSQL (as another api
 * process would: nothing is cached). GET /portal may be framed by the
 * origins of HOOKLINE_PORTAL_FRAME_ANCESTORS, GET / still by none. At
 * debug level the api logs every request, and no token issued appears in
 * its log. The retention job deletes sessions a day after their expiry,
 * and keeps the others.
 */
#include "api_e2e.h"

/* as the operator wrote it, and as the CSP carries it */
#define ANCESTORS_ENV "https://app.example.com/, https://*.partner.example  http://127.0.0.1:*"
#define ANCESTORS "https://app.example.com https://*.partner.example http://127.0.0.1:*"
#define BASE_CSP_HEAD                                                                          \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "       \
    "connect-src 'self'; frame-ancestors "
#define BASE_CSP_TAIL "; base-uri 'none'; form-action 'self'"
#define EXPIRY_WAIT_MS 60000
#define TOKENS_MAX 32

static char tokens[TOKENS_MAX][128];
static int ntokens;

/* POST /v1/portal-sessions as 'key' with 'body'; on 201 the token (from
 * the url's fragment) into 'token' and the id into 'id' (cap 128 each).
 * Returns the status. */
static long portal_new(struct hx_stack *st, const char *key, const char *body, char *token, char *id,
                       struct hx_resp *out)
{
    struct hx_resp resp;
    long status = hx_api(st, "POST", key, body, &resp, "/v1/portal-sessions");
    if (token)
        token[0] = '\0';
    if (id)
        id[0] = '\0';
    if (status == 201) {
        const char *url = e2e_str(resp.json, "url");
        const char *frag = url ? strstr(url, "#token=") : NULL;
        CHECK(frag != NULL);
        if (frag && token) {
            snprintf(token, 128, "%s", frag + 7);
            CHECK(ntokens < TOKENS_MAX);
            if (ntokens < TOKENS_MAX)
                snprintf(tokens[ntokens++], sizeof(tokens[0]), "%s", token);
        }
        if (id && e2e_str(resp.json, "id"))
            snprintf(id, 128, "%s", e2e_str(resp.json, "id"));
    } else if (out == NULL) {
        fprintf(stderr, "POST /v1/portal-sessions %s -> %ld %s\n", body, status, resp.body);
    }
    if (out)
        *out = resp;
    else
        hx_resp_free(&resp);
    return status;
}

static long get_as(struct hx_stack *st, const char *token, const char *path)
{
    struct hx_resp resp;
    long status = hx_api(st, "GET", token, NULL, &resp, "%s", path);
    hx_resp_free(&resp);
    return status;
}

static void check_created(struct hx_stack *st, const char *admin)
{
    struct hx_resp resp;
    char token[128], id[128];
    E2E_SECTION("the admin key opens a session for a tenant: 201 {id,url,expires_at}, the token in the fragment");
    long long before_ms = hx_realtime_ms();
    CHECK_EQ_INT(portal_new(st, admin, "{\"tenant\":\"acme\",\"ttl_s\":600}", token, id, &resp), 201);
    char want[256];
    snprintf(want, sizeof(want), "%s/portal#token=hlp_", hx_api_url(st));
    const char *url = e2e_str(resp.json, "url");
    CHECK(url != NULL && e2e_starts_with(url, want));
    CHECK(e2e_starts_with(e2e_str(resp.json, "id"), "ps_"));
    CHECK_EQ_STR(e2e_str(resp.json, "tenant"), "acme");
    CHECK(json_array_size(json_object_get(resp.json, "scopes")) == 2);
    CHECK(e2e_str(resp.json, "token") == NULL && strchr(url ? url : "", '?') == NULL);
    /* expires_at is ttl_s from now */
    long long exp = e2e_db_long(st, "SELECT (extract(epoch FROM $1::timestamptz) * 1000)::bigint",
                                e2e_str(resp.json, "expires_at"), NULL);
    CHECK(exp >= before_ms + 599000 && exp <= hx_realtime_ms() + 601000);
    hx_resp_free(&resp);
    E2E_SECTION("the database keeps the token's hash only");
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM portal_sessions WHERE id = $1 AND token_hash <> $2 "
                                 "AND length(token_hash) = 64", id, token), 1);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM portal_sessions WHERE token_hash LIKE '%' || $1 || '%'",
                             token + 4, NULL), 0);
}

static void check_token_powers(struct hx_stack *st, const char *admin, const char *acme_key, const char *globex_wh,
                               const char *acme_wh)
{
    char token[128], ro[128], id[128], path[256];
    struct hx_resp resp;
    E2E_SECTION("the token works as x-api-key and as Bearer, for its tenant's data alone");
    CHECK_EQ_INT(portal_new(st, admin, "{\"tenant\":\"acme\",\"ttl_s\":600}", token, id, NULL), 201);
    CHECK_EQ_INT(get_as(st, token, "/v1/webhooks"), 200);
    char bearer[200], url[256];
    snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", token);
    snprintf(url, sizeof(url), "%s/v1/webhooks", hx_api_url(st));
    CHECK_EQ_INT(hx_http("GET", url, NULL, NULL, (const char *const[]){bearer, NULL}, &resp), 200);
    CHECK(json_integer_value(json_object_get(resp.json, "count")) == 1);
    hx_resp_free(&resp);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", acme_wh);
    CHECK_EQ_INT(get_as(st, token, path), 200);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", globex_wh);
    E2E_EXPECT(st, "GET", token, path, NULL, 404, NULL);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries", globex_wh);
    E2E_EXPECT(st, "GET", token, path, NULL, 404, NULL);

    E2E_SECTION("with webhooks:write it creates a webhook, recorded as created by the session");
    CHECK_EQ_INT(e2e_send(st, "POST", token, &resp, "/v1/webhooks",
                          "{\"name\":\"from-portal\",\"url\":\"https://127.0.0.1:9/x\",\"events\":\"booking\"}"), 201);
    const char *wid = e2e_str(resp.json, "id");
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE id = $1 AND tenant_id = 'acme' AND created_by = $2",
                             wid ? wid : "", id), 1);
    hx_resp_free(&resp);

    E2E_SECTION("what the session's scopes do not hold is 403; admin and portal routes are 403");
    E2E_EXPECT(st, "POST", token, "/v1/events", "{\"type\":\"booking.scheduled\",\"data\":{}}", 403, NULL);
    E2E_EXPECT(st, "POST", token, "/v1/tenants", "{\"id\":\"sneaky\"}", 403, NULL);
    E2E_EXPECT(st, "POST", token, "/v1/tenants/acme/keys", "{}", 403, NULL);
    E2E_EXPECT(st, "POST", token, "/v1/portal-sessions", "{\"ttl_s\":600}", 403, "A portal session cannot");
    snprintf(path, sizeof(path), "/v1/portal-sessions/%s", id);
    E2E_EXPECT(st, "DELETE", token, path, NULL, 403, "A portal session cannot");
    CHECK_EQ_INT(portal_new(st, acme_key, "{\"scopes\":[\"webhooks:read\"]}", ro, NULL, NULL), 201);
    CHECK_EQ_INT(get_as(st, ro, "/v1/webhooks"), 200);
    E2E_EXPECT(st, "POST", ro, "/v1/webhooks",
               "{\"name\":\"ro\",\"url\":\"https://127.0.0.1:9/x\",\"events\":\"booking\"}", 403, NULL);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", acme_wh);
    E2E_EXPECT(st, "DELETE", ro, path, NULL, 403, NULL);
}

static void check_refusals(struct hx_stack *st, const char *admin, const char *acme_key, const char *ro_key,
                           const char *writer_key, const char *globex_key)
{
    E2E_SECTION("a tenant key with webhooks:write: its own tenant, named or not (201)");
    CHECK_EQ_INT(portal_new(st, acme_key, "{}", NULL, NULL, NULL), 201);
    CHECK_EQ_INT(portal_new(st, acme_key, "{\"tenant\":\"acme\",\"ttl_s\":10}", NULL, NULL, NULL), 201);
    CHECK_EQ_INT(portal_new(st, acme_key, "{\"tenant\":null,\"scopes\":[\"webhooks:read\",\"events:write\"]}", NULL,
                            NULL, NULL), 201);

    E2E_SECTION("another tenant, or one that does not exist: 404");
    E2E_EXPECT(st, "POST", acme_key, "/v1/portal-sessions", "{\"tenant\":\"globex\"}", 404, "Tenant not found.");
    E2E_EXPECT(st, "POST", globex_key, "/v1/portal-sessions", "{\"tenant\":\"acme\"}", 404, "Tenant not found.");
    E2E_EXPECT(st, "POST", acme_key, "/v1/portal-sessions", "{\"tenant\":\"nosuch\"}", 404, "Tenant not found.");
    E2E_EXPECT(st, "POST", admin, "/v1/portal-sessions", "{\"tenant\":\"nosuch\"}", 404, "Tenant not found.");

    E2E_SECTION("no webhooks:write, or scopes wider than the caller's key: 403");
    E2E_EXPECT(st, "POST", ro_key, "/v1/portal-sessions", "{}", 403, "This key lacks the webhooks:write scope.");
    E2E_EXPECT(st, "POST", writer_key, "/v1/portal-sessions",
               "{\"scopes\":[\"webhooks:read\",\"webhooks:write\",\"events:write\"]}", 403,
               "\"scopes\" may not be wider than the caller's key, which lacks events:write.");
    CHECK_EQ_INT(portal_new(st, writer_key, "{\"scopes\":[\"webhooks:read\",\"webhooks:write\"]}", NULL, NULL, NULL),
                 201);

    E2E_SECTION("no key, a wrong key, a token never issued: 401");
    E2E_EXPECT(st, "POST", NULL, "/v1/portal-sessions", "{\"tenant\":\"acme\"}", 401, NULL);
    E2E_EXPECT(st, "POST", "hlk_wrong", "/v1/portal-sessions", "{\"tenant\":\"acme\"}", 401, NULL);
    E2E_EXPECT(st, "GET", "hlp_0000000000000000000000000000000000000000000", "/v1/webhooks", NULL, 401,
               "This portal link has expired or was revoked.");

    E2E_SECTION("every bad field: 400 naming it");
    static const char *const bad[][2] = {
        {"{\"tenant\":\"acme\",\"ttl_s\":9}", "\"ttl_s\" must be an integer from 10 to 86400"},
        {"{\"tenant\":\"acme\",\"ttl_s\":86401}", "\"ttl_s\" must be an integer from 10 to 86400"},
        {"{\"tenant\":\"acme\",\"ttl_s\":-1}", "\"ttl_s\""},
        {"{\"tenant\":\"acme\",\"ttl_s\":\"600\"}", "\"ttl_s\""},
        {"{\"tenant\":\"acme\",\"ttl_s\":60.5}", "\"ttl_s\""},
        {"{\"tenant\":\"acme\",\"scopes\":[]}", "\"scopes\" must be a non-empty array"},
        {"{\"tenant\":\"acme\",\"scopes\":[\"admin\"]}", "\"scopes\" must be a non-empty array"},
        {"{\"tenant\":\"acme\",\"scopes\":\"webhooks:read\"}", "\"scopes\" must be a non-empty array"},
        {"{\"tenant\":\"acme\",\"scopes\":[\"webhooks:write\"]}", "\"scopes\" must include webhooks:read"},
        {"{\"tenant\":42}", "\"tenant\" must be a tenant id"},
        {"{\"tenant\":\"a b\"}", "\"tenant\" must be a tenant id"},
        {"{\"ttl_s\":600}", "\"tenant\" must be specified"},
        {"[]", "Request body must be a JSON object."},
        {"not json", "Request body is not valid JSON"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        E2E_EXPECT(st, "POST", admin, "/v1/portal-sessions", bad[i][0], 400, bad[i][1]);
    /* the tenant key gets the same answers, before any tenant is looked up */
    E2E_EXPECT(st, "POST", acme_key, "/v1/portal-sessions", "{\"tenant\":\"globex\",\"ttl_s\":0}", 400, "\"ttl_s\"");
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM portal_sessions WHERE tenant_id <> 'acme'", NULL, NULL), 0);
}

static void check_revoke(struct hx_stack *st, const char *admin, const char *acme_key, const char *globex_key)
{
    char token[128], id[128], path[256];
    E2E_SECTION("DELETE /v1/portal-sessions/{id}: another tenant's is 404; the owner's revoke holds at once");
    CHECK_EQ_INT(portal_new(st, acme_key, "{\"ttl_s\":600}", token, id, NULL), 201);
    CHECK_EQ_INT(get_as(st, token, "/v1/webhooks"), 200);
    snprintf(path, sizeof(path), "/v1/portal-sessions/%s", id);
    E2E_EXPECT(st, "DELETE", globex_key, path, NULL, 404, "Portal session not found.");
    CHECK_EQ_INT(get_as(st, token, "/v1/webhooks"), 200);
    E2E_EXPECT(st, "DELETE", acme_key, path, NULL, 200, NULL);
    E2E_EXPECT(st, "GET", token, "/v1/webhooks", NULL, 401, "This portal link has expired or was revoked.");
    E2E_EXPECT(st, "DELETE", acme_key, path, NULL, 200, NULL);
    E2E_EXPECT(st, "DELETE", acme_key, "/v1/portal-sessions/ps_nosuch", NULL, 404, "Portal session not found.");
    E2E_EXPECT(st, "DELETE", NULL, path, NULL, 401, NULL);

    E2E_SECTION("the admin key revokes any tenant's session");
    CHECK_EQ_INT(portal_new(st, acme_key, "{\"ttl_s\":600}", token, id, NULL), 201);
    snprintf(path, sizeof(path), "/v1/portal-sessions/%s", id);
    E2E_EXPECT(st, "DELETE", admin, path, NULL, 200, NULL);
    E2E_EXPECT(st, "GET", token, "/v1/webhooks", NULL, 401, NULL);

    E2E_SECTION("a revoke written by another process (straight to PostgreSQL) holds on the very next request");
    CHECK_EQ_INT(portal_new(st, acme_key, "{\"ttl_s\":600}", token, id, NULL), 201);
    CHECK_EQ_INT(get_as(st, token, "/v1/webhooks"), 200);
    CHECK_EQ_INT(get_as(st, token, "/v1/webhooks"), 200);
    CHECK_EQ_INT(e2e_db_long(st, "WITH u AS (UPDATE portal_sessions SET revoked_at = now() WHERE id = $1 RETURNING 1) "
                                 "SELECT count(*) FROM u", id, NULL), 1);
    E2E_EXPECT(st, "GET", token, "/v1/webhooks", NULL, 401, NULL);
}

static void check_expiry(struct hx_stack *st, const char *acme_key)
{
    char token[128];
    E2E_SECTION("a 10 s session works until its expiry, not after, and not a moment less");
    long long t0 = hx_now_ms();
    CHECK_EQ_INT(portal_new(st, acme_key, "{\"ttl_s\":10}", token, NULL, NULL), 201);
    CHECK_EQ_INT(get_as(st, token, "/v1/webhooks"), 200);
    CHECK(HX_WAIT(get_as(st, token, "/v1/webhooks") == 401, EXPIRY_WAIT_MS));
    CHECK(hx_now_ms() - t0 >= 9900);
    E2E_EXPECT(st, "GET", token, "/v1/webhooks", NULL, 401, "This portal link has expired or was revoked.");
}

static void check_retention(struct hx_stack *st, const char *acme_key)
{
    char id[128];
    E2E_SECTION("retention deletes a session a day after its expiry, not the ones expired since less");
    CHECK_EQ_INT(portal_new(st, acme_key, "{\"ttl_s\":600}", NULL, id, NULL), 201);
    CHECK_EQ_INT(e2e_db_long(st, "WITH u AS (UPDATE portal_sessions SET created_at = now() - interval '26 hours', "
                                 "expires_at = now() - interval '25 hours' WHERE id = $1 RETURNING 1) "
                                 "SELECT count(*) FROM u", id, NULL), 1);
    long long recent = e2e_db_long(st, "SELECT count(*) FROM portal_sessions WHERE id <> $1", id, NULL);
    CHECK(recent > 5);
    CHECK(HX_WAIT(e2e_db_long(st, "SELECT count(*) FROM portal_sessions WHERE id = $1", id, NULL) == 0, 30000));
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM portal_sessions", NULL, NULL), recent);
}

static void check_header(const struct hx_resp *resp, const char *name, const char *want)
{
    char got[1024];
    if (hx_resp_header(resp, name, got, sizeof(got)) < 0)
        snprintf(got, sizeof(got), "(absent)");
    check_count++;
    if (strcmp(got, want) != 0) {
        check_failures++;
        fprintf(stderr, "CHECK failed: %s is \"%s\", want \"%s\"\n", name, got, want);
    }
}

static void check_framing(struct hx_stack *st)
{
    struct hx_resp resp;
    char url[256];
    E2E_SECTION("GET /portal may be framed by the listed origins only; GET / by none, as before");
    snprintf(url, sizeof(url), "%s/portal", hx_api_url(st));
    CHECK_EQ_INT(hx_http("GET", url, NULL, NULL, NULL, &resp), 200);
    check_header(&resp, "Content-Security-Policy", BASE_CSP_HEAD ANCESTORS BASE_CSP_TAIL);
    check_header(&resp, "X-Frame-Options", "(absent)");
    check_header(&resp, "Referrer-Policy", "no-referrer");
    hx_resp_free(&resp);
    snprintf(url, sizeof(url), "%s/", hx_api_url(st));
    CHECK_EQ_INT(hx_http("GET", url, NULL, NULL, NULL, &resp), 200);
    check_header(&resp, "Content-Security-Policy", BASE_CSP_HEAD "'none'" BASE_CSP_TAIL);
    check_header(&resp, "X-Frame-Options", "DENY");
    hx_resp_free(&resp);
    snprintf(url, sizeof(url), "%s/console/app.js", hx_api_url(st));
    CHECK_EQ_INT(hx_http("GET", url, NULL, NULL, NULL, &resp), 200);
    check_header(&resp, "X-Frame-Options", "DENY");
    hx_resp_free(&resp);
}

/* No token issued appears in the log at 'path'; the log holds the debug
 * lines of the portal routes, so it saw them. */
static void check_log(const char *path)
{
    char *text = NULL;
    FILE *fp = fopen(path, "r");
    CHECK_FATAL(fp != NULL);
    size_t cap = 0;
    CHECK_FATAL(getdelim(&text, &cap, '\0', fp) >= 0);
    fclose(fp);
    CHECK(strstr(text, "/v1/portal-sessions") != NULL);
    CHECK(strstr(text, "hlp_") == NULL);
    for (int i = 0; i < ntokens; i++) {
        check_count++;
        if (strstr(text, tokens[i] + 4) != NULL) {
            check_failures++;
            fprintf(stderr, "CHECK failed: token %d appears in %s\n", i, path);
        }
    }
    free(text);
}

/* One more key of tenant acme with 'scopes' (a JSON array) into 'out' (128). */
static void key_new(struct hx_stack *st, const char *scopes, char *out)
{
    struct hx_resp resp;
    CHECK_FATAL(e2e_send(st, "POST", hx_admin_key(st), &resp, "/v1/tenants/acme/keys", "{\"scopes\":%s}", scopes) ==
                201);
    snprintf(out, 128, "%s", e2e_str(resp.json, "key"));
    hx_resp_free(&resp);
}

int main(void)
{
    struct hx_stack_opts opts = {
        .env = {"HOOKLINE_LOG_LEVEL=debug", "HOOKLINE_RETENTION_INTERVAL=1s", "HOOKLINE_PORTAL_FRAME_ANCESTORS=" ANCESTORS_ENV, NULL},
    };
    struct hx_stack *st = hx_stack_start(&opts);
    const char *admin = hx_admin_key(st);
    char acme[128], ro[128], writer[128], globex[128], acme_wh[64], globex_wh[64];
    CHECK_FATAL(hx_tenant_new(st, "acme", "webhooks:read,webhooks:write,events:write", acme, sizeof(acme)) == 0);
    key_new(st, "[\"webhooks:read\"]", ro);
    key_new(st, "[\"webhooks:read\",\"webhooks:write\"]", writer);
    CHECK_FATAL(hx_tenant_new(st, "globex", "webhooks:read,webhooks:write", globex, sizeof(globex)) == 0);
    CHECK_FATAL(e2e_webhook_new(st, acme, "acme-hook", "https://127.0.0.1:9/a", acme_wh, NULL) == 201);
    CHECK_FATAL(e2e_webhook_new(st, globex, "globex-hook", "https://127.0.0.1:9/g", globex_wh, NULL) == 201);

    check_created(st, admin);
    check_token_powers(st, admin, acme, globex_wh, acme_wh);
    check_refusals(st, admin, acme, ro, writer, globex);
    check_revoke(st, admin, acme, globex);
    check_framing(st);
    check_expiry(st, acme);
    check_retention(st, acme);
    char log1[4096];
    snprintf(log1, sizeof(log1), "%s", hx_proc_log(st, hx_api_pid(st)));

    E2E_SECTION("with HOOKLINE_PUBLIC_URL the link is built on it (a trailing '/' dropped), whatever the Host");
    hx_stack_setenv(st, "HOOKLINE_PUBLIC_URL=https://hooks.example.com/hookline/");
    CHECK_FATAL(hx_api_restart(st) == 0);
    struct hx_resp resp;
    char token[128];
    CHECK_EQ_INT(portal_new(st, acme, "{}", token, NULL, &resp), 201);
    CHECK(e2e_starts_with(e2e_str(resp.json, "url"), "https://hooks.example.com/hookline/portal#token=hlp_"));
    hx_resp_free(&resp);
    CHECK_EQ_INT(get_as(st, token, "/v1/webhooks"), 200);
    char log2[4096];
    snprintf(log2, sizeof(log2), "%s", hx_proc_log(st, hx_api_pid(st)));

    CHECK_EQ_INT(hx_stack_stop(st), 0);
    E2E_SECTION("at debug level the api logged every request, and no token");
    check_log(log1);
    if (strcmp(log1, log2) != 0)
        check_log(log2);
    return check_exit();
}
