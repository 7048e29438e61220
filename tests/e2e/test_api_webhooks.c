/* test_api_webhooks.c: the webhook routes of hookline-api, end to end.
 *
 * Create (flat and wrapped; events as array, one string or a group;
 * several endpoints with their own headers) answers 201 with the secret
 * shown once, then "redacted"; the list is paginated in the documented
 * envelope and filters by event, name and active; PUT replaces, PATCH
 * changes only what it is given, both bump the version; DELETE then 404;
 * rotate-secret shows the new secret once and the lifecycle event carries
 * both secrets; PostgreSQL and the lifecycle events hold the secrets only
 * sealed, each for its webhook and field; the event catalog. Validation errors:
 * test_api_webhook_validation.c; concurrent writes:
 * test_api_webhook_races.c; endpoint URLs: test_api_destinations.c.
 */
#include <time.h>

#include "api_e2e.h"

#define WH_URL "https://hooks.example.com/in"

/* Secret "whsec_" + base64 of at least 24 bytes. */
static bool wh_secret_valid(const char *s)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!e2e_starts_with(s, "whsec_"))
        return false;
    s += 6;
    size_t len = strlen(s), pad = 0;
    if (len == 0 || len % 4 != 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '=' && i >= len - 2)
            pad++;
        else if (pad > 0 || strchr(alphabet, s[i]) == NULL)
            return false;
    }
    return len / 4 * 3 - pad >= 24;
}

static void wh_create(struct hx_stack *st, const char *key)
{
    struct hx_resp resp;
    char id[64] = "", secret[128] = "";

    E2E_SECTION("create with every field: 201, the webhook and its secret, shown this once");
    CHECK_EQ_INT(e2e_send(st, "POST", key, &resp, "/v1/webhooks",
                          "{\"name\":\"Orders hook\",\"description\":\"all orders\",\"url\":\"%s\","
                          "\"events\":[\"booking.scheduled\",\"booking.canceled\"],\"headers\":{\"X-Team\":\"ops\"},"
                          "\"max_retries\":3,\"is_active\":true,"
                          "\"filter\":{\"data.owner\":\"u_42\",\"data.team\":[\"sales\",\"ops\"]}}",
                          WH_URL),
                 201);
    json_t *wh = resp.json;
    CHECK(e2e_starts_with(e2e_str(wh, "id"), "wh_") && strlen(e2e_str(wh, "id")) >= 3 + 22);
    CHECK(wh_secret_valid(e2e_str(wh, "secret")));
    snprintf(id, sizeof(id), "%s", e2e_str(wh, "id") ? e2e_str(wh, "id") : "");
    snprintf(secret, sizeof(secret), "%s", e2e_str(wh, "secret") ? e2e_str(wh, "secret") : "");
    CHECK_EQ_STR(e2e_str(wh, "name"), "Orders hook");
    CHECK_EQ_STR(e2e_str(wh, "description"), "all orders");
    CHECK_EQ_STR(e2e_str(wh, "url"), WH_URL);
    json_t *eps = json_object_get(wh, "endpoints");
    CHECK_EQ_INT(json_array_size(eps), 1);
    CHECK_EQ_STR(e2e_str(json_array_get(eps, 0), "url"), WH_URL);
    CHECK(e2e_starts_with(e2e_str(json_array_get(eps, 0), "id"), "ep_"));
    json_t *events = json_object_get(wh, "events");
    CHECK_EQ_INT(json_array_size(events), 2);
    CHECK_EQ_STR(json_string_value(json_array_get(events, 0)), "booking.scheduled");
    CHECK_EQ_STR(json_string_value(json_array_get(events, 1)), "booking.canceled");
    CHECK_EQ_STR(e2e_str(json_object_get(wh, "headers"), "X-Team"), "ops");
    CHECK_EQ_INT(e2e_int(wh, "max_retries"), 3);
    CHECK(json_is_true(json_object_get(wh, "is_active")));
    CHECK_EQ_STR(e2e_str(json_object_get(wh, "filter"), "data.owner"), "u_42");
    CHECK_EQ_INT(json_array_size(json_object_get(json_object_get(wh, "filter"), "data.team")), 2);
    CHECK_EQ_INT(e2e_int(wh, "version"), 1);
    CHECK(json_object_get(wh, "tenant") == NULL);
    CHECK(json_object_get(wh, "previous_secret") == NULL);
    CHECK(e2e_str(wh, "created_at") != NULL);
    char cache[64] = "";
    CHECK(hx_resp_header(&resp, "Cache-Control", cache, sizeof(cache)) == 0 && strstr(cache, "no-store") != NULL);
    hx_resp_free(&resp);
    CHECK(e2e_db_sealed_is(st, id, "secret", secret));

    E2E_SECTION("GET and the list show the secret as \"redacted\" and never the secret itself");
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks/%s", id), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "secret"), "redacted");
    CHECK_EQ_STR(e2e_str(resp.json, "id"), id);
    CHECK_EQ_STR(e2e_str(resp.json, "name"), "Orders hook");
    CHECK_EQ_INT(e2e_int(resp.json, "max_retries"), 3);
    CHECK(strstr(resp.body, secret + 6) == NULL);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks"), 200);
    CHECK(strstr(resp.body, secret + 6) == NULL);
    CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(resp.json, "elements"), 0), "secret"), "redacted");
    hx_resp_free(&resp);

    E2E_SECTION("create wrapped as {\"webhook\":{...}}; omitted optional fields take their defaults");
    CHECK_EQ_INT(e2e_send(st, "POST", key, &resp, "/v1/webhooks",
                          "{\"webhook\":{\"name\":\"wrapped\",\"url\":\"%s\",\"events\":[\"booking.completed\"]}}",
                          WH_URL),
                 201);
    CHECK_EQ_STR(e2e_str(resp.json, "name"), "wrapped");
    CHECK(wh_secret_valid(e2e_str(resp.json, "secret")));
    CHECK_EQ_STR(e2e_str(resp.json, "description"), "");
    CHECK_EQ_INT(json_object_size(json_object_get(resp.json, "headers")), 0);
    CHECK_EQ_INT(e2e_int(resp.json, "max_retries"), 9);
    CHECK(json_is_true(json_object_get(resp.json, "is_active")));
    CHECK(json_is_null(json_object_get(resp.json, "filter")));
    hx_resp_free(&resp);

    E2E_SECTION("events as one string, as a group name, and with duplicates");
    CHECK_EQ_INT(e2e_send(st, "POST", key, &resp, "/v1/webhooks",
                          "{\"name\":\"one string\",\"url\":\"%s\",\"events\":\"booking.no_show\"}", WH_URL),
                 201);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "events")), 1);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(resp.json, "events"), 0)), "booking.no_show");
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send(st, "POST", key, &resp, "/v1/webhooks",
                          "{\"name\":\"group\",\"url\":\"%s\",\"events\":\"booking\"}", WH_URL),
                 201);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(resp.json, "events"), 0)), "booking");
    hx_resp_free(&resp);
    CHECK_EQ_INT(
        e2e_send(
            st, "POST", key, &resp, "/v1/webhooks",
            "{\"name\":\"dups\",\"url\":\"%s\",\"events\":[\"booking.no_show\",\"booking.no_show\",\"conversation\"]}",
            WH_URL),
        201);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "events")), 2);
    hx_resp_free(&resp);

    E2E_SECTION("a given secret in the Standard Webhooks format is kept");
    CHECK_EQ_INT(e2e_send(st, "POST", key, &resp, "/v1/webhooks",
                          "{\"name\":\"own secret\",\"url\":\"%s\",\"events\":\"booking\","
                          "\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}",
                          WH_URL),
                 201);
    CHECK_EQ_STR(e2e_str(resp.json, "secret"), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    hx_resp_free(&resp);

    E2E_SECTION("several endpoints, each with its own headers; \"url\" is the first");
    CHECK_EQ_INT(e2e_send(st, "POST", key, &resp, "/v1/webhooks",
                          "{\"name\":\"multi\",\"events\":\"conversation\",\"endpoints\":["
                          "{\"url\":\"https://a.example.com/1\",\"headers\":{\"X-A\":\"1\"}},"
                          "{\"url\":\"https://b.example.com/2\",\"headers\":{\"X-B\":\"2\"}},"
                          "{\"url\":\"https://c.example.com/3\"}]}"),
                 201);
    eps = json_object_get(resp.json, "endpoints");
    CHECK_EQ_INT(json_array_size(eps), 3);
    CHECK_EQ_STR(e2e_str(resp.json, "url"), "https://a.example.com/1");
    CHECK_EQ_STR(e2e_str(json_array_get(eps, 1), "url"), "https://b.example.com/2");
    CHECK_EQ_STR(e2e_str(json_object_get(json_array_get(eps, 0), "headers"), "X-A"), "1");
    CHECK_EQ_STR(e2e_str(json_object_get(json_array_get(eps, 1), "headers"), "X-B"), "2");
    CHECK(json_object_get(json_object_get(json_array_get(eps, 0), "headers"), "X-B") == NULL);
    CHECK_EQ_INT(json_object_size(json_object_get(json_array_get(eps, 2), "headers")), 0);
    CHECK(e2e_str(json_array_get(eps, 0), "id") && e2e_str(json_array_get(eps, 1), "id") &&
          strcmp(e2e_str(json_array_get(eps, 0), "id"), e2e_str(json_array_get(eps, 1), "id")) != 0);
    char multi[64];
    snprintf(multi, sizeof(multi), "%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks/%s", multi), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "endpoints")), 3);
    hx_resp_free(&resp);
}


/* Create 'name' with 'events' (JSON text) and activity; returns its id. */
static void wh_add(struct hx_stack *st, const char *key, const char *name, const char *events, bool active,
                   char *id_out)
{
    struct hx_resp resp;
    CHECK_EQ_INT(e2e_send(st, "POST", key, &resp, "/v1/webhooks",
                          "{\"name\":\"%s\",\"url\":\"" WH_URL "\",\"events\":%s,\"is_active\":%s}", name, events,
                          active ? "true" : "false"),
                 201);
    snprintf(id_out, 64, "%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "");
    hx_resp_free(&resp);
}

/* GET a list page; returns the status, the parsed envelope in *page (new reference). */
static long wh_list(struct hx_stack *st, const char *key, const char *query, json_t **page)
{
    struct hx_resp resp;
    long status = hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks%s", query);
    *page = json_incref(resp.json);
    hx_resp_free(&resp);
    return status;
}

static void wh_pagination(struct hx_stack *st)
{
    char key[128], ids[7][64];
    json_t *page = NULL;
    CHECK_FATAL(hx_tenant_new(st, "lister", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);
    wh_add(st, key, "Alpha one", "\"booking\"", true, ids[0]);
    wh_add(st, key, "alpha two", "[\"booking.scheduled\"]", true, ids[1]);
    wh_add(st, key, "beta", "[\"conversation.started\"]", false, ids[2]);
    wh_add(st, key, "gamma", "\"conversation\"", true, ids[3]);
    wh_add(st, key, "delta", "[\"booking.canceled\",\"conversation.closed\"]", false, ids[4]);
    wh_add(st, key, "ALPHA three", "[\"webhook.test\"]", true, ids[5]);
    wh_add(st, key, "epsilon", "[\"booking.no_show\"]", true, ids[6]);

    E2E_SECTION("list: the envelope {entities,count,per_page,pages{current,max},elements}, default size 100");
    CHECK_EQ_INT(wh_list(st, key, "", &page), 200);
    CHECK_EQ_STR(e2e_str(page, "entities"), "Webhook");
    CHECK_EQ_INT(e2e_int(page, "count"), 7);
    CHECK_EQ_INT(e2e_int(page, "per_page"), 100);
    CHECK_EQ_INT(e2e_int(json_object_get(page, "pages"), "current"), 1);
    CHECK_EQ_INT(e2e_int(json_object_get(page, "pages"), "max"), 1);
    json_t *elements = json_object_get(page, "elements");
    CHECK_EQ_INT(json_array_size(elements), 7);
    for (size_t i = 0; i < 7 && i < json_array_size(elements); i++) {
        CHECK_EQ_STR(e2e_str(json_array_get(elements, i), "id"), ids[i]); /* oldest first */
        CHECK_EQ_STR(e2e_str(json_array_get(elements, i), "secret"), "redacted");
    }
    CHECK_EQ_INT(json_object_size(page), 5);
    json_decref(page);

    E2E_SECTION("list: pages of 3 hold every webhook exactly once; a page beyond the last is empty (200)");
    json_t *seen = json_object();
    for (int p = 1; p <= 3; p++) {
        char q[64];
        snprintf(q, sizeof(q), "?page=%d&size=3", p);
        CHECK_EQ_INT(wh_list(st, key, q, &page), 200);
        CHECK_EQ_INT(e2e_int(page, "count"), 7);
        CHECK_EQ_INT(e2e_int(page, "per_page"), 3);
        CHECK_EQ_INT(e2e_int(json_object_get(page, "pages"), "current"), p);
        CHECK_EQ_INT(e2e_int(json_object_get(page, "pages"), "max"), 3);
        CHECK_EQ_INT(json_array_size(json_object_get(page, "elements")), p < 3 ? 3 : 1);
        size_t i;
        json_t *el;
        json_array_foreach(json_object_get(page, "elements"), i, el)
            json_object_set_new(seen, e2e_str(el, "id") ? e2e_str(el, "id") : "?", json_true());
        json_decref(page);
    }
    CHECK_EQ_INT(json_object_size(seen), 7);
    json_decref(seen);
    CHECK_EQ_INT(wh_list(st, key, "?page=4&size=3", &page), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(page, "elements")), 0);
    CHECK_EQ_INT(e2e_int(page, "count"), 7);
    CHECK_EQ_INT(e2e_int(json_object_get(page, "pages"), "current"), 4);
    CHECK_EQ_INT(e2e_int(json_object_get(page, "pages"), "max"), 3);
    json_decref(page);
    CHECK_EQ_INT(wh_list(st, key, "?size=100&page=1", &page), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(page, "elements")), 7);
    json_decref(page);
    CHECK_EQ_INT(wh_list(st, key, "?size=1&page=7", &page), 200);
    CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(page, "elements"), 0), "id"), ids[6]);
    json_decref(page);

    E2E_SECTION("list: size outside 1-100, page below 1 or not a number -> 400");
    static const char *const bad_q[] = {"?size=0", "?size=101", "?size=-1", "?size=abc", "?size=",
                                        "?page=0", "?page=-2",  "?page=x",  "?page=1.5", "?active=yes"};
    for (size_t i = 0; i < sizeof(bad_q) / sizeof(bad_q[0]); i++) {
        char path[64];
        snprintf(path, sizeof(path), "/v1/webhooks%s", bad_q[i]);
        E2E_EXPECT(st, "GET", key, path, NULL, 400, NULL);
    }

    E2E_SECTION("list filters: event= (types and groups), name= (case-insensitive part), active=");
    static const struct {
        const char *q;
        int count;
    } filters[] = {
        {"?event=conversation.started", 2}, /* beta (type), gamma (group) */
        {"?event=booking.canceled", 2},     /* Alpha one (group), delta */
        {"?event=booking.scheduled", 2},    /* Alpha one, alpha two */
        {"?event=webhook.test", 1},
        {"?event=conversation.abandoned", 1}, /* gamma */
        {"?name=alpha", 3},
        {"?name=PHA%20T", 2}, /* "alpha two", "ALPHA three" */
        {"?name=zeta", 0},
        {"?active=false", 2},
        {"?active=true", 5},
        {"?active=true&event=conversation.closed", 1}, /* gamma; delta is inactive */
        {"?name=alpha&size=2&page=2", 3},
    };
    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        CHECK_EQ_INT(wh_list(st, key, filters[i].q, &page), 200);
        long long count = e2e_int(page, "count");
        if (count != filters[i].count)
            fprintf(stderr, "filter %s: count %lld, want %d\n", filters[i].q, count, filters[i].count);
        CHECK_EQ_INT(count, filters[i].count);
        size_t expect = (size_t)filters[i].count;
        if (strstr(filters[i].q, "page=2"))
            expect = 1;
        CHECK_EQ_INT(json_array_size(json_object_get(page, "elements")), expect);
        json_decref(page);
    }
    CHECK_EQ_INT(wh_list(st, key, "?active=false", &page), 200);
    CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(page, "elements"), 0), "name"), "beta");
    CHECK(json_is_false(json_object_get(json_array_get(json_object_get(page, "elements"), 0), "is_active")));
    json_decref(page);
}

static void wh_update(struct hx_stack *st, const char *key)
{
    struct hx_resp resp;
    char id[64], secret[128], path[128], other[64];
    E2E_SECTION("PUT replaces the webhook: omitted optional fields reset to their defaults, version 2");
    CHECK_EQ_INT(e2e_send(st, "POST", key, &resp, "/v1/webhooks",
                          "{\"name\":\"to replace\",\"description\":\"d\",\"url\":\"" WH_URL
                          "\",\"events\":\"booking\","
                          "\"headers\":{\"X-A\":\"1\"},\"max_retries\":2,\"rate_limit\":5,\"is_active\":false,"
                          "\"filter\":{\"data.team\":\"ops\"}}"),
                 201);
    snprintf(id, sizeof(id), "%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "");
    snprintf(secret, sizeof(secret), "%s", e2e_str(resp.json, "secret") ? e2e_str(resp.json, "secret") : "");
    hx_resp_free(&resp);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
    CHECK_EQ_INT(
        e2e_send(st, "PUT", key, &resp, path,
                 "{\"name\":\"replaced\",\"url\":\"https://new.example.com/x\",\"events\":[\"conversation.closed\"]}"),
        200);
    CHECK_EQ_STR(e2e_str(resp.json, "id"), id);
    CHECK_EQ_STR(e2e_str(resp.json, "name"), "replaced");
    CHECK_EQ_STR(e2e_str(resp.json, "url"), "https://new.example.com/x");
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(resp.json, "events"), 0)), "conversation.closed");
    CHECK_EQ_STR(e2e_str(resp.json, "description"), "");
    CHECK_EQ_INT(json_object_size(json_object_get(resp.json, "headers")), 0);
    CHECK_EQ_INT(e2e_int(resp.json, "max_retries"), 9);
    CHECK(json_is_null(json_object_get(resp.json, "rate_limit")));
    CHECK(json_is_true(json_object_get(resp.json, "is_active")));
    CHECK(json_is_null(json_object_get(resp.json, "filter")));
    CHECK_EQ_INT(e2e_int(resp.json, "version"), 2);
    CHECK_EQ_STR(e2e_str(resp.json, "secret"), "redacted");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "%s", path), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "name"), "replaced");
    CHECK_EQ_INT(e2e_int(resp.json, "max_retries"), 9);
    CHECK_EQ_INT(e2e_int(resp.json, "version"), 2);
    hx_resp_free(&resp);
    CHECK(e2e_db_sealed_is(st, id, "secret", secret));

    E2E_SECTION("PUT with the body a GET returned is accepted and changes nothing but the version");
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "%s", path), 200);
    json_t *got = json_incref(resp.json);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send_json(st, "PUT", key, &resp, path, got), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "name"), "replaced");
    CHECK_EQ_STR(e2e_str(resp.json, "url"), "https://new.example.com/x");
    CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(resp.json, "endpoints"), 0), "id"),
                 e2e_str(json_array_get(json_object_get(got, "endpoints"), 0), "id"));
    CHECK_EQ_INT(e2e_int(resp.json, "version"), 3);
    if (resp.status != 200)
        fprintf(stderr, "PUT of a GET body: %s\n", resp.body);
    hx_resp_free(&resp);
    json_decref(got);
    CHECK(e2e_db_sealed_is(st, id, "secret", secret));

    E2E_SECTION("PUT without a required field -> 400 and nothing changes; on an unknown id -> 404");
    E2E_EXPECT(st, "PUT", key, path, "{\"name\":\"replaced\",\"events\":\"booking\"}", 400,
               "A valid \"url\" must be specified.");
    E2E_EXPECT(st, "PUT", key, path, "{\"url\":\"" WH_URL "\",\"events\":\"booking\"}", 400, "A valid \"name\"");
    E2E_EXPECT(st, "PUT", key, "/v1/webhooks/wh_doesnotexist000000000000",
               "{\"name\":\"n\",\"url\":\"" WH_URL "\",\"events\":\"booking\"}", 404, "Webhook not found.");
    E2E_EXPECT(st, "PUT", key, path, "{not json", 400, NULL);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT version FROM webhooks WHERE id = $1", id, NULL), 3);

    E2E_SECTION("PATCH changes only the given fields and bumps the version");
    CHECK_EQ_INT(e2e_send(st, "PATCH", key, &resp, path,
                          "{\"headers\":{\"X-B\":\"2\"},\"max_retries\":4,\"filter\":{\"data.owner\":\"u_1\"}}"),
                 200);
    CHECK_EQ_INT(e2e_int(resp.json, "version"), 4);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "%s", path), 200);
    json_t *before = json_incref(resp.json);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send(st, "PATCH", key, &resp, path, "{\"description\":\"only this\"}"), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "description"), "only this");
    CHECK_EQ_INT(e2e_int(resp.json, "version"), 5);
    static const char *const kept[] = {"name",        "url",       "events", "endpoints",  "headers",
                                       "max_retries", "is_active", "filter", "rate_limit", "created_at"};
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        if (!json_equal(json_object_get(resp.json, kept[i]), json_object_get(before, kept[i])))
            fprintf(stderr, "PATCH changed \"%s\"\n", kept[i]);
        CHECK(json_equal(json_object_get(resp.json, kept[i]), json_object_get(before, kept[i])));
    }
    CHECK_EQ_STR(e2e_str(json_object_get(resp.json, "headers"), "X-B"), "2");
    CHECK_EQ_INT(e2e_int(resp.json, "max_retries"), 4);
    hx_resp_free(&resp);
    json_decref(before);
    CHECK_EQ_INT(e2e_send(st, "PATCH", key, &resp, path, "{\"webhook\":{\"is_active\":false}}"), 200);
    CHECK(json_is_false(json_object_get(resp.json, "is_active")));
    CHECK_EQ_STR(e2e_str(resp.json, "description"), "only this");
    CHECK_EQ_INT(e2e_int(resp.json, "version"), 6);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send(st, "PATCH", key, &resp, path, "{\"events\":\"booking\"}"), 200);
    CHECK_EQ_STR(json_string_value(json_array_get(json_object_get(resp.json, "events"), 0)), "booking");
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "events")), 1);
    hx_resp_free(&resp);

    E2E_SECTION("PATCH of the URL keeps the endpoint id only while the URL stays the same");
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "%s", path), 200);
    char ep_id[64];
    snprintf(ep_id, sizeof(ep_id), "%s", e2e_str(json_array_get(json_object_get(resp.json, "endpoints"), 0), "id"));
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send(st, "PATCH", key, &resp, path, "{\"url\":\"https://new.example.com/x\"}"), 200);
    CHECK_EQ_STR(e2e_str(json_array_get(json_object_get(resp.json, "endpoints"), 0), "id"), ep_id);
    hx_resp_free(&resp);
    CHECK_EQ_INT(e2e_send(st, "PATCH", key, &resp, path, "{\"url\":\"https://newer.example.com/y\"}"), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "url"), "https://newer.example.com/y");
    CHECK(strcmp(e2e_str(json_array_get(json_object_get(resp.json, "endpoints"), 0), "id"), ep_id) != 0);
    hx_resp_free(&resp);

    E2E_SECTION("PATCH errors: bad values -> 400, a taken name -> 409, a secret -> 400; nothing changes");
    long version = e2e_db_long(st, "SELECT version FROM webhooks WHERE id = $1", id, NULL);
    CHECK_EQ_INT(e2e_webhook_new(st, key, "taken name", WH_URL, other, NULL), 201);
    E2E_EXPECT(st, "PATCH", key, path, "{\"max_retries\":\"x\"}", 400, "\"max_retries\"");
    E2E_EXPECT(st, "PATCH", key, path, "{\"name\":\"\"}", 400, "A valid \"name\"");
    E2E_EXPECT(st, "PATCH", key, path, "{\"url\":\"http://plain.example.com\"}", 400,
               "A valid \"url\" must be specified.");
    E2E_EXPECT(st, "PATCH", key, path, "{\"events\":[\"nope.nope\"]}", 422, "Some events are not available");
    E2E_EXPECT(st, "PATCH", key, path, "{\"name\":\"taken name\"}", 409, NULL);
    E2E_EXPECT(st, "PATCH", key, path, "{\"secret\":\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}", 400, "\"secret\"");
    E2E_EXPECT(st, "PATCH", key, path, "{\"colour\":1}", 400, "Unknown field \"colour\"");
    E2E_EXPECT(st, "PATCH", key, path, "[]", 400, NULL);
    E2E_EXPECT(st, "PATCH", key, "/v1/webhooks/wh_doesnotexist000000000000", "{\"description\":\"x\"}", 404,
               "Webhook not found.");
    CHECK_EQ_INT(e2e_db_long(st, "SELECT version FROM webhooks WHERE id = $1", id, NULL), version);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE id = $1 AND name = 'replaced'", id, NULL), 1);
    CHECK(e2e_db_sealed_is(st, id, "secret", secret));

    E2E_SECTION("DELETE answers {\"id\",\"deleted\":true}; afterwards every route answers 404");
    CHECK_EQ_INT(hx_api(st, "DELETE", key, NULL, &resp, "%s", path), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "id"), id);
    CHECK(json_is_true(json_object_get(resp.json, "deleted")));
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "%s", path), 404);
    CHECK_EQ_STR(e2e_error(&resp), "Webhook not found.");
    hx_resp_free(&resp);
    E2E_EXPECT(st, "DELETE", key, path, NULL, 404, "Webhook not found.");
    E2E_EXPECT(st, "PATCH", key, path, "{\"description\":\"x\"}", 404, "Webhook not found.");
    E2E_EXPECT(st, "PUT", key, path, "{\"name\":\"n\",\"url\":\"" WH_URL "\",\"events\":\"booking\"}", 404,
               "Webhook not found.");
    char rot[160];
    snprintf(rot, sizeof(rot), "%s/rotate-secret", path);
    E2E_EXPECT(st, "POST", key, rot, NULL, 404, "Webhook not found.");
    E2E_EXPECT(st, "GET", key, "/v1/webhooks/not-an-id", NULL, 404, "Webhook not found.");
    E2E_EXPECT(st, "DELETE", key, "/v1/webhooks/not-an-id", NULL, 404, "Webhook not found.");
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE id = $1", id, NULL), 0);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks?name=replaced"), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 0);
    hx_resp_free(&resp);

    E2E_SECTION("the name of a deleted webhook can be used again");
    CHECK_EQ_INT(e2e_webhook_new(st, key, "replaced", WH_URL, other, NULL), 201);
}

static void wh_rotate(struct hx_stack *st, const char *key)
{
    struct hx_resp resp;
    char id[64], old_secret[128], path[160], new_secret[128] = "";
    E2E_SECTION("rotate-secret shows a new secret once; GET shows \"redacted\"; the old one signs for 24 h");
    CHECK_EQ_INT(e2e_webhook_new(st, key, "rotating", WH_URL, id, old_secret), 201);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/rotate-secret", id);
    long long t0 = hx_realtime_ms();
    CHECK_EQ_INT(hx_api(st, "POST", key, NULL, &resp, "%s", path), 200);
    CHECK(wh_secret_valid(e2e_str(resp.json, "secret")));
    CHECK(e2e_str(resp.json, "secret") && strcmp(e2e_str(resp.json, "secret"), old_secret) != 0);
    snprintf(new_secret, sizeof(new_secret), "%s", e2e_str(resp.json, "secret") ? e2e_str(resp.json, "secret") : "");
    CHECK_EQ_STR(e2e_str(resp.json, "id"), id);
    CHECK_EQ_INT(e2e_int(resp.json, "version"), 2);
    CHECK(strstr(resp.body, old_secret + 6) == NULL);
    const char *until = e2e_str(resp.json, "previous_secret_expires_at");
    CHECK(until != NULL);
    if (until) {
        /* ~24 h from now: compare the date-time as text against now + 24 h +- 1 h */
        char lo[32], hi[32];
        time_t a = (time_t)(t0 / 1000 + 23 * 3600), b = (time_t)(t0 / 1000 + 25 * 3600);
        strftime(lo, sizeof(lo), "%Y-%m-%dT%H:%M:%S", gmtime(&a));
        strftime(hi, sizeof(hi), "%Y-%m-%dT%H:%M:%S", gmtime(&b));
        CHECK(strcmp(until, lo) > 0 && strcmp(until, hi) < 0);
    }
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "/v1/webhooks/%s", id), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "secret"), "redacted");
    CHECK(strstr(resp.body, new_secret + 6) == NULL && strstr(resp.body, old_secret + 6) == NULL);
    hx_resp_free(&resp);
    CHECK(e2e_db_sealed_is(st, id, "secret", new_secret));
    CHECK(e2e_db_sealed_is(st, id, "previous_secret", old_secret));
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE id = $1 "
                                 "AND previous_secret_expires_at > now() + interval '23 hours'", id, NULL), 1);

    E2E_SECTION("the webhook.secret_rotated lifecycle event carries the new and the previous secret, sealed");
    struct e2e_consumer *c = e2e_consumer_new(hx_brokers(st), "hookline.webhooks");
    CHECK(e2e_consume_until(c, "webhook.id", id, 2, 30000));
    size_t i;
    json_t *m;
    int found = 0;
    json_array_foreach(c->msgs, i, m)
    {
        json_t *v = json_object_get(m, "value"), *doc = json_object_get(v, "webhook");
        if (!e2e_str(doc, "id") || strcmp(e2e_str(doc, "id"), id) != 0 || !e2e_str(v, "type") ||
            strcmp(e2e_str(v, "type"), "webhook.secret_rotated") != 0)
            continue;
        found++;
        /* sealed for this webhook: the topic shows neither */
        CHECK(e2e_sealed_is(st, e2e_str(doc, "tenant"), id, "secret", e2e_str(doc, "secret"), new_secret));
        CHECK(e2e_sealed_is(st, e2e_str(doc, "tenant"), id, "previous_secret", e2e_str(doc, "previous_secret"),
                            old_secret));
        CHECK(e2e_str(doc, "previous_secret_expires_at") != NULL);
        CHECK_EQ_INT(e2e_int(v, "version"), 2);
    }
    CHECK_EQ_INT(found, 1);
    e2e_consumer_free(c);

    E2E_SECTION("a second rotation makes the first new secret the previous one");
    CHECK_EQ_INT(hx_api(st, "POST", key, "{}", &resp, "%s", path), 200);
    CHECK(e2e_str(resp.json, "secret") && strcmp(e2e_str(resp.json, "secret"), new_secret) != 0);
    CHECK(e2e_db_sealed_is(st, id, "previous_secret", new_secret));
    hx_resp_free(&resp);
}

static void wh_catalog(struct hx_stack *st, const char *key)
{
    static const char *const types[] = {
        "booking.scheduled",
        "booking.rescheduled",
        "booking.canceled_then_rescheduled",
        "booking.canceled_reschedule_requested",
        "booking.canceled",
        "booking.completed",
        "booking.no_show",
        "conversation.reached_out",
        "conversation.started",
        "conversation.closed",
        "conversation.abandoned",
        "webhook.test",
        /* hookline's own, in the group "operational" (not their prefix) */
        "webhook.disabled",
        "endpoint.failing",
        "endpoint.recovered",
        "delivery.exhausted",
    };
    const size_t business = 12;
    struct hx_resp resp;
    E2E_SECTION("GET /v1/webhook-types lists the 12 default types and the 4 operational ones, with descriptions "
                "and the groups");
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "/v1/webhook-types"), 200);
    json_t *elements = json_object_get(resp.json, "elements");
    CHECK_EQ_INT(json_array_size(elements), 16);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 16);
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        size_t i, hits = 0;
        json_t *el;
        json_array_foreach(elements, i, el)
        {
            if (e2e_str(el, "name") && strcmp(e2e_str(el, "name"), types[t]) == 0) {
                hits++;
                CHECK(e2e_str(el, "description") && e2e_str(el, "description")[0]);
                CHECK(e2e_str(el, "group") &&
                      (t < business ? strncmp(types[t], e2e_str(el, "group"), strlen(e2e_str(el, "group"))) == 0
                                    : strcmp(e2e_str(el, "group"), "operational") == 0));
            }
        }
        if (hits != 1)
            fprintf(stderr, "type %s listed %zu times\n", types[t], hits);
        CHECK_EQ_INT(hits, 1);
    }
    size_t i;
    json_t *g;
    int booking = 0, conversation = 0, operational = 0, webhook = 0;
    json_array_foreach(json_object_get(resp.json, "groups"), i, g)
    {
        if (e2e_str(g, "name") && strcmp(e2e_str(g, "name"), "booking") == 0)
            booking = (int)json_array_size(json_object_get(g, "types"));
        if (e2e_str(g, "name") && strcmp(e2e_str(g, "name"), "conversation") == 0)
            conversation = (int)json_array_size(json_object_get(g, "types"));
        if (e2e_str(g, "name") && strcmp(e2e_str(g, "name"), "operational") == 0)
            operational = (int)json_array_size(json_object_get(g, "types"));
        if (e2e_str(g, "name") && strcmp(e2e_str(g, "name"), "webhook") == 0)
            webhook = (int)json_array_size(json_object_get(g, "types"));
    }
    CHECK_EQ_INT(booking, 7);
    CHECK_EQ_INT(conversation, 4);
    CHECK_EQ_INT(operational, 4);
    CHECK_EQ_INT(webhook, 1);
    hx_resp_free(&resp);
}


int main(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    char key[128];
    CHECK_FATAL(hx_tenant_new(st, "shop", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);
    wh_create(st, key);
    wh_pagination(st);
    wh_update(st, key);
    wh_rotate(st, key);
    wh_catalog(st, key);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
