/* test_api_isolation.c: tenants never see each other, and scopes bound
 * what a key may do.
 *
 * Tenant B gets 404 on every route for tenant A's webhook ids (GET, PUT,
 * PATCH, DELETE, rotate-secret), exactly as for an id that does not exist,
 * and A's webhook is unchanged afterwards; B's list never shows A's
 * webhooks; names are unique per tenant only. For every route, a key
 * without the route's scope answers 403 and changes nothing.
 */
#include "api_e2e.h"

/* A's webhook as stored: the fields a foreign write could touch. */
static char *iso_snapshot(struct hx_stack *st, const char *id)
{
    PGconn *pg = hx_pg_connect(st);
    const char *params[1] = {id};
    PGresult *res =
        PQexecParams(pg, "SELECT row_to_json(w)::text FROM webhooks w WHERE id = $1", 1, NULL, params, NULL, NULL, 0);
    char *snap = NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snap = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(pg);
    return snap;
}

static void iso_cross_tenant(struct hx_stack *st, const char *key_a, const char *key_b)
{
    struct hx_resp resp;
    char id_a[64], secret_a[128], path[128], rot[160], id_b[64];
    CHECK_EQ_INT(e2e_webhook_new(st, key_a, "A private hook", "https://a.example.com/hook", id_a, secret_a), 201);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id_a);
    snprintf(rot, sizeof(rot), "%s/rotate-secret", path);
    char *before = iso_snapshot(st, id_a);
    CHECK_FATAL(before != NULL);

    E2E_SECTION("tenant B: 404 \"Webhook not found.\" on GET, PUT, PATCH, DELETE, rotate-secret of A's webhook");
    E2E_EXPECT(st, "GET", key_b, path, NULL, 404, "Webhook not found.");
    E2E_EXPECT(st, "PUT", key_b, path,
               "{\"name\":\"hijacked\",\"url\":\"https://b.example.com/x\",\"events\":\"booking\"}", 404,
               "Webhook not found.");
    E2E_EXPECT(st, "PATCH", key_b, path, "{\"url\":\"https://b.example.com/x\"}", 404, "Webhook not found.");
    E2E_EXPECT(st, "PATCH", key_b, path, "{\"is_active\":false}", 404, "Webhook not found.");
    E2E_EXPECT(st, "POST", key_b, rot, NULL, 404, "Webhook not found.");
    E2E_EXPECT(st, "DELETE", key_b, path, NULL, 404, "Webhook not found.");

    E2E_SECTION("tenant B: A's id answers exactly like an id that does not exist");
    struct hx_resp foreign, absent;
    CHECK_EQ_INT(hx_api(st, "GET", key_b, NULL, &foreign, "%s", path), 404);
    CHECK_EQ_INT(hx_api(st, "GET", key_b, NULL, &absent, "/v1/webhooks/wh_0000000000000000000000"), 404);
    CHECK_EQ_STR(foreign.body, absent.body);
    hx_resp_free(&foreign);
    hx_resp_free(&absent);
    CHECK_EQ_INT(hx_api(st, "DELETE", key_b, NULL, &foreign, "%s", path), 404);
    CHECK_EQ_INT(hx_api(st, "DELETE", key_b, NULL, &absent, "/v1/webhooks/wh_0000000000000000000000"), 404);
    CHECK_EQ_STR(foreign.body, absent.body);
    hx_resp_free(&foreign);
    hx_resp_free(&absent);

    E2E_SECTION("A's webhook is unchanged after B's attempts, and A still reads it");
    char *after = iso_snapshot(st, id_a);
    CHECK(after != NULL && strcmp(before, after) == 0);
    free(after);
    CHECK_EQ_INT(hx_api(st, "GET", key_a, NULL, &resp, "%s", path), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "name"), "A private hook");
    CHECK_EQ_STR(e2e_str(resp.json, "url"), "https://a.example.com/hook");
    CHECK_EQ_INT(e2e_int(resp.json, "version"), 1);
    CHECK(json_is_true(json_object_get(resp.json, "is_active")));
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM outbox WHERE webhook_id = $1", id_a, NULL), 1);

    E2E_SECTION("B's list never shows A's webhooks, with or without filters");
    CHECK_EQ_INT(e2e_webhook_new(st, key_b, "B hook", "https://b.example.com/hook", id_b, NULL), 201);
    static const char *const queries[] = {"", "?name=private", "?event=booking.scheduled", "?active=true",
                                          "?size=1&page=2"};
    for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
        CHECK_EQ_INT(hx_api(st, "GET", key_b, NULL, &resp, "/v1/webhooks%s", queries[i]), 200);
        CHECK(strstr(resp.body, id_a) == NULL);
        CHECK(strstr(resp.body, "A private hook") == NULL);
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(hx_api(st, "GET", key_b, NULL, &resp, "/v1/webhooks"), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 1);
    CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(resp.json, "elements"), 0), "id"), id_b);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "GET", key_a, NULL, &resp, "/v1/webhooks"), 200);
    CHECK(strstr(resp.body, id_b) == NULL);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 1);
    hx_resp_free(&resp);

    E2E_SECTION("names are unique per tenant only: B may use A's name; A's rename to B's name is fine too");
    char same[64];
    CHECK_EQ_INT(e2e_webhook_new(st, key_b, "A private hook", "https://b.example.com/same", same, NULL), 201);
    CHECK_EQ_INT(e2e_send(st, "PATCH", key_a, &resp, path, "{\"name\":\"B hook\"}"), 200);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE tenant_id = 'tenant-b'", NULL, NULL), 2);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE tenant_id = 'tenant-a'", NULL, NULL), 1);

    E2E_SECTION("B cannot delete A's webhook; A can");
    E2E_EXPECT(st, "DELETE", key_b, path, NULL, 404, "Webhook not found.");
    E2E_EXPECT(st, "DELETE", key_a, path, NULL, 200, NULL);
    free(before);
}

/* Every route with a key lacking its scope: 403 and no change. */
static void iso_scopes(struct hx_stack *st)
{
    char key_read[128], key_write[128], key_events[128], id[64], path[128], rot[160];
    struct hx_resp resp;
    CHECK_FATAL(hx_tenant_new(st, "tenant-s", "webhooks:read", key_read, sizeof(key_read)) == 0);
    /* more keys for the same tenant */
    static const char *const scope_bodies[] = {"{\"scopes\":[\"webhooks:write\"]}", "{\"scopes\":[\"events:write\"]}"};
    char *outs[] = {key_write, key_events};
    for (int i = 0; i < 2; i++) {
        CHECK_FATAL(hx_api(st, "POST", hx_admin_key(st), scope_bodies[i], &resp, "/v1/tenants/tenant-s/keys") == 201);
        snprintf(outs[i], 128, "%s", e2e_str(resp.json, "key"));
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(e2e_webhook_new(st, key_write, "scoped", "https://s.example.com/hook", id, NULL), 201);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
    snprintf(rot, sizeof(rot), "%s/rotate-secret", path);
    char *before = iso_snapshot(st, id);
    CHECK_FATAL(before != NULL);
    long events_before = e2e_db_long(st, "SELECT count(*) FROM outbox", NULL, NULL);

    E2E_SECTION("webhooks:read only: may list, get and read the catalog");
    E2E_EXPECT(st, "GET", key_read, "/v1/webhooks", NULL, 200, NULL);
    E2E_EXPECT(st, "GET", key_read, path, NULL, 200, NULL);
    E2E_EXPECT(st, "GET", key_read, "/v1/webhook-types", NULL, 200, NULL);

    E2E_SECTION("webhooks:read only: create, PUT, PATCH, DELETE, rotate-secret, publish -> 403");
    const char *body = "{\"name\":\"nope\",\"url\":\"https://s.example.com/x\",\"events\":\"booking\"}";
    E2E_EXPECT(st, "POST", key_read, "/v1/webhooks", body, 403, NULL);
    E2E_EXPECT(st, "PUT", key_read, path, body, 403, NULL);
    E2E_EXPECT(st, "PATCH", key_read, path, "{\"is_active\":false}", 403, NULL);
    E2E_EXPECT(st, "DELETE", key_read, path, NULL, 403, NULL);
    E2E_EXPECT(st, "POST", key_read, rot, NULL, 403, NULL);
    E2E_EXPECT(st, "POST", key_read, "/v1/events", "{\"type\":\"booking.scheduled\",\"data\":{}}", 403, NULL);

    E2E_SECTION("events:write only: list, get, catalog, create, change, delete, rotate -> 403");
    E2E_EXPECT(st, "GET", key_events, "/v1/webhooks", NULL, 403, NULL);
    E2E_EXPECT(st, "GET", key_events, path, NULL, 403, NULL);
    E2E_EXPECT(st, "GET", key_events, "/v1/webhook-types", NULL, 403, NULL);
    E2E_EXPECT(st, "POST", key_events, "/v1/webhooks", body, 403, NULL);
    E2E_EXPECT(st, "PUT", key_events, path, body, 403, NULL);
    E2E_EXPECT(st, "PATCH", key_events, path, "{\"is_active\":false}", 403, NULL);
    E2E_EXPECT(st, "DELETE", key_events, path, NULL, 403, NULL);
    E2E_EXPECT(st, "POST", key_events, rot, NULL, 403, NULL);

    E2E_SECTION("webhooks:write only: list and get -> 403; publish -> 403");
    E2E_EXPECT(st, "GET", key_write, "/v1/webhooks", NULL, 403, NULL);
    E2E_EXPECT(st, "GET", key_write, path, NULL, 403, NULL);
    E2E_EXPECT(st, "POST", key_write, "/v1/events", "{\"type\":\"booking.scheduled\",\"data\":{}}", 403, NULL);

    E2E_SECTION("after every refused call the webhook is unchanged and nothing was written");
    char *after = iso_snapshot(st, id);
    CHECK(after != NULL && strcmp(before, after) == 0);
    free(after);
    free(before);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE name = 'nope'", NULL, NULL), 0);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM outbox", NULL, NULL), events_before);

    E2E_SECTION("the scope a route needs is enough: events:write publishes, webhooks:write changes");
    E2E_EXPECT(st, "POST", key_events, "/v1/events", "{\"type\":\"booking.scheduled\",\"data\":{}}", 202, NULL);
    E2E_EXPECT(st, "PATCH", key_write, path, "{\"is_active\":false}", 200, NULL);
    E2E_EXPECT(st, "POST", key_write, rot, NULL, 200, NULL);
    E2E_EXPECT(st, "DELETE", key_write, path, NULL, 200, NULL);
}

int main(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    char key_a[128], key_b[128];
    const char *all = "webhooks:read,webhooks:write,events:write";
    CHECK_FATAL(hx_tenant_new(st, "tenant-a", all, key_a, sizeof(key_a)) == 0);
    CHECK_FATAL(hx_tenant_new(st, "tenant-b", all, key_b, sizeof(key_b)) == 0);
    iso_cross_tenant(st, key_a, key_b);
    iso_scopes(st);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
