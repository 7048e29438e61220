/* test_api_webhook_validation.c: every way a webhook create can be wrong.
 *
 * Each validation error of POST /v1/webhooks answers its status (400, 409,
 * 413, 422) and a message naming what is wrong, and stores nothing: no
 * webhook row and no outbox event.
 */
#include "api_e2e.h"

#define WH_URL "https://hooks.example.com/in"


static long wh_rows(struct hx_stack *st)
{
    return e2e_db_long(st, "SELECT (SELECT count(*) FROM webhooks) * 1000000 + (SELECT count(*) FROM outbox)", NULL,
                       NULL);
}

/* Every validation error: its status, its message, and nothing stored. */
static void wh_validation(struct hx_stack *st, const char *key)
{
    const char *P = "/v1/webhooks";
    long before = wh_rows(st);

    E2E_SECTION("name: missing, empty, without a letter or digit, not a string, too long -> 400");
    E2E_EXPECT(st, "POST", key, P, "{\"url\":\"" WH_URL "\",\"events\":\"booking\"}", 400, "A valid \"name\"");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"\",\"url\":\"" WH_URL "\",\"events\":\"booking\"}", 400,
               "A valid \"name\"");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"!!! ---\",\"url\":\"" WH_URL "\",\"events\":\"booking\"}", 400,
               "A valid \"name\"");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":42,\"url\":\"" WH_URL "\",\"events\":\"booking\"}", 400,
               "A valid \"name\"");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":null,\"url\":\"" WH_URL "\",\"events\":\"booking\"}", 400,
               "A valid \"name\"");
    char body[1024];
    snprintf(body, sizeof(body), "{\"name\":\"%0129d\",\"url\":\"" WH_URL "\",\"events\":\"booking\"}", 7);
    E2E_EXPECT(st, "POST", key, P, body, 400, "A valid \"name\"");

    E2E_SECTION("a name already used by this tenant -> 409");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"Orders hook\",\"url\":\"" WH_URL "\",\"events\":\"booking\"}", 409,
               NULL);
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(st, "POST", key, "{\"name\":\"Orders hook\",\"url\":\"" WH_URL "\",\"events\":\"booking\"}",
                        &resp, "%s", P),
                 409);
    CHECK(strstr(e2e_error(&resp), "Orders hook") != NULL);
    hx_resp_free(&resp);

    E2E_SECTION("url: missing, not a string, empty, unparsable, http:// (not allowed here), other schemes -> 400");
    static const char *const bad_urls[] = {
        "{\"name\":\"u\",\"events\":\"booking\"}",
        "{\"name\":\"u\",\"url\":42,\"events\":\"booking\"}",
        "{\"name\":\"u\",\"url\":null,\"events\":\"booking\"}",
        "{\"name\":\"u\",\"url\":\"\",\"events\":\"booking\"}",
        "{\"name\":\"u\",\"url\":\"not a url\",\"events\":\"booking\"}",
        "{\"name\":\"u\",\"url\":\"http://hooks.example.com/in\",\"events\":\"booking\"}",
        "{\"name\":\"u\",\"url\":\"ftp://hooks.example.com/in\",\"events\":\"booking\"}",
        "{\"name\":\"u\",\"url\":\"https://user:pw@hooks.example.com/in\",\"events\":\"booking\"}",
        "{\"name\":\"u\",\"url\":\"https://hooks.example.com/in#frag\",\"events\":\"booking\"}",
        "{\"name\":\"u\",\"url\":\"https://\",\"events\":\"booking\"}",
    };
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
        E2E_EXPECT(st, "POST", key, P, bad_urls[i], 400, "A valid \"url\" must be specified.");
    CHECK_EQ_INT(hx_api(st, "POST", key, bad_urls[5], &resp, "%s", P), 400);
    CHECK(strstr(e2e_error(&resp), "https://") != NULL);
    hx_resp_free(&resp);

    E2E_SECTION("endpoints: empty, not an array, no url, url and endpoints, a URL twice, bad headers, too many -> 400");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"e\",\"events\":\"booking\",\"endpoints\":[]}", 400, "\"endpoints\"");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"e\",\"events\":\"booking\",\"endpoints\":\"" WH_URL "\"}", 400,
               "\"endpoints\"");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"e\",\"events\":\"booking\",\"endpoints\":[{\"headers\":{}}]}", 400,
               "A valid \"url\" must be specified.");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"e\",\"events\":\"booking\",\"endpoints\":[\"" WH_URL "\"]}", 400,
               "A valid \"url\" must be specified.");
    E2E_EXPECT(st, "POST", key, P,
               "{\"name\":\"e\",\"events\":\"booking\",\"url\":\"" WH_URL
               "\",\"endpoints\":[{\"url\":\"https://x.example.com\"}]}",
               400, NULL);
    E2E_EXPECT(st, "POST", key, P,
               "{\"name\":\"e\",\"events\":\"booking\",\"endpoints\":[{\"url\":\"" WH_URL "\"},{\"url\":\"" WH_URL
               "\"}]}",
               400, "\"endpoints\" lists the URL");
    E2E_EXPECT(st, "POST", key, P,
               "{\"name\":\"e\",\"events\":\"booking\",\"endpoints\":[{\"url\":\"" WH_URL "\",\"headers\":[]}]}", 400,
               NULL);
    E2E_EXPECT(st, "POST", key, P,
               "{\"name\":\"e\",\"events\":\"booking\",\"endpoints\":[{\"url\":\"" WH_URL "\",\"colour\":1}]}", 400,
               NULL);
    E2E_EXPECT(st, "POST", key, P,
               "{\"name\":\"e\",\"events\":\"booking\",\"endpoints\":[{\"url\":\"http://plain.example.com\"}]}", 400,
               "A valid \"url\" must be specified.");
    char many[2048] = "{\"name\":\"e\",\"events\":\"booking\",\"endpoints\":[";
    for (int i = 0; i < 11; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s{\"url\":\"https://h%d.example.com\"}",
                 i ? "," : "", i);
    strcat(many, "]}");
    E2E_EXPECT(st, "POST", key, P, many, 400, "\"endpoints\"");

    E2E_SECTION("events: unknown -> 422 \"Some events are not available\" listing them; bad shapes -> 400");
    CHECK_EQ_INT(hx_api(st, "POST", key,
                        "{\"name\":\"ev\",\"url\":\"" WH_URL
                        "\",\"events\":[\"booking.scheduled\",\"nope.happened\",\"nope\"]}",
                        &resp, "%s", P),
                 422);
    CHECK(e2e_starts_with(e2e_error(&resp), "Some events are not available"));
    json_t *unavailable = json_object_get(resp.json, "unavailable");
    CHECK_EQ_INT(json_array_size(unavailable), 2);
    CHECK_EQ_STR(json_string_value(json_array_get(unavailable, 0)), "nope.happened");
    CHECK_EQ_STR(json_string_value(json_array_get(unavailable, 1)), "nope");
    hx_resp_free(&resp);
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"ev\",\"url\":\"" WH_URL "\",\"events\":\"booking.exploded\"}", 422,
               "Some events are not available");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"ev\",\"url\":\"" WH_URL "\"}", 400, "A valid \"events\"");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"ev\",\"url\":\"" WH_URL "\",\"events\":{\"booking\":true}}", 400,
               "A valid \"events\"");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"ev\",\"url\":\"" WH_URL "\",\"events\":[]}", 400, "A valid \"events\"");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"ev\",\"url\":\"" WH_URL "\",\"events\":[1]}", 400,
               "A valid \"events\"");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"ev\",\"url\":\"" WH_URL "\",\"events\":\"\"}", 400,
               "A valid \"events\"");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"ev\",\"url\":\"" WH_URL "\",\"events\":7}", 400, "A valid \"events\"");

    E2E_SECTION("wrong JSON types and out-of-range values for each optional field -> 400 naming the field");
    static const char *const bad_fields[][2] = {
        {"\"headers\":[\"X-A: 1\"]", "\"headers\""},
        {"\"headers\":{\"X-A\":1}", "\"headers\""},
        {"\"headers\":{\"Content-Type\":\"text/plain\"}", "\"headers\""},
        {"\"headers\":{\"webhook-signature\":\"v1,forged\"}", "\"headers\""},
        {"\"headers\":{\"X-A\":\"a\\r\\nX-Injected: 1\"}", "\"headers\""},
        {"\"headers\":{\"X-A\":\"a\\u0001b\"}", "\"headers\""},
        {"\"headers\":{\"X-A\":\"a\\u007fb\"}", "\"headers\""},
        {"\"headers\":{\"bad name\":\"x\"}", "\"headers\""},
        {"\"headers\":\"X-A: 1\"", "\"headers\""},
        {"\"max_retries\":\"3\"", "\"max_retries\""},
        {"\"max_retries\":-1", "\"max_retries\""},
        {"\"max_retries\":10", "\"max_retries\""},
        {"\"max_retries\":2.5", "\"max_retries\""},
        {"\"max_retries\":null", "\"max_retries\""},
        {"\"is_active\":\"true\"", "\"is_active\""},
        {"\"is_active\":1", "\"is_active\""},
        {"\"is_active\":null", "\"is_active\""},
        {"\"description\":5", "\"description\""},
        {"\"rate_limit\":0", "\"rate_limit\""},
        {"\"rate_limit\":\"5\"", "\"rate_limit\""},
        {"\"filter\":\"data.owner=u_42\"", NULL},
        {"\"filter\":[1]", NULL},
        {"\"filter\":{\"\":1}", NULL},
        {"\"filter\":{\"data..owner\":1}", NULL},
        {"\"filter\":{\"data.owner\":{\"eq\":1}}", NULL},
        {"\"filter\":{\"data.owner\":[]}", NULL},
        {"\"filter\":{\"data.owner\":[[1]]}", NULL},
        {"\"secret\":\"hunter2\"", "\"secret\""},
        {"\"secret\":\"whsec_c2hvcnQ=\"", "\"secret\""},
        {"\"secret\":5", "\"secret\""},
    };
    for (size_t i = 0; i < sizeof(bad_fields) / sizeof(bad_fields[0]); i++) {
        snprintf(body, sizeof(body), "{\"name\":\"typed\",\"url\":\"" WH_URL "\",\"events\":\"booking\",%s}",
                 bad_fields[i][0]);
        E2E_EXPECT(st, "POST", key, P, body, 400, bad_fields[i][1]);
    }
    E2E_EXPECT(st, "POST", key, P, "{\"webhook\":\"typed\"}", 400, NULL);
    E2E_EXPECT(st, "POST", key, P, "{\"webhook\":[]}", 400, NULL);

    E2E_SECTION("malformed JSON, a body that is not an object, an empty body -> 400");
    static const char *const not_objects[] = {
        "{\"name\":\"x\",",
        "{name: 'x'}",
        "[{\"name\":\"x\"}]",
        "\"x\"",
        "42",
        "null",
        "true",
        "{\"name\":\"x\",\"name\":\"y\",\"url\":\"" WH_URL "\",\"events\":\"booking\"}",
        /* NUL inside strings would truncate what is checked and break the jsonb column */
        "{\"name\":\"nul\",\"url\":\"" WH_URL "\\u0000.evil.example\",\"events\":\"booking\"}",
        "{\"name\":\"nul\",\"url\":\"" WH_URL "\",\"events\":\"booking\",\"description\":\"a\\u0000b\"}",
        "{\"name\":\"nul\",\"url\":\"" WH_URL "\",\"events\":\"booking.scheduled\\u0000x\"}",
    };
    for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++)
        E2E_EXPECT(st, "POST", key, P, not_objects[i], 400, NULL);
    E2E_EXPECT(st, "POST", key, P, NULL, 400, NULL);

    E2E_SECTION("an unknown field -> 400 naming it");
    E2E_EXPECT(st, "POST", key, P, "{\"name\":\"x\",\"url\":\"" WH_URL "\",\"events\":\"booking\",\"colour\":\"red\"}",
               400, "Unknown field \"colour\"");
    E2E_EXPECT(st, "POST", key, P,
               "{\"webhook\":{\"name\":\"x\",\"url\":\"" WH_URL "\",\"events\":\"booking\",\"colour\":1}}", 400,
               "Unknown field \"colour\"");

    E2E_SECTION("a body over HOOKLINE_MAX_BODY_BYTES (262144) -> 413; one at the limit is read and judged");
    size_t big = 262144 + 1000;
    char *huge = malloc(big + 1);
    CHECK_FATAL(huge != NULL);
    int head =
        snprintf(huge, big + 1, "{\"name\":\"big\",\"url\":\"" WH_URL "\",\"events\":\"booking\",\"description\":\"");
    memset(huge + head, 'a', big - (size_t)head - 2);
    memcpy(huge + big - 2, "\"}", 3);
    E2E_EXPECT(st, "POST", key, P, huge, 413, NULL);
    /* exactly 262144 bytes: not too big, but the description is too long */
    size_t limit = 262144;
    memset(huge + head, 'a', limit - (size_t)head - 2);
    memcpy(huge + limit - 2, "\"}", 3);
    CHECK_EQ_INT(strlen(huge), limit);
    E2E_EXPECT(st, "POST", key, P, huge, 400, "\"description\"");
    free(huge);

    E2E_SECTION("no failed create stored a webhook or an outbox event");
    CHECK_EQ_INT(wh_rows(st), before);
}

int main(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    char key[128], id[64];
    CHECK_FATAL(hx_tenant_new(st, "shop", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);
    /* the name the duplicate check collides with */
    CHECK_EQ_INT(e2e_webhook_new(st, key, "Orders hook", WH_URL, id, NULL), 201);
    wh_validation(st, key);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
