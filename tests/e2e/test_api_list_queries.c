/* test_api_list_queries.c: the seeds' list queries on GET /v1/webhooks and
 * GET /v1/webhooks/{id}/deliveries.
 *
 * sort= (created_at and name for webhooks, sent_at for deliveries; a
 * leading '-' for descending), skip=/take= as the alternative to
 * page=/size= (one past the end is an empty page with the full count;
 * mixing the pairs is a 400), include=deliveries embedding each webhook's
 * latest five attempts newest first without payloads, and the seed's
 * "Saved Webhooks" filters created_by=, owner= (the filter's data.owner)
 * and team= (data.team, a value or one of a list). Every bad value is a 400
 * naming the parameter; another tenant's webhooks and attempts never show,
 * whatever the query. The page answers from the document cache: a change
 * through the api shows on the next page, a change in SQL once notified.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_e2e.h"

#define T_URL "https://127.0.0.1:9/hook"
#define LQ_DEADLINE_MS 20000

struct fx {
    struct hx_stack *st;
    PGconn *pg;
    char key_a[128], key_a2[128], key_b[128];
    char key_a2_id[64], key_a_id[64];
    char charlie[64], alpha[64], bravo[64], beta_alpha[64];
    char ep_charlie[64];
};

static void fx_sql(struct fx *fx, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(fx->pg, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        hx_die("%s: %s", sql, PQerrorMessage(fx->pg));
    PQclear(res);
}

/* A webhook of 'key' named 'name' with 'filter' (JSON text or NULL), created
 * at 'created_at'; its id into 'id', its first endpoint's into 'ep' (may be NULL). */
static void fx_webhook(struct fx *fx, const char *key, const char *name, const char *filter, const char *created_at,
                       char *id, char *ep)
{
    struct hx_resp resp;
    char body[512];
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"url\":\"%s\",\"events\":[\"booking\"]%s%s}", name, T_URL,
             filter ? ",\"filter\":" : "", filter ? filter : "");
    long status = hx_api(fx->st, "POST", key, body, &resp, "/v1/webhooks");
    const char *wid = e2e_str(resp.json, "id");
    const char *eid = e2e_str(json_array_get(json_object_get(resp.json, "endpoints"), 0), "id");
    if (status != 201 || wid == NULL || eid == NULL || strlen(wid) >= 64 || strlen(eid) >= 64)
        hx_die("POST /v1/webhooks %s: %ld %s", name, status, resp.body);
    strcpy(id, wid);
    if (ep)
        strcpy(ep, eid);
    hx_resp_free(&resp);
    /* distinct, known creation times: the default order is by them */
    const char *p[2] = { created_at, id };
    fx_sql(fx, "UPDATE webhooks SET created_at = $1::timestamptz WHERE id = $2", 2, p);
}

/* Attempt 'n' of 'wh' of 'tenant', sent 'n' minutes into today (UTC: the
 * attempt log is partitioned by day, today's partition is there), with its
 * event's body. */
static void fx_attempt(struct fx *fx, const char *tenant, const char *wh, const char *ep, int n)
{
    char id[64], evt[64], at[64], day[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    snprintf(id, sizeof(id), "dlv_%s_%02d", wh + 3, n);
    snprintf(evt, sizeof(evt), "evt_%d", n);
    snprintf(at, sizeof(at), "%sT00:%02d:00Z", day, n);
    const char *p[7] = { id, tenant, wh, ep, evt, at, T_URL };
    fx_sql(fx,
        "INSERT INTO attempts (id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, "
        "attempt, status_code, response, success, sent_at, duration_ms, dispatcher) "
        "VALUES ($1, $2, $3, $4, $7, $5, 'booking.scheduled', 1, 200, 'ok', true, "
        "$6::timestamptz, 5, 'test')",
        7, p);
    const char *pb[3] = { tenant, evt, at };
    fx_sql(fx,
        "INSERT INTO bodies (tenant_id, event_id, day, body) VALUES ($1, $2, ($3::timestamptz AT TIME ZONE 'UTC')::date, "
        "'{\"secret_payload\":1}') ON CONFLICT DO NOTHING",
        3, pb);
}

/* "<id>" of the attempt 'n' of webhook 'wh' as fx_attempt names it. */
static const char *attempt_id(const char *wh, int n, char *out, size_t cap)
{
    snprintf(out, cap, "dlv_%s_%02d", wh + 3, n);
    return out;
}

static void fx_setup(struct fx *fx)
{
    struct hx_resp resp;
    fx->st = hx_stack_start(NULL);
    fx->pg = hx_pg_connect(fx->st);
    CHECK_FATAL(hx_tenant_new(fx->st, "acme", "webhooks:read,webhooks:write", fx->key_a, sizeof(fx->key_a)) == 0);
    CHECK_FATAL(hx_tenant_new(fx->st, "beta", "webhooks:read,webhooks:write", fx->key_b, sizeof(fx->key_b)) == 0);
    CHECK_FATAL(hx_api(fx->st, "POST", hx_admin_key(fx->st), "{\"scopes\":[\"webhooks:read\",\"webhooks:write\"]}",
                       &resp, "/v1/tenants/acme/keys") == 201);
    snprintf(fx->key_a2, sizeof(fx->key_a2), "%s", e2e_str(resp.json, "key"));
    snprintf(fx->key_a2_id, sizeof(fx->key_a2_id), "%s", e2e_str(resp.json, "id"));
    hx_resp_free(&resp);

    fx_webhook(fx, fx->key_a, "charlie", "{\"data.owner\":\"u_42\",\"data.team\":[\"sales\",\"ops\"]}",
               "2026-01-01T00:00:01Z", fx->charlie, fx->ep_charlie);
    fx_webhook(fx, fx->key_a2, "alpha", "{\"data.owner\":\"u_7\",\"data.team\":\"sales\"}", "2026-01-01T00:00:02Z",
               fx->alpha, NULL);
    fx_webhook(fx, fx->key_a, "bravo", NULL, "2026-01-01T00:00:03Z", fx->bravo, NULL);
    char ep_b[64];
    fx_webhook(fx, fx->key_b, "alpha", "{\"data.owner\":\"u_42\",\"data.team\":\"sales\"}", "2026-01-01T00:00:00Z",
               fx->beta_alpha, ep_b);

    CHECK_FATAL(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks/%s", fx->charlie) == 200);
    snprintf(fx->key_a_id, sizeof(fx->key_a_id), "%s", e2e_str(resp.json, "created_by"));
    hx_resp_free(&resp);
    CHECK_FATAL(e2e_starts_with(fx->key_a_id, "key_"));

    for (int n = 1; n <= 7; n++)
        fx_attempt(fx, "acme", fx->charlie, fx->ep_charlie, n);
    fx_attempt(fx, "acme", fx->alpha, fx->ep_charlie, 3);
    /* beta's attempts, some recorded against acme's webhook id: a tenant sees its own rows only */
    fx_attempt(fx, "beta", fx->beta_alpha, ep_b, 1);
    fx_attempt(fx, "beta", fx->charlie, ep_b, 8);
}

/* ---- helpers --------------------------------------------------------------- */

static long lq_get(struct fx *fx, const char *key, struct hx_resp *resp, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static long lq_get(struct fx *fx, const char *key, struct hx_resp *resp, const char *fmt, ...)
{
    char path[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return hx_api(fx->st, "GET", key, NULL, resp, "%s", path);
}

/* The element names (webhooks) or ids (deliveries) joined with ','. */
static const char *lq_join(const struct hx_resp *resp, const char *field, char *out, size_t cap)
{
    size_t i, o = 0;
    json_t *el;
    out[0] = '\0';
    json_array_foreach(json_object_get(resp->json, "elements"), i, el) {
        int n = snprintf(out + o, cap - o, "%s%s", i ? "," : "", e2e_str(el, field) ? e2e_str(el, field) : "?");
        if (n < 0 || (size_t)n >= cap - o)
            break;
        o += (size_t)n;
    }
    return out;
}

/* GET 'path' with 'key': 200, "count" 'count' and the elements' 'field's
 * joined are 'want'. */
static void lq_check(struct fx *fx, int line, const char *key, const char *path, const char *field, long count,
                     const char *want)
{
    struct hx_resp resp;
    char got[2048];
    long status = lq_get(fx, key, &resp, "%s", path);
    lq_join(&resp, field, got, sizeof(got));
    if (status != 200 || e2e_int(resp.json, "count") != count || strcmp(got, want) != 0) {
        fprintf(stderr, "line %d: GET %s: %ld count %lld [%s] (want count %ld [%s]) %.300s\n", line, path, status,
                e2e_int(resp.json, "count"), got, count, want, resp.body);
        CHECK(!"the list answered as expected");
    } else {
        CHECK(1);
    }
    hx_resp_free(&resp);
}
#define LQ_NAMES(fx, path, count, want) lq_check(fx, __LINE__, (fx)->key_a, path, "name", count, want)

/* GET 'path' is a 400 whose error names 'param'. */
static void lq_400(struct fx *fx, int line, const char *path, const char *param)
{
    struct hx_resp resp;
    char quoted[64];
    snprintf(quoted, sizeof(quoted), "\"%s\"", param);
    long status = lq_get(fx, fx->key_a, &resp, "%s", path);
    if (status != 400 || !e2e_is_error_body(&resp) || strstr(e2e_error(&resp), quoted) == NULL) {
        fprintf(stderr, "line %d: GET %s: %ld %.300s (want 400 naming %s)\n", line, path, status, resp.body, quoted);
        CHECK(!"a 400 naming the parameter");
    } else {
        CHECK(1);
    }
    hx_resp_free(&resp);
}
#define LQ_400(fx, path, param) lq_400(fx, __LINE__, path, param)

/* ---- webhooks ------------------------------------------------------------------ */

static void test_webhook_sort(struct fx *fx)
{
    E2E_SECTION("webhooks: oldest first by default; sort=created_at, -created_at, name, -name");
    LQ_NAMES(fx, "/v1/webhooks", 3, "charlie,alpha,bravo");
    LQ_NAMES(fx, "/v1/webhooks?sort=created_at", 3, "charlie,alpha,bravo");
    LQ_NAMES(fx, "/v1/webhooks?sort=-created_at", 3, "bravo,alpha,charlie");
    LQ_NAMES(fx, "/v1/webhooks?sort=name", 3, "alpha,bravo,charlie");
    LQ_NAMES(fx, "/v1/webhooks?sort=-name", 3, "charlie,bravo,alpha");
    LQ_NAMES(fx, "/v1/webhooks?sort=-name&page=2&size=2", 3, "alpha");
}

static void test_webhook_skip_take(struct fx *fx)
{
    struct hx_resp resp;
    E2E_SECTION("webhooks: skip/take in any order, one past the end is empty with the full count");
    LQ_NAMES(fx, "/v1/webhooks?skip=1&take=1", 3, "alpha");
    LQ_NAMES(fx, "/v1/webhooks?skip=1", 3, "alpha,bravo");
    LQ_NAMES(fx, "/v1/webhooks?take=2", 3, "charlie,alpha");
    LQ_NAMES(fx, "/v1/webhooks?skip=2&take=5&sort=name", 3, "charlie");
    LQ_NAMES(fx, "/v1/webhooks?skip=3&take=1", 3, "");
    LQ_NAMES(fx, "/v1/webhooks?skip=4&take=100", 3, "");
    LQ_NAMES(fx, "/v1/webhooks?page=2&size=2", 3, "bravo");

    E2E_SECTION("webhooks: the envelope says skip and take when they are used");
    CHECK_EQ_INT(lq_get(fx, fx->key_a, &resp, "/v1/webhooks?skip=2&take=2"), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "skip"), 2);
    CHECK_EQ_INT(e2e_int(resp.json, "take"), 2);
    CHECK_EQ_INT(e2e_int(resp.json, "per_page"), 2);
    CHECK_EQ_INT(e2e_int(json_object_get(resp.json, "pages"), "current"), 2);
    CHECK_EQ_INT(e2e_int(json_object_get(resp.json, "pages"), "max"), 2);
    CHECK_EQ_STR(e2e_str(resp.json, "entities"), "Webhook");
    hx_resp_free(&resp);
    CHECK_EQ_INT(lq_get(fx, fx->key_a, &resp, "/v1/webhooks?page=1&size=2"), 200);
    CHECK(json_object_get(resp.json, "skip") == NULL && json_object_get(resp.json, "take") == NULL);
    hx_resp_free(&resp);
}

static void test_webhook_filters(struct fx *fx)
{
    char path[256];
    E2E_SECTION("webhooks: created_by (Login), owner (For Login) and team (Team), alone and together");
    snprintf(path, sizeof(path), "/v1/webhooks?created_by=%s", fx->key_a2_id);
    LQ_NAMES(fx, path, 1, "alpha");
    snprintf(path, sizeof(path), "/v1/webhooks?created_by=%s&sort=-name", fx->key_a_id);
    LQ_NAMES(fx, path, 2, "charlie,bravo");
    LQ_NAMES(fx, "/v1/webhooks?created_by=admin", 0, "");
    LQ_NAMES(fx, "/v1/webhooks?owner=u_42", 1, "charlie");
    LQ_NAMES(fx, "/v1/webhooks?owner=u_7", 1, "alpha");
    LQ_NAMES(fx, "/v1/webhooks?owner=u_4", 0, "");
    LQ_NAMES(fx, "/v1/webhooks?team=sales", 2, "charlie,alpha");
    LQ_NAMES(fx, "/v1/webhooks?team=ops", 1, "charlie");
    LQ_NAMES(fx, "/v1/webhooks?team=sales&owner=u_7", 1, "alpha");
    LQ_NAMES(fx, "/v1/webhooks?team=sales&sort=name&skip=1&take=1", 2, "charlie");
    /* a blank field of the console's form filters nothing */
    LQ_NAMES(fx, "/v1/webhooks?team=&owner=&created_by=", 3, "charlie,alpha,bravo");
}

static void test_webhook_include(struct fx *fx)
{
    struct hx_resp resp;
    char want[64];
    E2E_SECTION("webhooks: include=deliveries embeds the latest 5 attempts, newest first, without payloads");
    CHECK_EQ_INT(lq_get(fx, fx->key_a, &resp, "/v1/webhooks?include=deliveries"), 200);
    json_t *els = json_object_get(resp.json, "elements");
    CHECK_EQ_INT(json_array_size(els), 3);
    json_t *charlie = json_array_get(els, 0), *alpha = json_array_get(els, 1), *bravo = json_array_get(els, 2);
    json_t *dl = json_object_get(charlie, "deliveries");
    CHECK_EQ_INT(json_array_size(dl), 5);
    for (size_t i = 0; i < json_array_size(dl); i++) {
        json_t *d = json_array_get(dl, i);
        CHECK_EQ_STR(e2e_str(d, "id"), attempt_id(fx->charlie, 7 - (int)i, want, sizeof(want)));
        CHECK_EQ_STR(e2e_str(d, "webhook_id"), fx->charlie);
        CHECK(json_object_get(d, "payload") == NULL);
        CHECK(json_is_true(json_object_get(d, "success")));
        CHECK(e2e_str(d, "sent_at") != NULL);
    }
    dl = json_object_get(alpha, "deliveries");
    CHECK_EQ_INT(json_array_size(dl), 1);
    CHECK_EQ_STR(e2e_str(json_array_get(dl, 0), "id"), attempt_id(fx->alpha, 3, want, sizeof(want)));
    CHECK(json_is_array(json_object_get(bravo, "deliveries")));
    CHECK_EQ_INT(json_array_size(json_object_get(bravo, "deliveries")), 0);
    /* beta's row against acme's webhook id is not acme's */
    CHECK(strstr(resp.body, "_08\"") == NULL);
    CHECK(strstr(resp.body, "secret_payload") == NULL);
    CHECK_EQ_STR(e2e_str(charlie, "secret"), "redacted");
    hx_resp_free(&resp);

    E2E_SECTION("webhooks: without include there is no deliveries field; with it, the rest is unchanged");
    struct hx_resp plain;
    CHECK_EQ_INT(lq_get(fx, fx->key_a, &plain, "/v1/webhooks?sort=name&take=1"), 200);
    CHECK(json_object_get(json_array_get(json_object_get(plain.json, "elements"), 0), "deliveries") == NULL);
    CHECK_EQ_INT(lq_get(fx, fx->key_a, &resp, "/v1/webhooks?sort=name&take=1&include=deliveries"), 200);
    json_t *el = json_deep_copy(json_array_get(json_object_get(resp.json, "elements"), 0));
    json_object_del(el, "deliveries");
    CHECK(json_equal(el, json_array_get(json_object_get(plain.json, "elements"), 0)));
    json_decref(el);
    hx_resp_free(&resp);
    hx_resp_free(&plain);
}

static void test_webhook_400(struct fx *fx)
{
    char path[1200];
    E2E_SECTION("webhooks: every bad value is a 400 naming its parameter");
    LQ_400(fx, "/v1/webhooks?sort=sent_at", "sort");
    LQ_400(fx, "/v1/webhooks?sort=bogus", "sort");
    LQ_400(fx, "/v1/webhooks?sort=-", "sort");
    LQ_400(fx, "/v1/webhooks?sort=", "sort");
    LQ_400(fx, "/v1/webhooks?sort=--name", "sort");
    LQ_400(fx, "/v1/webhooks?sort=name:desc", "sort");
    LQ_400(fx, "/v1/webhooks?skip=-1", "skip");
    LQ_400(fx, "/v1/webhooks?skip=x", "skip");
    LQ_400(fx, "/v1/webhooks?skip=100000001", "skip");
    LQ_400(fx, "/v1/webhooks?take=0", "take");
    LQ_400(fx, "/v1/webhooks?take=101", "take");
    LQ_400(fx, "/v1/webhooks?take=", "take");
    LQ_400(fx, "/v1/webhooks?skip=0&page=1", "skip");
    LQ_400(fx, "/v1/webhooks?take=5&size=5", "take");
    LQ_400(fx, "/v1/webhooks?include=events", "include");
    LQ_400(fx, "/v1/webhooks?include=", "include");
    LQ_400(fx, "/v1/webhooks?size=0", "size");
    LQ_400(fx, "/v1/webhooks?page=0", "page");
    memset(path, 0, sizeof(path));
    strcpy(path, "/v1/webhooks?created_by=");
    memset(path + strlen(path), 'k', 60);
    LQ_400(fx, path, "created_by");
    strcpy(path, "/v1/webhooks?owner=");
    memset(path + strlen(path), 'o', 1025);
    LQ_400(fx, path, "owner");
    memset(path, 0, sizeof(path));
    strcpy(path, "/v1/webhooks?team=");
    memset(path + strlen(path), 't', 1025);
    LQ_400(fx, path, "team");
}

static void test_webhook_tenants(struct fx *fx)
{
    E2E_SECTION("webhooks: another tenant's never appear, whatever the query");
    lq_check(fx, __LINE__, fx->key_b, "/v1/webhooks?owner=u_42&include=deliveries", "name", 1, "alpha");
    lq_check(fx, __LINE__, fx->key_b, "/v1/webhooks?team=sales&sort=-name&skip=0&take=100", "name", 1, "alpha");
    lq_check(fx, __LINE__, fx->key_b, "/v1/webhooks?skip=1&take=1", "name", 1, "");
    char path[128];
    snprintf(path, sizeof(path), "/v1/webhooks?created_by=%s", fx->key_a_id);
    lq_check(fx, __LINE__, fx->key_b, path, "name", 0, "");
    /* beta's own webhook carries its own attempt, never acme's */
    struct hx_resp resp;
    CHECK_EQ_INT(lq_get(fx, fx->key_b, &resp, "/v1/webhooks?include=deliveries"), 200);
    json_t *dl = json_object_get(json_array_get(json_object_get(resp.json, "elements"), 0), "deliveries");
    CHECK_EQ_INT(json_array_size(dl), 1);
    CHECK_EQ_STR(e2e_str(json_array_get(dl, 0), "webhook_id"), fx->beta_alpha);
    CHECK(strstr(resp.body, fx->charlie) == NULL);
    hx_resp_free(&resp);
}

/* Whether the list (by name) shows 'name' for webhook 'id'. */
static bool lq_shows(struct fx *fx, const char *id, const char *name)
{
    struct hx_resp resp;
    bool ok = false;
    if (lq_get(fx, fx->key_a, &resp, "/v1/webhooks?sort=name") == 200) {
        size_t i;
        json_t *el;
        json_array_foreach(json_object_get(resp.json, "elements"), i, el)
            if (strcmp(e2e_str(el, "id"), id) == 0)
                ok = strcmp(e2e_str(el, "name"), name) == 0;
    }
    hx_resp_free(&resp);
    return ok;
}

static void test_webhook_fresh(struct fx *fx)
{
    struct hx_resp resp, byid;
    E2E_SECTION("webhooks: each element is what GET by id answers, byte for byte, then success_rate_24h");
    CHECK_EQ_INT(lq_get(fx, fx->key_a, &resp, "/v1/webhooks?sort=name&take=1"), 200);
    CHECK_EQ_INT(lq_get(fx, fx->key_a, &byid, "/v1/webhooks/%s", fx->alpha), 200);
    json_t *first = json_deep_copy(json_array_get(json_object_get(resp.json, "elements"), 0));
    CHECK(json_is_null(json_object_get(first, "success_rate_24h")));
    json_object_del(first, "success_rate_24h");
    char *el = json_dumps(first, JSON_COMPACT);
    char *with_rate = NULL;
    CHECK_FATAL(byid.len > 1 && asprintf(&with_rate, "%.*s,\"success_rate_24h\":null}", (int)byid.len - 1,
                                         byid.body) > 0);
    CHECK(strstr(resp.body, with_rate) != NULL);
    CHECK(el != NULL && strcmp(el, byid.body) == 0);
    free(with_rate);
    free(el);
    json_decref(first);
    hx_resp_free(&resp);
    hx_resp_free(&byid);

    E2E_SECTION("webhooks: a change through the api shows on the next page; one in SQL once notified");
    CHECK(lq_shows(fx, fx->bravo, "bravo"));
    CHECK_EQ_INT(hx_api(fx->st, "PATCH", fx->key_a, "{\"name\":\"bravo-2\"}", &resp, "/v1/webhooks/%s", fx->bravo),
                 200);
    hx_resp_free(&resp);
    CHECK(lq_shows(fx, fx->bravo, "bravo-2"));
    const char *p[1] = { fx->bravo };
    fx_sql(fx, "UPDATE webhooks SET name = 'bravo' WHERE id = $1", 1, p);
    CHECK(HX_WAIT(lq_shows(fx, fx->bravo, "bravo"), LQ_DEADLINE_MS));
    LQ_NAMES(fx, "/v1/webhooks?sort=name", 3, "alpha,bravo,charlie");
}

/* ---- deliveries ---------------------------------------------------------------- */

static void test_deliveries(struct fx *fx)
{
    char path[256], want[512], id[64];
    E2E_SECTION("deliveries: newest first by default; sort=sent_at oldest first, -sent_at newest first");
    want[0] = '\0';
    for (int n = 7; n >= 1; n--)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s", n < 7 ? "," : "",
                 attempt_id(fx->charlie, n, id, sizeof(id)));
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries", fx->charlie);
    lq_check(fx, __LINE__, fx->key_a, path, "id", 7, want);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries?sort=-sent_at", fx->charlie);
    lq_check(fx, __LINE__, fx->key_a, path, "id", 7, want);
    want[0] = '\0';
    for (int n = 1; n <= 7; n++)
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s", n > 1 ? "," : "",
                 attempt_id(fx->charlie, n, id, sizeof(id)));
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries?sort=sent_at", fx->charlie);
    lq_check(fx, __LINE__, fx->key_a, path, "id", 7, want);

    E2E_SECTION("deliveries: skip/take, one past the end empty with the full count");
    char two[160];
    snprintf(two, sizeof(two), "%s,", attempt_id(fx->charlie, 5, id, sizeof(id)));
    snprintf(two + strlen(two), sizeof(two) - strlen(two), "%s", attempt_id(fx->charlie, 4, id, sizeof(id)));
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries?skip=2&take=2", fx->charlie);
    lq_check(fx, __LINE__, fx->key_a, path, "id", 7, two);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries?skip=6&take=5&sort=sent_at", fx->charlie);
    lq_check(fx, __LINE__, fx->key_a, path, "id", 7, attempt_id(fx->charlie, 7, id, sizeof(id)));
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries?skip=7&take=1", fx->charlie);
    lq_check(fx, __LINE__, fx->key_a, path, "id", 7, "");
    struct hx_resp resp;
    CHECK_EQ_INT(lq_get(fx, fx->key_a, &resp, "/v1/webhooks/%s/deliveries?skip=7&take=3", fx->charlie), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "skip"), 7);
    CHECK_EQ_INT(e2e_int(resp.json, "take"), 3);
    CHECK_EQ_STR(e2e_str(resp.json, "entities"), "Delivery");
    hx_resp_free(&resp);

    E2E_SECTION("deliveries: every bad value is a 400 naming its parameter");
    static const char *const bad[][2] = {
        { "sort=created_at", "sort" }, { "sort=name", "sort" }, { "sort=-", "sort" }, { "sort=+sent_at", "sort" },
        { "skip=-1", "skip" }, { "skip=1.5", "skip" }, { "take=0", "take" }, { "take=101", "take" },
        { "skip=1&size=10", "skip" }, { "page=2&take=10", "skip" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries?%s", fx->charlie, bad[i][0]);
        lq_400(fx, __LINE__, path, bad[i][1]);
    }

    E2E_SECTION("deliveries: another tenant's webhook is absent, and its rows never show");
    CHECK_EQ_INT(lq_get(fx, fx->key_b, &resp, "/v1/webhooks/%s/deliveries?skip=0&take=5&sort=sent_at", fx->charlie),
                 404);
    hx_resp_free(&resp);
    snprintf(path, sizeof(path), "/v1/webhooks/%s/deliveries?skip=0&take=100&sort=-sent_at", fx->beta_alpha);
    lq_check(fx, __LINE__, fx->key_b, path, "id", 1, attempt_id(fx->beta_alpha, 1, id, sizeof(id)));
}

int main(void)
{
    struct fx fx = { 0 };
    fx_setup(&fx);
    test_webhook_sort(&fx);
    test_webhook_skip_take(&fx);
    test_webhook_filters(&fx);
    test_webhook_include(&fx);
    test_webhook_400(&fx);
    test_webhook_tenants(&fx);
    test_webhook_fresh(&fx);
    test_deliveries(&fx);
    PQfinish(fx.pg);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    return check_exit();
}
