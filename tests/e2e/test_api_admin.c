/* test_api_admin.c: tenants and API keys over REST with the admin key, and
 * `hookline-api create-tenant`.
 *
 * Tenants are created with and without an id (409 for a duplicate, 400 for
 * a bad id); keys are issued with scopes (400 for an unknown scope, 404 for
 * an unknown tenant), shown once and stored only hashed; a revoked key
 * stops working at once; the admin key and tenant keys are each refused on
 * the other's routes (403); a missing or wrong key is 401 on every kind of
 * route; Authorization: Bearer works like x-api-key; the create-tenant
 * command prints {"tenant","key"} and the key works.
 */
#include "api_e2e.h"

static void admin_tenants(struct hx_stack *st)
{
    const char *admin = hx_admin_key(st);
    struct hx_resp resp;

    E2E_SECTION("POST /v1/tenants with an id creates that tenant (201)");
    CHECK_EQ_INT(e2e_send(st, "POST", admin, &resp, "/v1/tenants", "{\"id\":\"acme\",\"name\":\"Acme Inc\"}"), 201);
    CHECK_EQ_STR(e2e_str(resp.json, "id"), "acme");
    CHECK_EQ_STR(e2e_str(resp.json, "name"), "Acme Inc");
    CHECK(e2e_str(resp.json, "created_at") != NULL);
    hx_resp_free(&resp);

    E2E_SECTION("POST /v1/tenants without an id generates one; the name defaults to it");
    CHECK_EQ_INT(e2e_send(st, "POST", admin, &resp, "/v1/tenants", "{\"name\":\"Generated\"}"), 201);
    const char *gen = e2e_str(resp.json, "id");
    CHECK(gen != NULL && strlen(gen) >= 20);
    CHECK_EQ_STR(e2e_str(resp.json, "name"), "Generated");
    char gen_id[64] = "";
    snprintf(gen_id, sizeof(gen_id), "%s", gen ? gen : "");
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send(st, "POST", admin, &resp, "/v1/tenants", "{}"), 201);
    CHECK(e2e_str(resp.json, "id") != NULL && strcmp(e2e_str(resp.json, "id"), gen_id) != 0);
    CHECK_EQ_STR(e2e_str(resp.json, "name"), e2e_str(resp.json, "id"));
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM tenants WHERE id = $1", gen_id, NULL), 1);

    E2E_SECTION("a duplicate tenant id answers 409 and changes nothing");
    CHECK_EQ_INT(e2e_send(st, "POST", admin, &resp, "/v1/tenants", "{\"id\":\"acme\",\"name\":\"Other\"}"), 409);
    CHECK(e2e_is_error_body(&resp));
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM tenants WHERE id = 'acme' AND name = 'Acme Inc'", NULL, NULL),
                 1);

    E2E_SECTION("a bad tenant id answers 400");
    static const char *const bad_ids[] = {
        "{\"id\":\"has space\"}",
        "{\"id\":\"-leading-dash\"}",
        "{\"id\":\"\"}",
        "{\"id\":\"a/b\"}",
        "{\"id\":\"x\\u00e9\"}",
        "{\"id\":42}",
        "{\"id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
        "{\"id\":\"ok\",\"name\":7}",
        "{\"id\":\"ok2\",\"name\":\"\"}",
        "[]",
        "not json",
    };
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        long status = hx_api(st, "POST", admin, bad_ids[i], &resp, "/v1/tenants");
        if (status != 400)
            fprintf(stderr, "body %s: %ld %s\n", bad_ids[i], status, resp.body);
        CHECK_EQ_INT(status, 400);
        CHECK(e2e_is_error_body(&resp));
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM tenants WHERE id IN ('ok', 'ok2')", NULL, NULL), 0);
}

static void admin_keys(struct hx_stack *st)
{
    const char *admin = hx_admin_key(st);
    struct hx_resp resp;
    char key[128] = "", key_id[64] = "";

    E2E_SECTION("POST /v1/tenants/{t}/keys issues a key with the given scopes, shown once");
    CHECK_EQ_INT(e2e_send(st, "POST", admin, &resp, "/v1/tenants/acme/keys",
                          "{\"scopes\":[\"webhooks:read\",\"webhooks:write\"],\"label\":\"ci\"}"),
                 201);
    CHECK(e2e_starts_with(e2e_str(resp.json, "id"), "key_"));
    CHECK(e2e_str(resp.json, "key") != NULL && strlen(e2e_str(resp.json, "key")) >= 32);
    json_t *scopes = json_object_get(resp.json, "scopes");
    CHECK_EQ_INT(json_array_size(scopes), 2);
    CHECK_EQ_STR(json_string_value(json_array_get(scopes, 0)), "webhooks:read");
    CHECK_EQ_STR(json_string_value(json_array_get(scopes, 1)), "webhooks:write");
    snprintf(key, sizeof(key), "%s", e2e_str(resp.json, "key") ? e2e_str(resp.json, "key") : "");
    snprintf(key_id, sizeof(key_id), "%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "");
    hx_resp_free(&resp);

    E2E_SECTION("the key works, and no GET ever shows it; the database keeps only its hash");
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks"), 200);
    hx_resp_free(&resp);
    char wh[64];
    CHECK_EQ_INT(e2e_webhook_new(st, key, "keyed", "https://hooks.example.com/k", wh, NULL), 201);
    static const char *const gets[] = {"/v1/webhooks", "/v1/webhooks/%s", "/v1/webhook-types"};
    for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
        CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, gets[i], wh), 200);
        CHECK(strstr(resp.body, key) == NULL);
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM api_keys a WHERE strpos(a::text, $1) > 0", key, NULL), 0);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM api_keys WHERE id = $1 AND tenant_id = 'acme'", key_id, NULL),
                 1);

    E2E_SECTION("without scopes a key gets every tenant scope");
    CHECK_EQ_INT(e2e_send(st, "POST", admin, &resp, "/v1/tenants/acme/keys", "{}"), 201);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "scopes")), 3);
    hx_resp_free(&resp);

    E2E_SECTION("an unknown scope, an empty or non-array scope list, a bad label: 400, no key");
    long keys_before = e2e_db_long(st, "SELECT count(*) FROM api_keys", NULL, NULL);
    static const char *const bad[] = {
        "{\"scopes\":[\"webhooks:admin\"]}",
        "{\"scopes\":[\"webhooks:read\",\"root\"]}",
        "{\"scopes\":[]}",
        "{\"scopes\":\"webhooks:read\"}",
        "{\"scopes\":[1]}",
        "{\"label\":5}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long status = hx_api(st, "POST", admin, bad[i], &resp, "/v1/tenants/acme/keys");
        if (status != 400)
            fprintf(stderr, "body %s: %ld %s\n", bad[i], status, resp.body);
        CHECK_EQ_INT(status, 400);
        CHECK(e2e_is_error_body(&resp));
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM api_keys", NULL, NULL), keys_before);

    E2E_SECTION("a key for an unknown tenant answers 404");
    CHECK_EQ_INT(e2e_send(st, "POST", admin, &resp, "/v1/tenants/nobody/keys", "{\"scopes\":[\"webhooks:read\"]}"),
                 404);
    CHECK(e2e_is_error_body(&resp));
    hx_resp_free(&resp);

    E2E_SECTION("revoking a key under another tenant's path answers 404 and the key keeps working");
    CHECK_EQ_INT(e2e_send(st, "POST", admin, &resp, "/v1/tenants", "{\"id\":\"globex\"}"), 201);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "DELETE", admin, NULL, &resp, "/v1/tenants/globex/keys/%s", key_id), 404);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks"), 200);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "DELETE", admin, NULL, &resp, "/v1/tenants/acme/keys/key_doesnotexist"), 404);
    hx_resp_free(&resp);

    E2E_SECTION("a revoked key stops working at once (401); a second revoke still answers 200");
    CHECK_EQ_INT(hx_api(st, "DELETE", admin, NULL, &resp, "/v1/tenants/acme/keys/%s", key_id), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "id"), key_id);
    CHECK(json_is_true(json_object_get(resp.json, "revoked")));
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks"), 401);
    CHECK(e2e_is_error_body(&resp));
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks/%s", wh), 401);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send(st, "POST", key, &resp, "/v1/webhooks",
                          "{\"name\":\"after\",\"url\":\"https://a.example.com\",\"events\":\"booking\"}"),
                 401);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "DELETE", admin, NULL, &resp, "/v1/tenants/acme/keys/%s", key_id), 200);
    hx_resp_free(&resp);
}

/* Which key each kind of route accepts: 401 without or with a wrong key,
 * 403 for the wrong kind of key. */
static void admin_auth(struct hx_stack *st)
{
    const char *admin = hx_admin_key(st);
    struct hx_resp resp;
    char key[128];
    CHECK_FATAL(hx_tenant_new(st, "initech", "webhooks:read,webhooks:write,events:write", key, sizeof(key)) == 0);

    E2E_SECTION("the admin key is refused on tenant routes (403)");
    static const char *const tenant_routes[][3] = {
        {"GET", "/v1/webhooks", NULL},
        {"GET", "/v1/webhooks/wh_x", NULL},
        {"POST", "/v1/webhooks", "{\"name\":\"a\",\"url\":\"https://a.example.com\",\"events\":\"booking\"}"},
        {"PATCH", "/v1/webhooks/wh_x", "{\"name\":\"b\"}"},
        {"DELETE", "/v1/webhooks/wh_x", NULL},
        {"POST", "/v1/webhooks/wh_x/rotate-secret", "{}"},
        {"GET", "/v1/webhook-types", NULL},
        {"POST", "/v1/events", "{\"type\":\"booking.scheduled\",\"data\":{}}"},
    };
    for (size_t i = 0; i < sizeof(tenant_routes) / sizeof(tenant_routes[0]); i++) {
        long status = hx_api(st, tenant_routes[i][0], admin, tenant_routes[i][2], &resp, "%s", tenant_routes[i][1]);
        if (status != 403)
            fprintf(stderr, "%s %s: %ld %s\n", tenant_routes[i][0], tenant_routes[i][1], status, resp.body);
        CHECK_EQ_INT(status, 403);
        CHECK(e2e_is_error_body(&resp));
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE name = 'a'", NULL, NULL), 0);

    E2E_SECTION("a tenant key, even with every scope, is refused on admin routes (403)");
    static const char *const admin_routes[][3] = {
        {"POST", "/v1/tenants", "{\"id\":\"sneaky\"}"},
        {"POST", "/v1/tenants/initech/keys", "{\"scopes\":[\"webhooks:read\"]}"},
        {"POST", "/v1/tenants/acme/keys", "{\"scopes\":[\"webhooks:read\"]}"},
        {"DELETE", "/v1/tenants/initech/keys/key_x", NULL},
    };
    for (size_t i = 0; i < sizeof(admin_routes) / sizeof(admin_routes[0]); i++) {
        long status = hx_api(st, admin_routes[i][0], key, admin_routes[i][2], &resp, "%s", admin_routes[i][1]);
        if (status != 403)
            fprintf(stderr, "%s %s: %ld %s\n", admin_routes[i][0], admin_routes[i][1], status, resp.body);
        CHECK_EQ_INT(status, 403);
        CHECK(e2e_is_error_body(&resp));
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM tenants WHERE id = 'sneaky'", NULL, NULL), 0);

    E2E_SECTION("a missing key is 401 on tenant and admin routes");
    CHECK_EQ_INT(hx_api(st, "GET", NULL, NULL, &resp, "/v1/webhooks"), 401);
    CHECK(e2e_is_error_body(&resp));
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "POST", NULL, "{\"id\":\"anon\"}", &resp, "/v1/tenants"), 401);
    CHECK(e2e_is_error_body(&resp));
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "POST", NULL, "{\"type\":\"booking.scheduled\"}", &resp, "/v1/events"), 401);
    hx_resp_free(&resp);

    E2E_SECTION("a wrong key is 401 on tenant and admin routes");
    char wrong[128];
    snprintf(wrong, sizeof(wrong), "%s", key);
    wrong[strlen(wrong) - 1] = wrong[strlen(wrong) - 1] == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(hx_api(st, "GET", wrong, NULL, &resp, "/v1/webhooks"), 401);
    CHECK(e2e_is_error_body(&resp));
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "POST", wrong, "{\"id\":\"anon\"}", &resp, "/v1/tenants"), 401);
    hx_resp_free(&resp);
    char admin_wrong[128];
    snprintf(admin_wrong, sizeof(admin_wrong), "%sx", admin);
    CHECK_EQ_INT(hx_api(st, "POST", admin_wrong, "{\"id\":\"anon\"}", &resp, "/v1/tenants"), 401);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "GET", "", NULL, &resp, "/v1/webhooks"), 401);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM tenants WHERE id = 'anon'", NULL, NULL), 0);

    E2E_SECTION("Authorization: Bearer works like x-api-key, for tenant and admin keys");
    char bearer[200];
    snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", key);
    const char *const hdr_ok[] = {bearer, NULL};
    CHECK_EQ_INT(e2e_http_hdrs(st, "GET", NULL, NULL, hdr_ok, &resp, "/v1/webhooks"), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "entities"), "Webhook");
    hx_resp_free(&resp);
    snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", admin);
    CHECK_EQ_INT(e2e_http_hdrs(st, "POST", NULL, "{\"id\":\"bearer-co\"}", hdr_ok, &resp, "/v1/tenants"), 201);
    hx_resp_free(&resp);
    snprintf(bearer, sizeof(bearer), "Authorization: Bearer %s", wrong);
    CHECK_EQ_INT(e2e_http_hdrs(st, "GET", NULL, NULL, hdr_ok, &resp, "/v1/webhooks"), 401);
    hx_resp_free(&resp);
    snprintf(bearer, sizeof(bearer), "Authorization: Basic %s", key);
    CHECK_EQ_INT(e2e_http_hdrs(st, "GET", NULL, NULL, hdr_ok, &resp, "/v1/webhooks"), 401);
    hx_resp_free(&resp);
}

/* `hookline-api create-tenant NAME` with the stack's environment. */
static void admin_cli(struct hx_stack *st)
{
    char db[1200], brokers[300];
    struct e2e_run run;
    struct hx_resp resp;
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(st));
    snprintf(brokers, sizeof(brokers), "HOOKLINE_KAFKA_BROKERS=%s", hx_brokers(st));
    const char *const env[] = {db, brokers, "HOOKLINE_LOG_LEVEL=warn", NULL};

    E2E_SECTION("create-tenant NAME prints {\"tenant\",\"key\"} and exits 0; the key works");
    const char *const args[] = {"create-tenant", "cli-co", NULL};
    e2e_run_api(hx_artifacts_dir(st), "create-tenant-1", args, env, 30000, &run);
    CHECK_EQ_INT(run.status, 0);
    json_t *printed = json_loads(run.out, 0, NULL);
    CHECK(json_is_object(printed));
    CHECK_EQ_STR(e2e_str(printed, "tenant"), "cli-co");
    char key1[128] = "";
    snprintf(key1, sizeof(key1), "%s", e2e_str(printed, "key") ? e2e_str(printed, "key") : "");
    CHECK(strlen(key1) >= 32);
    json_decref(printed);
    CHECK_EQ_INT(hx_api(st, "GET", key1, NULL, &resp, "/v1/webhooks"), 200);
    hx_resp_free(&resp);
    char wh[64];
    CHECK_EQ_INT(e2e_webhook_new(st, key1, "from-cli", "https://hooks.example.com/cli", wh, NULL), 201);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE id = $1 AND tenant_id = 'cli-co'", wh, NULL), 1);

    E2E_SECTION("create-tenant on an existing tenant keeps it and prints a new key; both work");
    e2e_run_api(hx_artifacts_dir(st), "create-tenant-2", args, env, 30000, &run);
    CHECK_EQ_INT(run.status, 0);
    printed = json_loads(run.out, 0, NULL);
    CHECK_EQ_STR(e2e_str(printed, "tenant"), "cli-co");
    const char *key2 = e2e_str(printed, "key");
    CHECK(key2 != NULL && strcmp(key2, key1) != 0);
    if (key2) {
        CHECK_EQ_INT(hx_api(st, "GET", key2, NULL, &resp, "/v1/webhooks"), 200);
        CHECK_EQ_INT(e2e_int(resp.json, "count"), 1);
        hx_resp_free(&resp);
    }
    json_decref(printed);
    CHECK_EQ_INT(hx_api(st, "GET", key1, NULL, &resp, "/v1/webhooks"), 200);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM tenants WHERE id = 'cli-co'", NULL, NULL), 1);

    E2E_SECTION("create-tenant with an invalid name fails with one line and creates nothing");
    const char *const bad_args[] = {"create-tenant", "bad name!", NULL};
    e2e_run_api(hx_artifacts_dir(st), "create-tenant-bad", bad_args, env, 30000, &run);
    CHECK(run.status != 0);
    CHECK(run.out[0] == '\0');
    CHECK(strstr(run.err, "create-tenant") != NULL);
    CHECK_EQ_INT(run.err_lines, 1);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM tenants WHERE id = 'bad name!'", NULL, NULL), 0);
}

int main(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    admin_tenants(st);
    admin_keys(st);
    admin_auth(st);
    admin_cli(st);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
