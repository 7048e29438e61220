/* test_api_deliveries.c: the delivery routes of hookline-api.
 *
 * Attempt rows are inserted with SQL, standing in for the dispatcher. The
 * log lists newest first with the webhook list's envelope, filters by
 * success, event type and time, and returns payloads as JSON; retry upserts
 * exactly one pending retry with the next attempt number, due now; delete
 * forgets one record; the test route publishes a webhook.test envelope for
 * one webhook (read back with a plain librdkafka consumer) and answers 503
 * within 4 s while the broker is down. Other tenants, other webhooks' attempts and
 * keys without the scope get 404 / 403 and change nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "check.h"
#include "harness.h"

#define T_URL "https://127.0.0.1:9/hook"
#define TEST_MESSAGE "This is a test event from hookline."

struct fx {
    struct hx_stack *st;
    PGconn *pg;
    char key_a[128], key_a_ro[128], key_a_ev[128], key_b[128];
    char wh1[64], wh2[64], wh3[64], whb[64];
    char ep1[64], ep2[64], ep3[64], epb[64];
};

static const char a1_payload[] =
    "{\"id\":\"evt_1\",\"type\":\"booking.scheduled\",\"tenant\":\"acme\","
    "\"occurred_at\":\"2026-03-01T11:59:59Z\",\"data\":{\"n\":1,\"who\":\"u_42\"}}";

/* ---- set-up helpers ----------------------------------------------------- */

/* A second key for an existing tenant, with 'scopes_json' (a JSON array). */
static void fx_key_new(struct fx *fx, const char *tenant, const char *scopes_json, char *out, size_t cap)
{
    struct hx_resp resp;
    char body[256];
    snprintf(body, sizeof(body), "{\"scopes\":%s}", scopes_json);
    long status = hx_api(fx->st, "POST", hx_admin_key(fx->st), body, &resp, "/v1/tenants/%s/keys", tenant);
    const char *key = json_string_value(json_object_get(resp.json, "key"));
    if (status != 201 || key == NULL || strlen(key) >= cap)
        hx_die("POST /v1/tenants/%s/keys: %ld %s", tenant, status, resp.body);
    strcpy(out, key);
    hx_resp_free(&resp);
}

static void fx_webhook_new(struct fx *fx, const char *key, const char *name, bool active, char *id, char *ep)
{
    struct hx_resp resp;
    char body[256];
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"url\":\"%s\",\"events\":[\"booking\"],\"is_active\":%s}", name,
             T_URL, active ? "true" : "false");
    long status = hx_api(fx->st, "POST", key, body, &resp, "/v1/webhooks");
    const char *wid = json_string_value(json_object_get(resp.json, "id"));
    const char *eid = json_string_value(
        json_object_get(json_array_get(json_object_get(resp.json, "endpoints"), 0), "id"));
    if (status != 201 || wid == NULL || eid == NULL || strlen(wid) >= 64 || strlen(eid) >= 64)
        hx_die("POST /v1/webhooks %s: %ld %s", name, status, resp.body);
    strcpy(id, wid);
    strcpy(ep, eid);
    hx_resp_free(&resp);
}

static void fx_sql(struct fx *fx, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(fx->pg, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        hx_die("%s: %s", sql, PQerrorMessage(fx->pg));
    PQclear(res);
}

/* One attempt row as a dispatcher would record it. NULL strings are NULL. */
static void fx_attempt(struct fx *fx, const char *id, const char *tenant, const char *wh, const char *ep,
                       const char *event_id, const char *type, const char *payload, const char *attempt,
                       const char *status, const char *response, const char *error, const char *success,
                       const char *sent_at, const char *next_at)
{
    const char *p[14] = { id, tenant, wh, ep, T_URL, event_id, type, payload, attempt, status,
                          response, error, success, sent_at };
    const char *q[15];
    memcpy(q, p, sizeof(p));
    q[14] = next_at;
    /* the body once per tenant, event and day, as the dispatcher stores it */
    fx_sql(fx,
        "WITH a AS (INSERT INTO attempts (id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, "
        "attempt, status_code, response, error, success, sent_at, duration_ms, next_attempt_at, dispatcher) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $9::int, $10::int, $11, $12, $13::boolean, $14::timestamptz, "
        "length($1) * 10, $15::timestamptz, 'test') RETURNING tenant_id, event_id, sent_at) "
        "INSERT INTO bodies (tenant_id, event_id, day, body) SELECT tenant_id, event_id, hl_utc_day(sent_at), $8 "
        "FROM a ON CONFLICT DO NOTHING",
        15, q);
}

/* The first column of row 0 of 'sql' ("" if no row), copied into 'out'. */
static const char *fx_value(struct fx *fx, char *out, size_t cap, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(fx->pg, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        hx_die("%s: %s", sql, PQerrorMessage(fx->pg));
    snprintf(out, cap, "%s", PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);
    return out;
}

static long fx_count(struct fx *fx, const char *sql, int n, const char *const *params)
{
    char v[32];
    return atol(fx_value(fx, v, sizeof(v), sql, n, params));
}

/* ---- checking helpers ----------------------------------------------------- */

/* GET a page of deliveries; returns the status, *resp holds the answer. */
static long fx_list(struct fx *fx, const char *key, struct hx_resp *resp, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static long fx_list(struct fx *fx, const char *key, struct hx_resp *resp, const char *fmt, ...)
{
    char query[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(query, sizeof(query), fmt, ap);
    va_end(ap);
    return hx_api(fx->st, "GET", key, NULL, resp, "/v1/webhooks/%s/deliveries%s", fx->wh1, query);
}

/* The element ids of a list answer joined with ',' into 'out'. */
static const char *ids_of(const struct hx_resp *resp, char *out, size_t cap)
{
    size_t i, o = 0;
    json_t *el;
    out[0] = '\0';
    json_array_foreach(json_object_get(resp->json, "elements"), i, el) {
        int n = snprintf(out + o, cap - o, "%s%s", i ? "," : "", json_string_value(json_object_get(el, "id")));
        if (n < 0 || (size_t)n >= cap - o)
            break;
        o += (size_t)n;
    }
    return out;
}

static const char *err_of(const struct hx_resp *resp)
{
    return json_string_value(json_object_get(resp->json, "error"));
}

static long json_int_at(const json_t *obj, const char *k1, const char *k2)
{
    const json_t *v = json_object_get(obj, k1);
    if (k2)
        v = json_object_get(v, k2);
    return json_is_integer(v) ? (long)json_integer_value(v) : -999;
}

/* Status, count and element ids of one list query. */
static void check_query(struct fx *fx, int line, const char *query, long want_count, const char *want_ids)
{
    struct hx_resp resp;
    char ids[4096];
    long status = fx_list(fx, fx->key_a, &resp, "%s", query);
    if (status != 200 || json_int_at(resp.json, "count", NULL) != want_count ||
        (want_ids && strcmp(ids_of(&resp, ids, sizeof(ids)), want_ids) != 0)) {
        fprintf(stderr, "line %d: GET deliveries%s: %ld %.300s (want count %ld ids %s)\n", line, query, status,
                resp.body, want_count, want_ids ? want_ids : "-");
        CHECK(!"list query answered as expected");
    } else {
        CHECK(1);
    }
    hx_resp_free(&resp);
}
#define CHECK_QUERY(fx, q, n, ids) check_query(fx, __LINE__, q, n, ids)

static void check_400(struct fx *fx, const char *query, const char *want_in_error)
{
    struct hx_resp resp;
    CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "%s", query), 400);
    const char *e = err_of(&resp);
    if (e == NULL || strstr(e, want_in_error) == NULL) {
        fprintf(stderr, "GET deliveries%s: error %s lacks %s\n", query, resp.body, want_in_error);
        CHECK(!"the error names the parameter");
    }
    hx_resp_free(&resp);
}

/* ---- the fixture ------------------------------------------------------------ */

static void fx_setup(struct fx *fx)
{
    fx->st = hx_stack_start(NULL);
    fx->pg = hx_pg_connect(fx->st);
    CHECK_FATAL(hx_tenant_new(fx->st, "acme", "webhooks:read,webhooks:write,events:write", fx->key_a,
                              sizeof(fx->key_a)) == 0);
    CHECK_FATAL(hx_tenant_new(fx->st, "beta", "webhooks:read,webhooks:write,events:write", fx->key_b,
                              sizeof(fx->key_b)) == 0);
    fx_key_new(fx, "acme", "[\"webhooks:read\"]", fx->key_a_ro, sizeof(fx->key_a_ro));
    fx_key_new(fx, "acme", "[\"events:write\"]", fx->key_a_ev, sizeof(fx->key_a_ev));
    fx_webhook_new(fx, fx->key_a, "one", true, fx->wh1, fx->ep1);
    fx_webhook_new(fx, fx->key_a, "two", true, fx->wh2, fx->ep2);
    fx_webhook_new(fx, fx->key_a, "off", false, fx->wh3, fx->ep3);
    fx_webhook_new(fx, fx->key_b, "b-one", true, fx->whb, fx->epb);

    /* the days of the attempts below: the retention job makes only the coming ones */
    fx_sql(fx,
        "SELECT hl_partition_add('attempts', d::date), hl_partition_add('bodies', d::date) "
        "FROM generate_series('2026-02-28'::date, '2026-03-01'::date, interval '1 day') d", 0, NULL);

    /* wh1: five recent attempts, two of them in the same millisecond */
    fx_attempt(fx, "dlv_a1", "acme", fx->wh1, fx->ep1, "evt_1", "booking.scheduled", a1_payload, "1", "500", "oops",
               "HTTP 500", "false", "2026-03-01T12:00:00Z", "2026-03-01T12:00:05Z");
    fx_attempt(fx, "dlv_a2", "acme", fx->wh1, fx->ep1, "evt_1", "booking.scheduled", a1_payload, "2", "200", "ok",
               NULL, "true", "2026-03-01T12:00:10Z", NULL);
    fx_attempt(fx, "dlv_a3", "acme", fx->wh1, fx->ep1, "evt_2", "booking.canceled", "not json {", "1", NULL, NULL,
               "connection refused", "false", "2026-03-01T12:00:20.5Z", "2026-03-01T12:00:25.5Z");
    fx_attempt(fx, "dlv_a4a", "acme", fx->wh1, fx->ep1, "evt_3", "booking.scheduled", "{}", "1", "204", "", NULL,
               "true", "2026-03-01T12:00:30Z", NULL);
    fx_attempt(fx, "dlv_a4b", "acme", fx->wh1, fx->ep1, "evt_4", "booking.scheduled", "[1,2]", "1", "200", "ok",
               NULL, "true", "2026-03-01T12:00:30Z", NULL);
    /* ... and 101 older ones, one a minute back from 12:00 */
    const char *bulk[4] = { "acme", fx->wh1, fx->ep1, T_URL };
    fx_sql(fx,
        "WITH a AS (INSERT INTO attempts (id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, "
        "attempt, status_code, response, success, sent_at, duration_ms) "
        "SELECT format('dlv_b%s', lpad(n::text, 3, '0')), $1, $2, $3, $4, format('evt_b%s', n), "
        "'conversation.started', 1, 200, 'ok', true, "
        "'2026-03-01T12:00:00Z'::timestamptz - n * interval '1 minute', 7 FROM generate_series(1, 101) n "
        "RETURNING tenant_id, event_id, sent_at) "
        "INSERT INTO bodies (tenant_id, event_id, day, body) SELECT tenant_id, event_id, hl_utc_day(sent_at), '{}' "
        "FROM a",
        4, bulk);
    /* evt_1 went to wh2's endpoint too, further along its retries */
    fx_attempt(fx, "dlv_w2", "acme", fx->wh2, fx->ep2, "evt_1", "booking.scheduled", a1_payload, "7", "500", NULL,
               "HTTP 500", "false", "2026-03-01T12:00:00Z", NULL);
    fx_attempt(fx, "dlv_w3", "acme", fx->wh3, fx->ep3, "evt_9", "booking.scheduled", "{}", "1", "500", NULL,
               "HTTP 500", "false", "2026-03-01T12:00:00Z", NULL);
    fx_attempt(fx, "dlv_wb", "beta", fx->whb, fx->epb, "evt_1", "booking.scheduled", "{}", "1", "500", NULL,
               "HTTP 500", "false", "2026-03-01T12:00:00Z", NULL);
}

/* ---- list --------------------------------------------------------------------- */

static void test_list_envelope(struct fx *fx)
{
    struct hx_resp resp;
    char ids[4096];

    CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "%s", ""), 200);
    CHECK_EQ_STR(json_string_value(json_object_get(resp.json, "entities")), "Delivery");
    CHECK_EQ_INT(json_int_at(resp.json, "count", NULL), 106);
    CHECK_EQ_INT(json_int_at(resp.json, "per_page", NULL), 100);
    CHECK_EQ_INT(json_int_at(resp.json, "pages", "current"), 1);
    CHECK_EQ_INT(json_int_at(resp.json, "pages", "max"), 2);
    json_t *els = json_object_get(resp.json, "elements");
    CHECK_EQ_INT(json_array_size(els), 100);
    /* newest first, ties by id descending, across the whole page */
    bool ordered = true;
    for (size_t i = 1; i < json_array_size(els); i++) {
        const char *s0 = json_string_value(json_object_get(json_array_get(els, i - 1), "sent_at"));
        const char *s1 = json_string_value(json_object_get(json_array_get(els, i), "sent_at"));
        const char *i0 = json_string_value(json_object_get(json_array_get(els, i - 1), "id"));
        const char *i1 = json_string_value(json_object_get(json_array_get(els, i), "id"));
        int c = s0 && s1 ? strcmp(s0, s1) : 0;
        if (!s0 || !s1 || !i0 || !i1 || c < 0 || (c == 0 && strcmp(i0, i1) <= 0))
            ordered = false;
    }
    CHECK(ordered);
    CHECK_EQ_STR(json_string_value(json_object_get(json_array_get(els, 99), "id")), "dlv_b095");
    hx_resp_free(&resp);

    CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "?page=2"), 200);
    CHECK_EQ_INT(json_int_at(resp.json, "pages", "current"), 2);
    CHECK_EQ_INT(json_int_at(resp.json, "pages", "max"), 2);
    CHECK_EQ_INT(json_int_at(resp.json, "count", NULL), 106);
    CHECK_EQ_STR(ids_of(&resp, ids, sizeof(ids)), "dlv_b096,dlv_b097,dlv_b098,dlv_b099,dlv_b100,dlv_b101");
    hx_resp_free(&resp);

    CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "?page=3&size=100"), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "elements")), 0);
    CHECK_EQ_INT(json_int_at(resp.json, "pages", "current"), 3);
    CHECK_EQ_INT(json_int_at(resp.json, "count", NULL), 106);
    hx_resp_free(&resp);

    CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "?size=5"), 200);
    CHECK_EQ_STR(ids_of(&resp, ids, sizeof(ids)), "dlv_a4b,dlv_a4a,dlv_a3,dlv_a2,dlv_a1");
    CHECK_EQ_INT(json_int_at(resp.json, "per_page", NULL), 5);
    CHECK_EQ_INT(json_int_at(resp.json, "pages", "max"), 22);
    hx_resp_free(&resp);
    CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "?size=5&page=2"), 200);
    CHECK_EQ_STR(ids_of(&resp, ids, sizeof(ids)), "dlv_b001,dlv_b002,dlv_b003,dlv_b004,dlv_b005");
    hx_resp_free(&resp);
    CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "?size=1&page=106"), 200);
    CHECK_EQ_STR(ids_of(&resp, ids, sizeof(ids)), "dlv_b101");
    CHECK_EQ_INT(json_int_at(resp.json, "pages", "max"), 106);
    hx_resp_free(&resp);
    CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "?size=100"), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "elements")), 100);
    hx_resp_free(&resp);

    /* the same bounds and the same messages as the webhook list */
    static const char *const bad[] = { "?size=0", "?size=101", "?size=abc", "?page=0", "?page=-1", "?size=" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct hx_resp wresp;
        CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "%s", bad[i]), 400);
        CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &wresp, "/v1/webhooks%s", bad[i]), 400);
        CHECK(err_of(&resp) != NULL);
        CHECK_EQ_STR(err_of(&resp), err_of(&wresp));
        hx_resp_free(&wresp);
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "?size=0"), 400);
    CHECK_EQ_STR(err_of(&resp), "\"size\" must be an integer from 1 to 100.");
    hx_resp_free(&resp);

    /* each webhook sees only its own attempts */
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries", fx->wh2), 200);
    CHECK_EQ_STR(ids_of(&resp, ids, sizeof(ids)), "dlv_w2");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_b, NULL, &resp, "/v1/webhooks/%s/deliveries", fx->whb), 200);
    CHECK_EQ_STR(ids_of(&resp, ids, sizeof(ids)), "dlv_wb");
    hx_resp_free(&resp);
}

static json_t *list_find(const struct hx_resp *resp, const char *id)
{
    size_t i;
    json_t *el;
    json_array_foreach(json_object_get(resp->json, "elements"), i, el)
        if (strcmp(json_string_value(json_object_get(el, "id")), id) == 0)
            return el;
    return NULL;
}

static void test_list_fields(struct fx *fx)
{
    struct hx_resp resp;
    CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "?size=5"), 200);

    json_t *a1 = list_find(&resp, "dlv_a1");
    CHECK_FATAL(a1 != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(a1, "webhook_id")), fx->wh1);
    CHECK_EQ_STR(json_string_value(json_object_get(a1, "endpoint_id")), fx->ep1);
    CHECK_EQ_STR(json_string_value(json_object_get(a1, "endpoint_url")), T_URL);
    CHECK_EQ_STR(json_string_value(json_object_get(a1, "event_id")), "evt_1");
    CHECK_EQ_STR(json_string_value(json_object_get(a1, "event_type")), "booking.scheduled");
    json_t *want = json_loads(a1_payload, 0, NULL);
    CHECK(json_is_object(json_object_get(a1, "payload")));
    CHECK(json_equal(json_object_get(a1, "payload"), want));
    json_decref(want);
    CHECK_EQ_INT(json_int_at(a1, "attempt", NULL), 1);
    CHECK_EQ_INT(json_int_at(a1, "status_code", NULL), 500);
    CHECK_EQ_STR(json_string_value(json_object_get(a1, "response")), "oops");
    CHECK_EQ_STR(json_string_value(json_object_get(a1, "error")), "HTTP 500");
    CHECK(json_is_false(json_object_get(a1, "success")));
    CHECK_EQ_STR(json_string_value(json_object_get(a1, "sent_at")), "2026-03-01T12:00:00.000Z");
    CHECK_EQ_INT(json_int_at(a1, "duration_ms", NULL), 60);
    CHECK_EQ_STR(json_string_value(json_object_get(a1, "next_attempt_at")), "2026-03-01T12:00:05.000Z");
    CHECK_EQ_INT(json_object_size(a1), 15);
    CHECK(json_object_get(a1, "tenant_id") == NULL && json_object_get(a1, "dispatcher") == NULL);

    json_t *a2 = list_find(&resp, "dlv_a2");
    CHECK_FATAL(a2 != NULL);
    CHECK(json_is_true(json_object_get(a2, "success")));
    CHECK(json_is_null(json_object_get(a2, "error")));
    CHECK(json_is_null(json_object_get(a2, "next_attempt_at")));
    CHECK_EQ_INT(json_int_at(a2, "attempt", NULL), 2);

    json_t *a3 = list_find(&resp, "dlv_a3");
    CHECK_FATAL(a3 != NULL);
    CHECK_EQ_STR(json_string_value(json_object_get(a3, "payload")), "not json {");
    CHECK(json_is_null(json_object_get(a3, "status_code")));
    CHECK(json_is_null(json_object_get(a3, "response")));
    CHECK_EQ_STR(json_string_value(json_object_get(a3, "error")), "connection refused");
    CHECK_EQ_STR(json_string_value(json_object_get(a3, "sent_at")), "2026-03-01T12:00:20.500Z");
    CHECK_EQ_STR(json_string_value(json_object_get(a3, "next_attempt_at")), "2026-03-01T12:00:25.500Z");

    json_t *a4b = list_find(&resp, "dlv_a4b");
    CHECK_FATAL(a4b != NULL);
    CHECK(json_is_array(json_object_get(a4b, "payload")) && json_array_size(json_object_get(a4b, "payload")) == 2);
    json_t *a4a = list_find(&resp, "dlv_a4a");
    CHECK_FATAL(a4a != NULL);
    CHECK(json_is_object(json_object_get(a4a, "payload")) && json_object_size(json_object_get(a4a, "payload")) == 0);
    CHECK_EQ_STR(json_string_value(json_object_get(a4a, "response")), "");
    hx_resp_free(&resp);

    /* bytes that are not UTF-8 (kept by a SQL_ASCII database) still come back */
    char enc[32];
    fx_value(fx, enc, sizeof(enc), "SHOW server_encoding", 0, NULL);
    if (strcmp(enc, "SQL_ASCII") == 0) {
        fx_attempt(fx, "dlv_u1", "acme", fx->wh2, fx->ep2, "evt_u", "conversation.closed", "{\"a\":1", "1", "200",
                   "ok \xff\xfe end", NULL, "true", "2026-03-01T12:00:00Z", NULL);
        CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp,
                            "/v1/webhooks/%s/deliveries?event_type=conversation.closed", fx->wh2), 200);
        json_t *u1 = list_find(&resp, "dlv_u1");
        CHECK(u1 != NULL && json_object_size(u1) == 15);
        CHECK_EQ_STR(json_string_value(json_object_get(u1, "response")), "ok \xef\xbf\xbd\xef\xbf\xbd end");
        CHECK_EQ_STR(json_string_value(json_object_get(u1, "payload")), "{\"a\":1");
        hx_resp_free(&resp);
    } else {
        fprintf(stderr, "database encoding %s: invalid UTF-8 cannot be stored, not checked\n", enc);
    }
}

static void test_list_filters(struct fx *fx)
{
    CHECK_QUERY(fx, "?success=true", 104, NULL);
    CHECK_QUERY(fx, "?success=false", 2, "dlv_a3,dlv_a1");
    CHECK_QUERY(fx, "?event_type=booking.canceled", 1, "dlv_a3");
    CHECK_QUERY(fx, "?event_type=booking.scheduled", 4, "dlv_a4b,dlv_a4a,dlv_a2,dlv_a1");
    CHECK_QUERY(fx, "?event_type=booking", 0, "");
    CHECK_QUERY(fx, "?event_type=", 106, NULL);
    CHECK_QUERY(fx, "?event_type=booking.scheduled&success=false", 1, "dlv_a1");
    /* since is inclusive, until exclusive */
    CHECK_QUERY(fx, "?since=2026-03-01T12:00:10Z", 4, "dlv_a4b,dlv_a4a,dlv_a3,dlv_a2");
    CHECK_QUERY(fx, "?until=2026-03-01T12:00:10Z&size=2", 102, "dlv_a1,dlv_b001");
    CHECK_QUERY(fx, "?since=2026-03-01T12:00:00Z&until=2026-03-01T12:00:30Z", 3, "dlv_a3,dlv_a2,dlv_a1");
    CHECK_QUERY(fx, "?since=2026-03-01T12:00:20.5Z", 3, "dlv_a4b,dlv_a4a,dlv_a3");
    CHECK_QUERY(fx, "?since=2026-03-01T12:00:20.501Z", 2, "dlv_a4b,dlv_a4a");
    CHECK_QUERY(fx, "?since=2026-03-01T12:00:20.500001Z", 2, "dlv_a4b,dlv_a4a");
    CHECK_QUERY(fx, "?until=2026-03-01T10:19:00Z", 0, "");
    CHECK_QUERY(fx, "?until=2026-03-01T10:19:00.001Z", 1, "dlv_b101");
    /* offsets, encoded or as a '+' that the query string turns into a space */
    CHECK_QUERY(fx, "?since=2026-03-01T13:00:10%2B01:00", 4, NULL);
    CHECK_QUERY(fx, "?since=2026-03-01T13:00:10+01:00", 4, NULL);
    CHECK_QUERY(fx, "?since=2026-03-01T11:00:10-01:00", 4, NULL);
    CHECK_QUERY(fx, "?since=2026-03-01t12:00:10z", 4, NULL);
    CHECK_QUERY(fx, "?since=2026-03-01T12:00:10Z&until=2026-03-01T12:00:10Z", 0, "");
    CHECK_QUERY(fx, "?since=2026-03-01T12:00:10Z&success=false&event_type=booking.canceled", 1, "dlv_a3");

    static const char *const bad_since[] = {
        "?since=yesterday", "?since=2026-02-30T00:00:00Z", "?since=2026-03-01T25:00:00Z",
        "?since=2026-03-01", "?since=2026-03-01T12:00:00", "?since=", "?since=0000-01-01T00:00:00Z",
        "?since=2026-03-01T12:00:00.Z", "?since=2026-03-01T12:00:00%2B99:00", "?since=2026-03-01T12:00:00Zjunk",
        "?since=2025-02-29T00:00:00Z", "?since=2026-13-01T00:00:00Z", "?since=2026-03-01T12:60:00Z",
        "?since=%27%3B%20DROP%20TABLE%20attempts%3B--",
    };
    for (size_t i = 0; i < sizeof(bad_since) / sizeof(bad_since[0]); i++)
        check_400(fx, bad_since[i], "\"since\" must be an RFC 3339 timestamp");
    check_400(fx, "?until=noon", "\"until\" must be an RFC 3339 timestamp");
    check_400(fx, "?success=maybe", "\"success\" must be true or false.");
    check_400(fx, "?success=", "\"success\"");
    /* 2024 was a leap year and 60 s a leap second: both are timestamps */
    CHECK_QUERY(fx, "?since=2024-02-29T00:00:00Z&until=2024-12-31T23:59:60Z", 0, "");
    const char *p[1] = { fx->wh1 };
    CHECK_EQ_INT(fx_count(fx, "SELECT count(*) FROM attempts WHERE webhook_id = $1", 1, p), 106);
}

/* ---- retry ---------------------------------------------------------------------- */

/* The pending retry of (endpoint, event): 1 when exactly one row exists and
 * its attempt number is 'attempt', it is due within 5 s of now and not leased. */
static int retry_row_ok(struct fx *fx, const char *ep, const char *event_id, int attempt)
{
    const char *p[2] = { ep, event_id };
    PGresult *res = PQexecParams(fx->pg,
        "SELECT attempt, abs(extract(epoch FROM clock_timestamp() - due_at)) < 5, lease_until IS NULL "
        "FROM retries WHERE endpoint_id = $1 AND event_id = $2", 2, NULL, p, NULL, NULL, 0);
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK);
    int ok = PQntuples(res) == 1 && atoi(PQgetvalue(res, 0, 0)) == attempt &&
             strcmp(PQgetvalue(res, 0, 1), "t") == 0 && strcmp(PQgetvalue(res, 0, 2), "t") == 0;
    if (!ok)
        fprintf(stderr, "retry row %s/%s: %d rows, attempt %s, due now %s, unleased %s (want attempt %d)\n", ep,
                event_id, PQntuples(res), PQntuples(res) ? PQgetvalue(res, 0, 0) : "-",
                PQntuples(res) ? PQgetvalue(res, 0, 1) : "-", PQntuples(res) ? PQgetvalue(res, 0, 2) : "-",
                attempt);
    PQclear(res);
    return ok;
}

static long retries_count(struct fx *fx)
{
    return fx_count(fx, "SELECT count(*) FROM retries", 0, NULL);
}

static void test_retry(struct fx *fx)
{
    struct hx_resp resp;
    char v[4096];

    CHECK_EQ_INT(retries_count(fx), 0);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_a1/retry", fx->wh1),
                 202);
    CHECK_EQ_STR(json_string_value(json_object_get(resp.json, "id")), "dlv_a1");
    CHECK_EQ_STR(json_string_value(json_object_get(resp.json, "event_id")), "evt_1");
    CHECK(json_is_true(json_object_get(resp.json, "retry_scheduled")));
    hx_resp_free(&resp);
    /* 1 + the highest attempt of evt_1 at this endpoint (2), not at wh2's (7) */
    CHECK(retry_row_ok(fx, fx->ep1, "evt_1", 3));
    CHECK_EQ_INT(retries_count(fx), 1);
    const char *p[1] = { "evt_1" };
    fx_value(fx, v, sizeof(v),
             "SELECT concat_ws('|', r.tenant_id, r.webhook_id, r.event_type, b.body) FROM retries r JOIN bodies b "
             "ON b.tenant_id = r.tenant_id AND b.event_id = r.event_id AND b.day = r.body_day WHERE r.event_id = $1",
             1, p);
    char want[4096];
    snprintf(want, sizeof(want), "acme|%s|booking.scheduled|%s", fx->wh1, a1_payload);
    CHECK_EQ_STR(v, want);

    /* a dispatcher holds it and has put it off: retry makes it due now, unleased, still one row */
    fx_sql(fx, "UPDATE retries SET due_at = now() + interval '1 hour', lease_until = now() + interval '1 minute'",
           0, NULL);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_a2/retry", fx->wh1),
                 202);
    CHECK_EQ_STR(json_string_value(json_object_get(resp.json, "id")), "dlv_a2");
    hx_resp_free(&resp);
    CHECK(retry_row_ok(fx, fx->ep1, "evt_1", 3));
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_a2/retry", fx->wh1),
                 202);
    hx_resp_free(&resp);
    CHECK(retry_row_ok(fx, fx->ep1, "evt_1", 3));
    CHECK_EQ_INT(retries_count(fx), 1);

    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, "{}", &resp, "/v1/webhooks/%s/deliveries/dlv_a3/retry", fx->wh1),
                 202);
    CHECK_EQ_STR(json_string_value(json_object_get(resp.json, "event_id")), "evt_2");
    hx_resp_free(&resp);
    CHECK(retry_row_ok(fx, fx->ep1, "evt_2", 2));
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_w2/retry", fx->wh2),
                 202);
    hx_resp_free(&resp);
    CHECK(retry_row_ok(fx, fx->ep2, "evt_1", 8));
    CHECK_EQ_INT(retries_count(fx), 3);

    /* a disabled webhook retries nothing */
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_w3/retry", fx->wh3),
                 409);
    CHECK_EQ_STR(err_of(&resp), "Webhook is disabled; enable it to retry deliveries.");
    hx_resp_free(&resp);
    /* nor does one disabled after the fact, until it is enabled again */
    CHECK_EQ_INT(hx_api(fx->st, "PATCH", fx->key_a, "{\"is_active\":false}", &resp, "/v1/webhooks/%s", fx->wh2), 200);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_w2/retry", fx->wh2),
                 409);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "PATCH", fx->key_a, "{\"is_active\":true}", &resp, "/v1/webhooks/%s", fx->wh2), 200);
    hx_resp_free(&resp);
    CHECK_EQ_INT(retries_count(fx), 3);
    CHECK_EQ_INT(fx_count(fx, "SELECT count(*) FROM retries WHERE event_id = 'evt_9'", 0, NULL), 0);

    /* absent ids, and an attempt that belongs to another webhook of the tenant */
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_nope/retry", fx->wh1),
                 404);
    CHECK_EQ_STR(err_of(&resp), "Delivery not found.");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/wh_nope/deliveries/dlv_a1/retry"), 404);
    CHECK_EQ_STR(err_of(&resp), "Webhook not found.");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_w2/retry", fx->wh1),
                 404);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_a1/retry", fx->wh2),
                 404);
    hx_resp_free(&resp);
    /* inactive webhook, attempt not its own: absent first */
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_a1/retry", fx->wh3),
                 404);
    hx_resp_free(&resp);
    CHECK_EQ_INT(retries_count(fx), 3);
}

/* ---- delete --------------------------------------------------------------------- */

static long attempt_exists(struct fx *fx, const char *id)
{
    const char *p[1] = { id };
    return fx_count(fx, "SELECT count(*) FROM attempts WHERE id = $1", 1, p);
}

static void test_delete(struct fx *fx)
{
    struct hx_resp resp;
    long before = fx_count(fx, "SELECT count(*) FROM attempts", 0, NULL);

    CHECK_EQ_INT(hx_api(fx->st, "DELETE", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_a4b", fx->wh1), 200);
    CHECK_EQ_STR(json_string_value(json_object_get(resp.json, "id")), "dlv_a4b");
    CHECK(json_is_true(json_object_get(resp.json, "deleted")));
    hx_resp_free(&resp);
    CHECK_EQ_INT(attempt_exists(fx, "dlv_a4b"), 0);
    CHECK_EQ_INT(fx_count(fx, "SELECT count(*) FROM attempts", 0, NULL), before - 1);
    CHECK_QUERY(fx, "?size=2", 105, "dlv_a4a,dlv_a3");

    CHECK_EQ_INT(hx_api(fx->st, "DELETE", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_a4b", fx->wh1), 404);
    CHECK_EQ_STR(err_of(&resp), "Delivery not found.");
    hx_resp_free(&resp);
    /* another webhook's attempt through this webhook's path */
    CHECK_EQ_INT(hx_api(fx->st, "DELETE", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_w2", fx->wh1), 404);
    hx_resp_free(&resp);
    CHECK_EQ_INT(attempt_exists(fx, "dlv_w2"), 1);
    CHECK_EQ_INT(hx_api(fx->st, "DELETE", fx->key_a, NULL, &resp, "/v1/webhooks/wh_nope/deliveries/dlv_a1"), 404);
    CHECK_EQ_STR(err_of(&resp), "Webhook not found.");
    hx_resp_free(&resp);
    CHECK_EQ_INT(attempt_exists(fx, "dlv_a1"), 1);
    CHECK_EQ_INT(fx_count(fx, "SELECT count(*) FROM attempts", 0, NULL), before - 1);
}

/* ---- isolation and scopes --------------------------------------------------------- */

static void test_other_tenant(struct fx *fx)
{
    struct hx_resp resp;
    long attempts = fx_count(fx, "SELECT count(*) FROM attempts", 0, NULL), retries = retries_count(fx);
    const char *wh[2] = { fx->wh1, fx->whb }; /* A's webhook, and B's own with A's attempt id */

    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_b, NULL, &resp, "/v1/webhooks/%s/deliveries", fx->wh1), 404);
    CHECK_EQ_STR(err_of(&resp), "Webhook not found.");
    CHECK(strstr(resp.body, "dlv_") == NULL);
    hx_resp_free(&resp);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_b, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_a1/retry", wh[i]),
                     404);
        hx_resp_free(&resp);
        CHECK_EQ_INT(hx_api(fx->st, "DELETE", fx->key_b, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_a1", wh[i]),
                     404);
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_b, NULL, &resp, "/v1/webhooks/%s/test", fx->wh1), 404);
    CHECK_EQ_STR(err_of(&resp), "Webhook not found.");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_b, "{\"payload\":{}}", &resp, "/v1/webhooks/%s/test", fx->wh1), 404);
    hx_resp_free(&resp);
    /* and A cannot reach B's */
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries", fx->whb), 404);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "DELETE", fx->key_a, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_wb", fx->whb), 404);
    hx_resp_free(&resp);

    CHECK_EQ_INT(fx_count(fx, "SELECT count(*) FROM attempts", 0, NULL), attempts);
    CHECK_EQ_INT(attempt_exists(fx, "dlv_a1"), 1);
    CHECK_EQ_INT(attempt_exists(fx, "dlv_wb"), 1);
    CHECK_EQ_INT(retries_count(fx), retries);
    CHECK_EQ_INT(fx_count(fx, "SELECT count(*) FROM retries WHERE tenant_id = 'beta'", 0, NULL), 0);
}

static void test_scopes(struct fx *fx)
{
    struct hx_resp resp;
    long retries = retries_count(fx);

    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a_ro, NULL, &resp, "/v1/webhooks/%s/deliveries?size=1", fx->wh1), 200);
    CHECK_EQ_INT(json_array_size(json_object_get(resp.json, "elements")), 1);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a_ro, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_a1/retry", fx->wh1),
                 403);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "DELETE", fx->key_a_ro, NULL, &resp, "/v1/webhooks/%s/deliveries/dlv_a1", fx->wh1),
                 403);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a_ro, NULL, &resp, "/v1/webhooks/%s/test", fx->wh1), 403);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a_ev, NULL, &resp, "/v1/webhooks/%s/deliveries", fx->wh1), 403);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a_ev, NULL, &resp, "/v1/webhooks/%s/test", fx->wh1), 403);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "GET", NULL, NULL, &resp, "/v1/webhooks/%s/deliveries", fx->wh1), 401);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", "hlk_wrong", NULL, &resp, "/v1/webhooks/%s/test", fx->wh1), 401);
    hx_resp_free(&resp);
    CHECK_EQ_INT(attempt_exists(fx, "dlv_a1"), 1);
    CHECK_EQ_INT(retries_count(fx), retries);
}

/* ---- test events ------------------------------------------------------------------ */

static rd_kafka_t *events_consumer(const char *brokers)
{
    char errstr[256], group[64];
    snprintf(group, sizeof(group), "t-api-deliveries-%ld", (long)getpid());
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *kv[][2] = {
        { "bootstrap.servers", brokers }, { "group.id", group }, { "auto.offset.reset", "earliest" },
        { "enable.auto.commit", "false" }, { "session.timeout.ms", "6000" }, { "log_level", "2" },
        { "reconnect.backoff.ms", "50" }, { "reconnect.backoff.max.ms", "500" },
        { "topic.metadata.refresh.interval.ms", "500" },
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        CHECK_FATAL(rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    CHECK_FATAL(rk != NULL);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, "hookline.events", RD_KAFKA_PARTITION_UA);
    CHECK_FATAL(rd_kafka_subscribe(rk, topics) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(topics);
    return rk;
}

/* Consume until the message whose envelope id is 'event_id' (30 s); returns
 * its parsed value (new reference) with the key in 'key', or NULL. Every
 * envelope passed on the way is appended to 'seen' (may be NULL). */
static json_t *events_wait(rd_kafka_t *rk, const char *event_id, char *key, size_t cap, json_t *seen)
{
    long long deadline = hx_now_ms() + 30000;
    while (hx_now_ms() < deadline) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
        if (rkm == NULL)
            continue;
        json_t *env = NULL;
        if (!rkm->err)
            env = json_loadb(rkm->payload, rkm->len, 0, NULL);
        if (env && json_is_string(json_object_get(env, "id")) &&
            strcmp(json_string_value(json_object_get(env, "id")), event_id) == 0) {
            snprintf(key, cap, "%.*s", (int)rkm->key_len, rkm->key ? (const char *)rkm->key : "");
            rd_kafka_message_destroy(rkm);
            return env;
        }
        if (env && seen)
            json_array_append(seen, env);
        json_decref(env);
        rd_kafka_message_destroy(rkm);
    }
    return NULL;
}

/* POST a test event for 'wh'; returns the status, the event id (or "") in 'event_id'. */
static long post_test(struct fx *fx, const char *wh, const char *body, char *event_id, size_t cap)
{
    struct hx_resp resp;
    long status = hx_api(fx->st, "POST", fx->key_a, body, &resp, "/v1/webhooks/%s/test", wh);
    const char *id = json_string_value(json_object_get(resp.json, "event_id"));
    snprintf(event_id, cap, "%s", status == 202 && id ? id : "");
    if (status == 202 && json_object_size(resp.json) != 1)
        CHECK(!"the test answer is {\"event_id\"} alone");
    hx_resp_free(&resp);
    return status;
}

static void check_test_envelope(struct fx *fx, rd_kafka_t *rk, const char *event_id, const json_t *want_data,
                                json_t *seen)
{
    char key[128] = "";
    json_t *env = events_wait(rk, event_id, key, sizeof(key), seen);
    CHECK(env != NULL);
    if (env == NULL) {
        fprintf(stderr, "test event %s never reached hookline.events\n", event_id);
        return;
    }
    CHECK_EQ_STR(key, "acme");
    CHECK_EQ_STR(json_string_value(json_object_get(env, "type")), "webhook.test");
    CHECK_EQ_STR(json_string_value(json_object_get(env, "tenant")), "acme");
    CHECK_EQ_STR(json_string_value(json_object_get(env, "webhook_id")), fx->wh1);
    const char *at = json_string_value(json_object_get(env, "occurred_at"));
    CHECK(at != NULL && strncmp(at, "20", 2) == 0 && at[strlen(at) - 1] == 'Z');
    CHECK(json_equal(json_object_get(env, "data"), want_data));
    CHECK_EQ_INT(json_object_size(env), 6);
    json_decref(env);
}

static void test_test_event(struct fx *fx)
{
    char id1[64], id2[64], id3[64], id4[64];
    struct hx_resp resp;
    rd_kafka_t *rk = events_consumer(hx_brokers(fx->st));

    CHECK_EQ_INT(post_test(fx, fx->wh1, "{\"payload\":{\"hello\":\"world\",\"nested\":{\"n\":[1,2]}}}", id1,
                           sizeof(id1)), 202);
    CHECK(strncmp(id1, "evt_", 4) == 0 && strlen(id1) >= 20);
    CHECK_EQ_INT(post_test(fx, fx->wh1, NULL, id2, sizeof(id2)), 202);
    CHECK_EQ_INT(post_test(fx, fx->wh1, " {} ", id3, sizeof(id3)), 202);
    CHECK(strcmp(id1, id2) != 0 && strcmp(id2, id3) != 0);

    /* refused requests publish nothing */
    static const char *const bad[] = {
        "{\"payload\":\"x\"}", "{\"payload\":[1]}", "{\"payload\":null}", "{\"foo\":1}",
        "{\"payload\":{},\"type\":\"booking.scheduled\"}", "nope", "[]", "\"x\"",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, bad[i], &resp, "/v1/webhooks/%s/test", fx->wh1), 400);
        CHECK(err_of(&resp) != NULL);
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, "{\"foo\":1}", &resp, "/v1/webhooks/%s/test", fx->wh1), 400);
    CHECK_EQ_STR(err_of(&resp), "Unknown field \"foo\".");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, "{\"payload\":1}", &resp, "/v1/webhooks/%s/test", fx->wh1), 400);
    CHECK_EQ_STR(err_of(&resp), "\"payload\" must be an object.");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/test", fx->wh3), 409);
    CHECK_EQ_STR(err_of(&resp), "Webhook is disabled; enable it to send test events.");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/wh_nope/test"), 404);
    CHECK_EQ_STR(err_of(&resp), "Webhook not found.");
    hx_resp_free(&resp);
    /* the last one: everything before it on acme's partition has arrived when it has */
    CHECK_EQ_INT(post_test(fx, fx->wh1, "{\"payload\":{\"last\":true}}", id4, sizeof(id4)), 202);

    json_t *seen = json_array();
    json_t *custom = json_pack("{s:s,s:{s:[i,i]}}", "hello", "world", "nested", "n", 1, 2);
    json_t *dflt = json_pack("{s:s}", "message", TEST_MESSAGE);
    json_t *last = json_pack("{s:b}", "last", 1);
    check_test_envelope(fx, rk, id1, custom, seen);
    check_test_envelope(fx, rk, id2, dflt, seen);
    check_test_envelope(fx, rk, id3, dflt, seen);
    check_test_envelope(fx, rk, id4, last, seen);
    size_t i;
    json_t *env;
    bool stray = false;
    json_array_foreach(seen, i, env)
        stray = stray || json_object_get(env, "webhook_id") != NULL;
    CHECK(!stray);
    json_decref(seen);
    json_decref(custom);
    json_decref(dflt);
    json_decref(last);

    /* broker down: not acknowledged within HOOKLINE_PUBLISH_TIMEOUT (2 s) ->
     * 503; the producer keeps trying, so the event may still go out */
    hx_broker_down(fx->st);
    long long t0 = hx_now_ms();
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/test", fx->wh1), 503);
    long long took = hx_now_ms() - t0;
    CHECK(took < 4000);
    CHECK(strncmp(err_of(&resp), "The event bus did not confirm event evt_", 40) == 0);
    CHECK(strstr(err_of(&resp), "it may still be published") != NULL);
    CHECK(hx_resp_header(&resp, "Retry-After", (char[16]){ 0 }, 16) == 0);
    hx_resp_free(&resp);
    /* the attempt log does not need Kafka */
    CHECK_EQ_INT(fx_list(fx, fx->key_a, &resp, "?size=1"), 200);
    hx_resp_free(&resp);
    hx_broker_up(fx->st);
    char id5[64] = "";
    CHECK(HX_WAIT(post_test(fx, fx->wh1, "{}", id5, sizeof(id5)) == 202, 45000));
    char key[128];
    json_t *got = events_wait(rk, id5, key, sizeof(key), NULL);
    CHECK(got != NULL);
    json_decref(got);

    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

int main(void)
{
    struct fx fx = { 0 };
    fx_setup(&fx);
    test_list_envelope(&fx);
    test_list_fields(&fx);
    test_list_filters(&fx);
    test_retry(&fx);
    test_delete(&fx);
    test_other_tenant(&fx);
    test_scopes(&fx);
    test_test_event(&fx);
    PQfinish(fx.pg);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    return check_exit();
}
