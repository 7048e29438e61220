/* test_api_limits.c: every length and count limit of the api, at the
 * limit and one past it, and what happens at the longest tenant id.
 *
 * Each field of common/limits.c's table is sent at its limit (accepted)
 * and one past it (400 naming the field, nothing stored). Two tenants whose
 * ids differ only in their 64th character stay apart: the longer one's key
 * neither sees nor changes the other's webhooks and publishes as itself.
 */
#include "api_e2e.h"

#include "hl_limits.h"

#define WH_URL "https://hooks.example.com/in"

/* 'n' copies of 'c' followed by 'tail' (may be NULL); caller frees. */
static char *lim_rep(char c, size_t n, const char *tail)
{
    size_t t = tail ? strlen(tail) : 0;
    char *s = malloc(n + t + 1);
    CHECK_FATAL(s != NULL);
    memset(s, c, n);
    memcpy(s + n, tail ? tail : "", t + 1);
    return s;
}

/* ---- the longest tenant ids ------------------------------------------------ */

/* Tenants "t" x 63 and "t" x 63 + "b": the second's key must act as the
 * second tenant alone. Before the limits were defined once, its id was cut
 * to 63 characters in the api's principal and it became the first. */
static void lim_tenant_prefix(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    char *short_id = lim_rep('t', 63, NULL), *long_id = lim_rep('t', 63, "b"), *too_long = lim_rep('t', 64, "b");
    char key_s[128], key_l[128], id_s[64], id_l[64], path[128];
    struct hx_resp resp;

    E2E_SECTION("tenant ids: 64 characters -> 201, 65 -> 400 naming \"id\"");
    CHECK_EQ_INT(strlen(long_id), LIMIT_TENANT_ID_MAX);
    CHECK_FATAL(hx_tenant_new(st, short_id, "webhooks:read,webhooks:write,events:write", key_s, sizeof(key_s)) == 0);
    CHECK_FATAL(hx_tenant_new(st, long_id, "webhooks:read,webhooks:write,events:write", key_l, sizeof(key_l)) == 0);
    char body[256];
    snprintf(body, sizeof(body), "{\"id\":\"%s\"}", too_long);
    E2E_EXPECT(st, "POST", hx_admin_key(st), "/v1/tenants", body, 400, "\"id\"");
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM tenants WHERE length(id) > 64", NULL, NULL), 0);

    E2E_SECTION("the 64-character tenant's key does not see the 63-character tenant's webhooks");
    CHECK_EQ_INT(e2e_webhook_new(st, key_s, "short's hook", WH_URL, id_s, NULL), 201);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id_s);
    CHECK_EQ_INT(hx_api(st, "GET", key_l, NULL, &resp, "/v1/webhooks"), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 0);
    CHECK(strstr(resp.body, id_s) == NULL);
    hx_resp_free(&resp);
    E2E_EXPECT(st, "GET", key_l, path, NULL, 404, "Webhook not found.");
    E2E_EXPECT(st, "PATCH", key_l, path, "{\"description\":\"taken over\"}", 404, "Webhook not found.");
    E2E_EXPECT(st, "DELETE", key_l, path, NULL, 404, "Webhook not found.");
    CHECK_EQ_INT(e2e_db_long(st, "SELECT version FROM webhooks WHERE id = $1 AND tenant_id = $2", id_s, short_id), 1);

    E2E_SECTION("the 64-character tenant's webhook and events are its own");
    CHECK_EQ_INT(e2e_webhook_new(st, key_l, "long's hook", WH_URL, id_l, NULL), 201);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE id = $1 AND tenant_id = $2", id_l, long_id), 1);
    CHECK_EQ_INT(hx_api(st, "GET", key_s, NULL, &resp, "/v1/webhooks"), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 1);
    CHECK(strstr(resp.body, id_l) == NULL);
    hx_resp_free(&resp);
    struct e2e_consumer *c = e2e_consumer_new(hx_brokers(st), "hookline.events");
    CHECK_EQ_INT(hx_api(st, "POST", key_l, "{\"type\":\"booking.scheduled\",\"data\":{}}", &resp, "/v1/events"), 202);
    char evt[160] = "";
    if (e2e_str(resp.json, "id"))
        snprintf(evt, sizeof(evt), "%s", e2e_str(resp.json, "id"));
    hx_resp_free(&resp);
    CHECK(e2e_consume_until(c, "id", evt, 1, 10000));
    size_t i;
    json_t *m;
    json_array_foreach(c->msgs, i, m) {
        json_t *value = json_object_get(m, "value");
        if (strcmp(e2e_str(value, "id") ? e2e_str(value, "id") : "", evt) != 0)
            continue;
        CHECK_EQ_STR(e2e_str(value, "tenant"), long_id);
        CHECK_EQ_STR(e2e_str(m, "key"), long_id);
    }
    e2e_consumer_free(c);

    free(short_id);
    free(long_id);
    free(too_long);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
}

/* ---- every field at its limit and one past it ------------------------------- */

static long lim_rows(struct hx_stack *st)
{
    return e2e_db_long(st, "SELECT (SELECT count(*) FROM webhooks) * 1000000 + (SELECT count(*) FROM outbox)", NULL,
                       NULL);
}

/* POST /v1/webhooks with name 'name', url WH_URL, events "booking" and the
 * fields of 'extra' (stolen; they override those, and a null removes one).
 * Expects 'status' and, for 400, an error starting with 'prefix'; a
 * refusal stores nothing. */
#define LIM_CREATE(st, key, name, extra, status, prefix) \
    lim_create((st), (key), (name), (extra), (status), (prefix), __FILE__, __LINE__)

static void lim_create(struct hx_stack *st, const char *key, const char *name, json_t *extra, long status,
                       const char *prefix, const char *file, int line)
{
    json_t *body = json_pack("{s:s,s:s,s:s}", "name", name, "url", WH_URL, "events", "booking");
    CHECK_FATAL(body != NULL && extra != NULL);
    json_object_update(body, extra);
    const char *k;
    json_t *v;
    json_object_foreach(extra, k, v) {
        if (json_is_null(v))
            json_object_del(body, k);
    }
    json_decref(extra);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    long before = lim_rows(st);
    e2e_expect(st, "POST", key, "/v1/webhooks", text, status, prefix, file, line);
    if (status != 201) {
        check_count++;
        if (lim_rows(st) != before) {
            check_failures++;
            fprintf(stderr, "%s:%d: CHECK failed: a refused create stored something\n", file, line);
        }
    }
    free(text);
}

/* {"<k>": <string of n copies of c>} */
static json_t *lim_str(const char *k, char c, size_t n)
{
    char *v = lim_rep(c, n, NULL);
    json_t *o = json_pack("{s:s}", k, v);
    free(v);
    return o;
}

/* {"headers": {"X-H0": "v", ...}} with 'n' headers */
static json_t *lim_headers(size_t n)
{
    json_t *h = json_object();
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "X-H%zu", i);
        json_object_set_new(h, name, json_string("v"));
    }
    return json_pack("{s:o}", "headers", h);
}

/* {"secret": "whsec_" + base64 of 'n' bytes} (fixed bytes: only the length matters here) */
static json_t *lim_secret(size_t n)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char raw[128];
    char text[200] = "whsec_";
    size_t o = 6;
    for (size_t i = 0; i < n; i++)
        raw[i] = (unsigned char)(i * 37 + 11);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (i + 1 < n ? (unsigned)raw[i + 1] << 8 : 0) | (i + 2 < n ? raw[i + 2] : 0);
        text[o++] = b64[v >> 18 & 63];
        text[o++] = b64[v >> 12 & 63];
        text[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        text[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    text[o] = '\0';
    return json_pack("{s:s}", "secret", text);
}

/* {"filter": {"data.k0": 0, ...}} with 'n' conditions */
static json_t *lim_filter_conditions(size_t n)
{
    json_t *f = json_object();
    for (size_t i = 0; i < n; i++) {
        char path[32];
        snprintf(path, sizeof(path), "data.k%zu", i);
        json_object_set_new(f, path, json_integer((json_int_t)i));
    }
    return json_pack("{s:o}", "filter", f);
}

static void lim_webhook_fields(struct hx_stack *st, const char *key)
{
    char name[32];
    int seq = 0;
#define NEXT_NAME() (snprintf(name, sizeof(name), "w%d", ++seq), name)

    E2E_SECTION("name: 128 bytes -> 201, 129 -> 400");
    char *n128 = lim_rep('n', LIMIT_WEBHOOK_NAME_MAX, NULL), *n129 = lim_rep('n', LIMIT_WEBHOOK_NAME_MAX + 1, NULL);
    LIM_CREATE(st, key, n128, json_object(), 201, NULL);
    LIM_CREATE(st, key, n129, json_object(), 400, "A valid \"name\"");

    E2E_SECTION("description: 1024 bytes -> 201, 1025 -> 400");
    LIM_CREATE(st, key, NEXT_NAME(), lim_str("description", 'd', LIMIT_DESCRIPTION_MAX), 201, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), lim_str("description", 'd', LIMIT_DESCRIPTION_MAX + 1), 400, "\"description\"");

    E2E_SECTION("url: 2048 characters -> 201, 2049 -> 400");
    char *u2048 = lim_rep('p', LIMIT_URL_MAX - strlen(WH_URL) - 1, NULL), *u2049 = lim_rep('p', LIMIT_URL_MAX - strlen(WH_URL), NULL);
    char *url = NULL;
    CHECK_FATAL(asprintf(&url, WH_URL "/%s", u2048) > 0 && strlen(url) == LIMIT_URL_MAX);
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:s}", "url", url), 201, NULL);
    free(url);
    CHECK_FATAL(asprintf(&url, WH_URL "/%s", u2049) > 0 && strlen(url) == LIMIT_URL_MAX + 1);
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:s}", "url", url), 400, "A valid \"url\"");
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:n,s:[{s:s}]}", "url", "endpoints", "url", url), 400,
               "A valid \"url\"");
    free(url);

    E2E_SECTION("endpoints: 10 -> 201, 11 -> 400");
    for (int n = LIMIT_ENDPOINTS_MAX; n <= LIMIT_ENDPOINTS_MAX + 1; n++) {
        json_t *eps = json_array();
        for (int i = 0; i < n; i++) {
            char u[64];
            snprintf(u, sizeof(u), "https://h%d.example.com/in", i);
            json_array_append_new(eps, json_pack("{s:s}", "url", u));
        }
        LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:n,s:o}", "url", "endpoints", eps),
                   n <= LIMIT_ENDPOINTS_MAX ? 201 : 400, "\"endpoints\"");
    }

    E2E_SECTION("events: 64 names -> 201, 65 -> 400; a name of 128 characters -> 201, 129 -> 400");
    json_t *ev64 = json_array();
    for (int i = 0; i < LIMIT_EVENTS_MAX; i++) {
        char t[32];
        snprintf(t, sizeof(t), "limits.e%02d", i);
        json_array_append_new(ev64, json_string(t));
    }
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:O}", "events", ev64), 201, NULL);
    json_array_append_new(ev64, json_string("booking"));
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:O}", "events", ev64), 400, "A valid \"events\"");
    json_decref(ev64);
    char *t128 = lim_rep('x', LIMIT_EVENT_TYPE_MAX - 7, NULL), *type128 = NULL, *type129 = NULL;
    CHECK_FATAL(asprintf(&type128, "limits.%s", t128) > 0 && asprintf(&type129, "limits.%sx", t128) > 0);
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:[s]}", "events", type128), 201, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:[s]}", "events", type129), 400, "A valid \"events\"");
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:s}", "events", type129), 400, "A valid \"events\"");

    E2E_SECTION("headers: a name of 128 characters and a value of 2048 bytes -> 201; 129 / 2049 -> 400");
    char *hn128 = lim_rep('h', LIMIT_HEADER_NAME_MAX, NULL), *hn129 = lim_rep('h', LIMIT_HEADER_NAME_MAX + 1, NULL);
    char *hv2048 = lim_rep('v', LIMIT_HEADER_VALUE_MAX, NULL), *hv2049 = lim_rep('v', LIMIT_HEADER_VALUE_MAX + 1, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:{s:s}}", "headers", hn128, hv2048), 201, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:{s:s}}", "headers", hn129, "v"), 400, "\"headers\"");
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:{s:s}}", "headers", "X-A", hv2049), 400, "\"headers\"");
    LIM_CREATE(st, key, NEXT_NAME(),
               json_pack("{s:n,s:[{s:s,s:{s:s}}]}", "url", "endpoints", "url", WH_URL, "headers", hn129, "v"), 400,
               "\"endpoints.headers\"");

    E2E_SECTION("headers: 32 in one object -> 201, 33 -> 400");
    LIM_CREATE(st, key, NEXT_NAME(), lim_headers(LIMIT_HEADERS_MAX), 201, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), lim_headers(LIMIT_HEADERS_MAX + 1), 400, "\"headers\"");

    E2E_SECTION("secret: base64 of 24 and of 64 bytes -> 201; of 23 and of 65 -> 400");
    LIM_CREATE(st, key, NEXT_NAME(), lim_secret(LIMIT_SECRET_BYTES_MIN), 201, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), lim_secret(LIMIT_SECRET_BYTES_MAX), 201, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), lim_secret(LIMIT_SECRET_BYTES_MIN - 1), 400, "\"secret\"");
    LIM_CREATE(st, key, NEXT_NAME(), lim_secret(LIMIT_SECRET_BYTES_MAX + 1), 400, "\"secret\"");
    struct hx_resp resp;
    json_t *sec = lim_secret(LIMIT_SECRET_BYTES_MAX);
    CHECK_EQ_INT(strlen(json_string_value(json_object_get(sec, "secret"))), LIMIT_SECRET_MAX);
    json_decref(sec);

    E2E_SECTION("filter: 32 conditions, a path of 256, 100 values, 16384 bytes -> 201; one more of each -> 400");
    LIM_CREATE(st, key, NEXT_NAME(), lim_filter_conditions(LIMIT_FILTER_CONDITIONS_MAX), 201, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), lim_filter_conditions(LIMIT_FILTER_CONDITIONS_MAX + 1), 400, "A valid \"filter\"");
    char *p256 = lim_rep('a', LIMIT_FILTER_PATH_MAX, NULL), *p257 = lim_rep('a', LIMIT_FILTER_PATH_MAX + 1, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:{s:i}}", "filter", p256, 1), 201, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:{s:i}}", "filter", p257, 1), 400, "A valid \"filter\"");
    for (int n = LIMIT_FILTER_VALUES_MAX; n <= LIMIT_FILTER_VALUES_MAX + 1; n++) {
        json_t *vals = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(vals, json_integer(i));
        LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:{s:o}}", "filter", "data.n", vals),
                   n <= LIMIT_FILTER_VALUES_MAX ? 201 : 400, "A valid \"filter\"");
    }
    /* {"data.s":"..."} is 13 bytes around the value */
    char *fv = lim_rep('s', LIMIT_FILTER_BYTES_MAX - 13, NULL), *fv1 = lim_rep('s', LIMIT_FILTER_BYTES_MAX - 12, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:{s:s}}", "filter", "data.s", fv), 201, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:{s:s}}", "filter", "data.s", fv1), 400, "A valid \"filter\"");

    E2E_SECTION("rate_limit: 100000 -> 201, 100001 -> 400");
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:i}", "rate_limit", LIMIT_RATE_LIMIT_MAX), 201, NULL);
    LIM_CREATE(st, key, NEXT_NAME(), json_pack("{s:i}", "rate_limit", LIMIT_RATE_LIMIT_MAX + 1), 400, "\"rate_limit\"");

    E2E_SECTION("a change past a limit -> 400, the webhook unchanged");
    char id[64], path[128];
    CHECK_EQ_INT(e2e_webhook_new(st, key, NEXT_NAME(), WH_URL, id, NULL), 201);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
    json_t *patch = lim_str("description", 'd', LIMIT_DESCRIPTION_MAX + 1);
    char *text = json_dumps(patch, JSON_COMPACT);
    E2E_EXPECT(st, "PATCH", key, path, text, 400, "\"description\"");
    free(text);
    json_decref(patch);
    patch = json_pack("{s:s}", "name", n129);
    text = json_dumps(patch, JSON_COMPACT);
    E2E_EXPECT(st, "PATCH", key, path, text, 400, "A valid \"name\"");
    free(text);
    json_decref(patch);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT version FROM webhooks WHERE id = $1", id, NULL), 1);

    E2E_SECTION("list filters: ?event= and ?name= at their limits -> 200, one more -> 400");
    char q[512];
    snprintf(q, sizeof(q), "/v1/webhooks?event=%s", type128);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "%s", q), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 1);
    hx_resp_free(&resp);
    snprintf(q, sizeof(q), "/v1/webhooks?event=%s", type129);
    E2E_EXPECT(st, "GET", key, q, NULL, 400, "\"event\"");
    snprintf(q, sizeof(q), "/v1/webhooks?name=%s", n128);
    CHECK_EQ_INT(hx_api(st, "GET", key, NULL, &resp, "%s", q), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 1);
    hx_resp_free(&resp);
    snprintf(q, sizeof(q), "/v1/webhooks?name=%s", n129);
    E2E_EXPECT(st, "GET", key, q, NULL, 400, "\"name\"");
    snprintf(q, sizeof(q), "/v1/webhooks/%s/deliveries?event_type=%s", id, type128);
    E2E_EXPECT(st, "GET", key, q, NULL, 200, NULL);
    snprintf(q, sizeof(q), "/v1/webhooks/%s/deliveries?event_type=%s", id, type129);
    E2E_EXPECT(st, "GET", key, q, NULL, 400, "\"event_type\"");

    E2E_SECTION("path ids: one of 128 bytes -> 404 \"Webhook not found.\", 129 -> 404 too, never cut short");
    char *pid128 = lim_rep('z', LIMIT_PATH_PARAM_MAX - 3, NULL), *pid129 = lim_rep('z', LIMIT_PATH_PARAM_MAX - 2, NULL);
    snprintf(q, sizeof(q), "/v1/webhooks/wh_%s", pid128);
    E2E_EXPECT(st, "GET", key, q, NULL, 404, "Webhook not found.");
    snprintf(q, sizeof(q), "/v1/webhooks/wh_%s", pid129);
    E2E_EXPECT(st, "GET", key, q, NULL, 404, "Not found.");
    /* the id cut to 128 would be the webhook's own id padded: a prefix never matches */
    snprintf(q, sizeof(q), "/v1/webhooks/%s%s", id, pid128);
    E2E_EXPECT(st, "DELETE", key, q, NULL, 404, NULL);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM webhooks WHERE id = $1", id, NULL), 1);

    char *frees[] = { n128, n129, u2048, u2049, t128, type128, type129, hn128, hn129, hv2048, hv2049, p256, p257, fv,
                      fv1, pid128, pid129 };
    for (size_t i = 0; i < sizeof(frees) / sizeof(frees[0]); i++)
        free(frees[i]);
#undef NEXT_NAME
}

static void lim_event_fields(struct hx_stack *st, const char *key, const char *type128, const char *type129)
{
    char *body = NULL;
    E2E_SECTION("POST /v1/events: a type of 128 characters -> 202, 129 -> 400");
    CHECK_FATAL(asprintf(&body, "{\"type\":\"%s\"}", type128) > 0);
    E2E_EXPECT(st, "POST", key, "/v1/events", body, 202, NULL);
    free(body);
    CHECK_FATAL(asprintf(&body, "{\"type\":\"%s\"}", type129) > 0);
    E2E_EXPECT(st, "POST", key, "/v1/events", body, 400, "A valid \"type\"");
    free(body);

    E2E_SECTION("POST /v1/events: an id of 128 characters -> 202 with that id, 129 -> 400");
    char *id128 = lim_rep('i', LIMIT_EVENT_ID_MAX, NULL), *id129 = lim_rep('i', LIMIT_EVENT_ID_MAX + 1, NULL);
    struct hx_resp resp;
    CHECK_FATAL(asprintf(&body, "{\"type\":\"booking.scheduled\",\"id\":\"%s\"}", id128) > 0);
    CHECK_EQ_INT(hx_api(st, "POST", key, body, &resp, "/v1/events"), 202);
    CHECK_EQ_STR(e2e_str(resp.json, "id"), id128);
    hx_resp_free(&resp);
    free(body);
    CHECK_FATAL(asprintf(&body, "{\"type\":\"booking.scheduled\",\"id\":\"%s\"}", id129) > 0);
    E2E_EXPECT(st, "POST", key, "/v1/events", body, 400, "\"id\"");
    free(body);

    E2E_SECTION("POST /v1/events: occurred_at of 40 characters -> 202, 41 -> 400");
    /* 19 + "." + 14 digits + "+01:00" = 40 */
    E2E_EXPECT(st, "POST", key, "/v1/events",
               "{\"type\":\"booking.scheduled\",\"occurred_at\":\"2026-11-25T10:00:00.12345678901234+01:00\"}", 202,
               NULL);
    E2E_EXPECT(st, "POST", key, "/v1/events",
               "{\"type\":\"booking.scheduled\",\"occurred_at\":\"2026-11-25T10:00:00.123456789012345+01:00\"}", 400,
               "\"occurred_at\"");

    E2E_SECTION("Idempotency-Key: 255 bytes -> 202, 256 -> 400 naming it");
    for (int n = LIMIT_IDEMPOTENCY_KEY_MAX; n <= LIMIT_IDEMPOTENCY_KEY_MAX + 1; n++) {
        char *k = lim_rep('k', (size_t)n, NULL), *hdr = NULL;
        CHECK_FATAL(asprintf(&hdr, "Idempotency-Key: %s", k) > 0);
        const char *hdrs[] = { hdr, NULL };
        long got = e2e_http_hdrs(st, "POST", key, "{\"type\":\"booking.scheduled\"}", hdrs, &resp, "/v1/events");
        CHECK_EQ_INT(got, n <= LIMIT_IDEMPOTENCY_KEY_MAX ? 202 : 400);
        if (n > LIMIT_IDEMPOTENCY_KEY_MAX)
            CHECK(e2e_starts_with(e2e_error(&resp), "\"Idempotency-Key\""));
        hx_resp_free(&resp);
        free(hdr);
        free(k);
    }
    free(id128);
    free(id129);
}

static void lim_admin_fields(struct hx_stack *st)
{
    const char *admin = hx_admin_key(st);
    char *body = NULL, *v = NULL;
    E2E_SECTION("tenant name: 200 bytes -> 201, 201 -> 400");
    v = lim_rep('n', LIMIT_TENANT_NAME_MAX, NULL);
    CHECK_FATAL(asprintf(&body, "{\"id\":\"named\",\"name\":\"%s\"}", v) > 0);
    E2E_EXPECT(st, "POST", admin, "/v1/tenants", body, 201, NULL);
    free(body);
    free(v);
    v = lim_rep('n', LIMIT_TENANT_NAME_MAX + 1, NULL);
    CHECK_FATAL(asprintf(&body, "{\"id\":\"named2\",\"name\":\"%s\"}", v) > 0);
    E2E_EXPECT(st, "POST", admin, "/v1/tenants", body, 400, "\"name\"");
    free(body);
    free(v);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM tenants WHERE id = 'named2'", NULL, NULL), 0);

    E2E_SECTION("key label: 200 bytes -> 201, 201 -> 400");
    v = lim_rep('l', LIMIT_KEY_LABEL_MAX, NULL);
    CHECK_FATAL(asprintf(&body, "{\"label\":\"%s\"}", v) > 0);
    E2E_EXPECT(st, "POST", admin, "/v1/tenants/named/keys", body, 201, NULL);
    free(body);
    free(v);
    v = lim_rep('l', LIMIT_KEY_LABEL_MAX + 1, NULL);
    CHECK_FATAL(asprintf(&body, "{\"label\":\"%s\"}", v) > 0);
    E2E_EXPECT(st, "POST", admin, "/v1/tenants/named/keys", body, 400, "\"label\"");
    free(body);
    free(v);
    CHECK_EQ_INT(e2e_db_long(st, "SELECT count(*) FROM api_keys WHERE tenant_id = 'named'", NULL, NULL), 1);

    E2E_SECTION("a tenant id of 65 characters in a path -> 404, no key issued");
    char *t65 = lim_rep('t', LIMIT_TENANT_ID_MAX + 1, NULL), path[256];
    snprintf(path, sizeof(path), "/v1/tenants/%s/keys", t65);
    E2E_EXPECT(st, "POST", admin, path, "{}", 404, NULL);
    free(t65);
}

static void lim_fields(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    char key[128];
    CHECK_FATAL(hx_tenant_new(st, "limits", "webhooks:read,webhooks:write,events:write", key, sizeof(key)) == 0);
    /* operators add event types with SQL: 64 short ones and one of 128 characters */
    char *t128 = lim_rep('x', LIMIT_EVENT_TYPE_MAX - 7, NULL), *type128 = NULL, *type129 = NULL;
    CHECK_FATAL(asprintf(&type128, "limits.%s", t128) > 0 && asprintf(&type129, "limits.%sx", t128) > 0);
    PGconn *pg = hx_pg_connect(st);
    const char *params[1] = { type128 };
    PGresult *res = PQexecParams(pg,
                                 "INSERT INTO event_types (name, group_name) SELECT 'limits.e' || lpad(i::text, 2, '0'), "
                                 "'limits' FROM generate_series(0, 63) i UNION ALL SELECT $1, 'limits'",
                                 1, NULL, params, NULL, NULL, 0);
    CHECK_FATAL(PQresultStatus(res) == PGRES_COMMAND_OK);
    PQclear(res);
    PQfinish(pg);

    lim_webhook_fields(st, key);
    lim_event_fields(st, key, type128, type129);
    lim_admin_fields(st);
    free(t128);
    free(type128);
    free(type129);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
}

int main(void)
{
    lim_tenant_prefix();
    lim_fields();
    return check_exit();
}
