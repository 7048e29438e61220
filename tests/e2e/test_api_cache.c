/* test_api_cache.c: GET /v1/webhooks/{id} answered from the api's document
 * cache stays correct.
 *
 * A cached answer is byte for byte the fresh one, with the same headers;
 * a PATCH, PUT, rotate-secret or DELETE through the same api shows on the
 * very next GET; with two api processes on one database, a change through
 * one shows on the other within a polled deadline, and so does a change
 * made directly in SQL (the dispatcher's auto-disable) and a tenant's
 * cascaded delete; another tenant's id is 404 as it always was; a
 * document over the size limit is never cached; when the listener's
 * session is killed the cache is emptied, and while the listener cannot
 * reconnect the cache is not used at all (a change in SQL shows at once),
 * then it works again. Whether an answer came from the cache is read from
 * the api's /metrics.
 */
#include "api_e2e.h"

#define CA_DEADLINE_MS 10000
#define CA_APP_NAME "hookline-api doc cache"

/* Value of the series 'series' (exact, labels included) in the /metrics of
 * the api at 'base', or -1. */
static long ca_metric(const char *base, const char *series)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/metrics", base);
    struct hx_resp resp;
    long v = -1;
    if (hx_http("GET", url, NULL, NULL, NULL, &resp) == 200) {
        size_t n = strlen(series);
        for (const char *line = resp.body; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            if (strncmp(line, series, n) == 0 && line[n] == ' ') {
                v = atol(line + n + 1);
                break;
            }
        }
    }
    hx_resp_free(&resp);
    return v;
}

static long ca_hits(const char *base)
{
    return ca_metric(base, "hookline_api_doc_cache_lookups_total{result=\"hit\"}");
}

/* GET webhook 'id' from the api at 'base' with 'key'. */
static long ca_get(const char *base, const char *key, const char *id, struct hx_resp *resp)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/webhooks/%s", base, id);
    return hx_http("GET", url, key, NULL, NULL, resp);
}

/* One GET of 'id' that was answered from the cache (200 and the hit
 * counter moved by one). */
static bool ca_get_hit(const char *base, const char *key, const char *id)
{
    struct hx_resp resp;
    long before = ca_hits(base);
    long status = ca_get(base, key, id, &resp);
    hx_resp_free(&resp);
    return status == 200 && ca_hits(base) == before + 1;
}

/* The string field 'field' of GET 'id' equals 'want'. */
static bool ca_field_is(const char *base, const char *key, const char *id, const char *field, const char *want)
{
    struct hx_resp resp;
    bool ok = ca_get(base, key, id, &resp) == 200 && e2e_str(resp.json, field) != NULL &&
              strcmp(e2e_str(resp.json, field), want) == 0;
    hx_resp_free(&resp);
    return ok;
}

static long ca_status(const char *base, const char *key, const char *id)
{
    struct hx_resp resp;
    long status = ca_get(base, key, id, &resp);
    hx_resp_free(&resp);
    return status;
}

/* Run 'sql' with one text parameter on 'pg'; returns rows affected or -1. */
static long ca_sql(PGconn *pg, const char *sql, const char *p1)
{
    const char *params[1] = {p1};
    PGresult *res = PQexecParams(pg, sql, p1 ? 1 : 0, NULL, params, NULL, NULL, 0);
    long n = -1;
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        n = atol(PQcmdTuples(res));
    else if (PQresultStatus(res) == PGRES_TUPLES_OK)
        n = PQntuples(res) == 1 ? atol(PQgetvalue(res, 0, 0)) : -1;
    else
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(pg));
    PQclear(res);
    return n;
}

/* Listener sessions of api processes on the stack's database. */
static long ca_listeners(PGconn *pg)
{
    return ca_sql(pg,
                  "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
                  CA_APP_NAME);
}

static long ca_kill_listeners(PGconn *pg)
{
    return ca_sql(pg,
                  "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                  "WHERE datname = current_database() AND application_name = $1",
                  CA_APP_NAME);
}

static void ca_same_process(struct hx_stack *st, const char *key, const char *other_key)
{
    const char *a = hx_api_url(st);
    struct hx_resp first, second, resp;
    char id[64], path[128];

    E2E_SECTION("the cache is on once the api's listener is connected");
    CHECK_FATAL(HX_WAIT(ca_metric(a, "hookline_api_doc_cache_enabled") == 1, CA_DEADLINE_MS));

    E2E_SECTION("a cached answer is the fresh one, byte for byte, with the same status and headers");
    CHECK_FATAL(e2e_webhook_new(st, key, "cached", "https://hooks.example.com/cached", id, NULL) == 201);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
    long misses = ca_metric(a, "hookline_api_doc_cache_lookups_total{result=\"miss\"}");
    CHECK_EQ_INT(ca_get(a, key, id, &first), 200);
    CHECK(ca_metric(a, "hookline_api_doc_cache_lookups_total{result=\"miss\"}") == misses + 1);
    /* the create's own notification may void the first fill: poll for the first hit */
    CHECK(HX_WAIT(ca_get_hit(a, key, id), CA_DEADLINE_MS));
    long hits = ca_hits(a);
    CHECK_EQ_INT(ca_get(a, key, id, &second), 200);
    CHECK_EQ_INT(ca_hits(a), hits + 1);
    CHECK_EQ_STR(second.body, first.body);
    CHECK_EQ_STR(e2e_str(second.json, "secret"), "redacted");
    CHECK_EQ_STR(e2e_str(second.json, "id"), id);
    CHECK(json_object_get(second.json, "tenant") == NULL);
    static const char *const headers[] = {"Content-Type", "Cache-Control", "X-Content-Type-Options", "Content-Length"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char h1[128] = "", h2[128] = "";
        CHECK(hx_resp_header(&first, headers[i], h1, sizeof(h1)) == 0);
        CHECK(hx_resp_header(&second, headers[i], h2, sizeof(h2)) == 0);
        CHECK_EQ_STR(h2, h1);
    }
    char ctype[128] = "";
    hx_resp_header(&second, "Content-Type", ctype, sizeof(ctype));
    CHECK_EQ_STR(ctype, "application/json");
    hx_resp_free(&first);
    hx_resp_free(&second);

    E2E_SECTION("PATCH, PUT and rotate-secret through the same api: the next GET shows the change at once");
    CHECK(HX_WAIT(ca_get_hit(a, key, id), CA_DEADLINE_MS));
    CHECK_EQ_INT(e2e_send(st, "PATCH", key, &resp, path, "%s", "{\"description\":\"patched\"}"), 200);
    hx_resp_free(&resp);
    CHECK_EQ_INT(ca_get(a, key, id, &resp), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "description"), "patched");
    CHECK_EQ_INT(e2e_int(resp.json, "version"), 2);
    hx_resp_free(&resp);

    CHECK(HX_WAIT(ca_get_hit(a, key, id), CA_DEADLINE_MS));
    CHECK_EQ_INT(
        e2e_send(st, "PUT", key, &resp, path, "%s",
                 "{\"name\":\"replaced\",\"url\":\"https://hooks.example.com/put\",\"events\":\"conversation\"}"),
        200);
    hx_resp_free(&resp);
    CHECK_EQ_INT(ca_get(a, key, id, &resp), 200);
    CHECK_EQ_STR(e2e_str(resp.json, "name"), "replaced");
    CHECK_EQ_STR(e2e_str(resp.json, "url"), "https://hooks.example.com/put");
    CHECK_EQ_STR(e2e_str(resp.json, "description"), "");
    CHECK_EQ_INT(e2e_int(resp.json, "version"), 3);
    hx_resp_free(&resp);

    CHECK(HX_WAIT(ca_get_hit(a, key, id), CA_DEADLINE_MS));
    CHECK_EQ_INT(hx_api(st, "POST", key, NULL, &resp, "%s/rotate-secret", path), 200);
    hx_resp_free(&resp);
    CHECK_EQ_INT(ca_get(a, key, id, &resp), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "version"), 4);
    CHECK_EQ_STR(e2e_str(resp.json, "secret"), "redacted");
    hx_resp_free(&resp);

    E2E_SECTION("another tenant's id answers 404 exactly as an unknown id, while the owner's document is cached");
    CHECK(HX_WAIT(ca_get_hit(a, key, id), CA_DEADLINE_MS));
    struct hx_resp unknown;
    CHECK_EQ_INT(ca_get(a, other_key, id, &resp), 404);
    CHECK_EQ_INT(ca_get(a, other_key, "wh_0000000000000000000000", &unknown), 404);
    CHECK_EQ_STR(resp.body, unknown.body);
    CHECK_EQ_STR(e2e_error(&resp), "Webhook not found.");
    CHECK(strstr(resp.body, "replaced") == NULL);
    hx_resp_free(&resp);
    hx_resp_free(&unknown);
    /* and the owner still gets it, from the cache */
    CHECK(ca_get_hit(a, key, id));

    E2E_SECTION("DELETE through the same api: the next GET is 404");
    CHECK_EQ_INT(hx_api(st, "DELETE", key, NULL, &resp, "%s", path), 200);
    hx_resp_free(&resp);
    CHECK_EQ_INT(ca_status(a, key, id), 404);
    CHECK_EQ_INT(ca_status(a, key, id), 404);

    E2E_SECTION("a document over the size limit (8 KiB) is served fresh each time, never cached");
    json_t *hdrs = json_object();
    char *value = malloc(2001);
    CHECK_FATAL(value != NULL);
    memset(value, 'v', 2000);
    value[2000] = '\0';
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "X-Big-%d", i);
        json_object_set_new(hdrs, name, json_string(value));
    }
    free(value);
    json_t *body = json_pack("{s:s,s:s,s:s,s:o}", "name", "big", "url", "https://hooks.example.com/big", "events",
                             "booking", "headers", hdrs);
    CHECK_EQ_INT(e2e_send_json(st, "POST", key, &resp, "/v1/webhooks", body), 201);
    char big[64];
    snprintf(big, sizeof(big), "%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "");
    hx_resp_free(&resp);
    json_decref(body);
    hits = ca_hits(a);
    long dropped = ca_metric(a, "hookline_api_doc_cache_fills_total{result=\"dropped\"}");
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(ca_get(a, key, big, &resp), 200);
        CHECK(resp.len > 8192);
        hx_resp_free(&resp);
    }
    CHECK_EQ_INT(ca_hits(a), hits);
    CHECK(ca_metric(a, "hookline_api_doc_cache_fills_total{result=\"dropped\"}") >= dropped + 3);
}

/* A second api process on the same database. */
static pid_t ca_second_api(struct hx_stack *st, char *url2, size_t cap)
{
    static char db[1200], brokers[300], port[64], admin[128], keys[256];
    int p2 = hx_free_port();
    snprintf(keys, sizeof(keys), "HOOKLINE_SECRETS_KEY=%s", hx_secrets_key(st));
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(st));
    snprintf(brokers, sizeof(brokers), "HOOKLINE_KAFKA_BROKERS=%s", hx_brokers(st));
    snprintf(port, sizeof(port), "HOOKLINE_HTTP_PORT=%d", p2);
    snprintf(admin, sizeof(admin), "HOOKLINE_ADMIN_KEY=%s", hx_admin_key(st));
    snprintf(url2, cap, "http://127.0.0.1:%d", p2);
    const char *const env[] = {db, brokers, port, admin, keys, "HOOKLINE_TLS_CHECK=false", NULL};
    pid_t pid = e2e_spawn_api(hx_artifacts_dir(st), "api-second", NULL, env);
    CHECK_FATAL(HX_WAIT(ca_metric(url2, "hookline_api_doc_cache_enabled") >= 0, 20000));
    return pid;
}

static void ca_other_writers(struct hx_stack *st, const char *key)
{
    const char *a = hx_api_url(st);
    char b[64], id[64], path[128];
    struct hx_resp resp;
    PGconn *pg = hx_pg_connect(st);
    pid_t second = ca_second_api(st, b, sizeof(b));

    E2E_SECTION("every api process holds one listener session, named in pg_stat_activity");
    CHECK(HX_WAIT(ca_metric(b, "hookline_api_doc_cache_enabled") == 1, CA_DEADLINE_MS));
    CHECK_EQ_INT(ca_listeners(pg), 2);

    E2E_SECTION("two api processes: a PATCH through A shows on B's cached GET within the deadline");
    CHECK_FATAL(e2e_webhook_new(st, key, "two apis", "https://hooks.example.com/two", id, NULL) == 201);
    snprintf(path, sizeof(path), "/v1/webhooks/%s", id);
    CHECK(HX_WAIT(ca_get_hit(b, key, id), CA_DEADLINE_MS));
    CHECK(ca_get_hit(b, key, id));
    long long t0 = hx_now_ms();
    CHECK_EQ_INT(e2e_send(st, "PATCH", key, &resp, path, "%s", "{\"description\":\"through A\"}"), 200);
    hx_resp_free(&resp);
    CHECK(HX_WAIT(ca_field_is(b, key, id, "description", "through A"), CA_DEADLINE_MS));
    fprintf(stderr, "B saw A's PATCH after %lld ms\n", hx_now_ms() - t0);
    /* and B caches the new document again */
    CHECK(HX_WAIT(ca_get_hit(b, key, id), CA_DEADLINE_MS));
    CHECK(ca_field_is(b, key, id, "description", "through A"));

    E2E_SECTION("a change made in SQL, as a dispatcher's auto-disable does, shows on both apis' cached GETs");
    CHECK(HX_WAIT(ca_get_hit(a, key, id), CA_DEADLINE_MS));
    CHECK(HX_WAIT(ca_get_hit(b, key, id), CA_DEADLINE_MS));
    t0 = hx_now_ms();
    CHECK_EQ_INT(ca_sql(pg,
                        "UPDATE webhooks SET is_active = false, disabled_reason = 'endpoint answered 410 Gone', "
                        "version = version + 1, updated_at = now() WHERE id = $1",
                        id),
                 1);
    CHECK(HX_WAIT(ca_field_is(a, key, id, "disabled_reason", "endpoint answered 410 Gone"), CA_DEADLINE_MS));
    CHECK(HX_WAIT(ca_field_is(b, key, id, "disabled_reason", "endpoint answered 410 Gone"), CA_DEADLINE_MS));
    fprintf(stderr, "the SQL change showed on both after %lld ms\n", hx_now_ms() - t0);
    CHECK_EQ_INT(ca_get(b, key, id, &resp), 200);
    CHECK(json_is_false(json_object_get(resp.json, "is_active")));
    hx_resp_free(&resp);

    E2E_SECTION("a DELETE through A: B's cached GET turns 404 within the deadline");
    CHECK(HX_WAIT(ca_get_hit(b, key, id), CA_DEADLINE_MS));
    CHECK_EQ_INT(hx_api(st, "DELETE", key, NULL, &resp, "%s", path), 200);
    hx_resp_free(&resp);
    CHECK(HX_WAIT(ca_status(b, key, id) == 404, CA_DEADLINE_MS));

    E2E_SECTION("a tenant deleted in SQL: the cascaded deletes evict its cached webhooks on both apis");
    char gone_key[128], g1[64], g2[64];
    CHECK_FATAL(hx_tenant_new(st, "cache-gone", "webhooks:read,webhooks:write", gone_key, sizeof(gone_key)) == 0);
    CHECK_FATAL(e2e_webhook_new(st, gone_key, "g1", "https://hooks.example.com/g1", g1, NULL) == 201);
    CHECK_FATAL(e2e_webhook_new(st, gone_key, "g2", "https://hooks.example.com/g2", g2, NULL) == 201);
    const char *apis[2] = {a, b};
    long evictions[2];
    for (int i = 0; i < 2; i++) {
        CHECK(HX_WAIT(ca_get_hit(apis[i], gone_key, g1), CA_DEADLINE_MS));
        CHECK(HX_WAIT(ca_get_hit(apis[i], gone_key, g2), CA_DEADLINE_MS));
        evictions[i] = ca_metric(apis[i], "hookline_api_doc_cache_evictions_total");
    }
    CHECK_EQ_INT(ca_sql(pg, "DELETE FROM tenants WHERE id = $1", "cache-gone"), 1);
    for (int i = 0; i < 2; i++) {
        CHECK(
            HX_WAIT(ca_metric(apis[i], "hookline_api_doc_cache_evictions_total") >= evictions[i] + 2, CA_DEADLINE_MS));
        /* 404 while the key is still in the key cache, 401 once it is not: never the document */
        long s1 = ca_status(apis[i], gone_key, g1), s2 = ca_status(apis[i], gone_key, g2);
        CHECK(s1 == 404 || s1 == 401);
        CHECK(s2 == 404 || s2 == 401);
    }

    E2E_SECTION("the second api stops cleanly on SIGTERM; its listener session ends");
    CHECK_FATAL(kill(second, SIGTERM) == 0);
    CHECK_EQ_INT(e2e_wait_api(second, 20000), 0);
    CHECK(HX_WAIT(ca_listeners(pg) == 1, CA_DEADLINE_MS));
    PQfinish(pg);
}

static void ca_listener_lost(struct hx_stack *st, const char *key)
{
    const char *a = hx_api_url(st);
    char id[64];
    struct hx_resp resp;
    PGconn *pg = hx_pg_connect(st);
    CHECK_FATAL(e2e_webhook_new(st, key, "listener", "https://hooks.example.com/listener", id, NULL) == 201);

    E2E_SECTION("the listener's session is killed: a change in SQL still shows, and the cache works again after");
    CHECK(HX_WAIT(ca_get_hit(a, key, id), CA_DEADLINE_MS));
    long flushes = ca_metric(a, "hookline_api_doc_cache_flushes_total");
    CHECK_EQ_INT(ca_kill_listeners(pg), 1);
    /* no wait: the UPDATE may commit before the api notices, while no one listens */
    CHECK_EQ_INT(
        ca_sql(pg, "UPDATE webhooks SET description = 'while killed', version = version + 1 WHERE id = $1", id), 1);
    CHECK(HX_WAIT(ca_field_is(a, key, id, "description", "while killed"), CA_DEADLINE_MS));
    /* lost and back: emptied at both ends */
    CHECK(HX_WAIT(ca_metric(a, "hookline_api_doc_cache_flushes_total") >= flushes + 2, CA_DEADLINE_MS));
    CHECK(HX_WAIT(ca_metric(a, "hookline_api_doc_cache_enabled") == 1, CA_DEADLINE_MS));
    CHECK(HX_WAIT(ca_listeners(pg) == 1, CA_DEADLINE_MS));
    CHECK(HX_WAIT(ca_get_hit(a, key, id), CA_DEADLINE_MS));
    CHECK(ca_field_is(a, key, id, "description", "while killed"));
    /* and notifications reach the new session */
    CHECK_EQ_INT(ca_sql(pg, "UPDATE webhooks SET description = 'after reconnect' WHERE id = $1", id), 1);
    CHECK(HX_WAIT(ca_field_is(a, key, id, "description", "after reconnect"), CA_DEADLINE_MS));

    E2E_SECTION("while the listener cannot reconnect the cache is not used: a change in SQL shows at once");
    char *dbname = NULL;
    PGresult *res = PQexec(pg, "SELECT current_database()");
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK);
    char *ident = PQescapeIdentifier(pg, PQgetvalue(res, 0, 0), strlen(PQgetvalue(res, 0, 0)));
    PQclear(res);
    CHECK_FATAL(ident != NULL);
    CHECK_FATAL(asprintf(&dbname, "%s", ident) > 0);
    PQfreemem(ident);
    char sql[512];
    /* a database's connections are switched off from another database */
    const char *const keys[] = {"dbname", "dbname", NULL};
    const char *const values[] = {hx_db_conninfo(st), "postgres", NULL};
    PGconn *admin = PQconnectdbParams(keys, values, 1);
    CHECK_FATAL(PQstatus(admin) == CONNECTION_OK);
    CHECK(HX_WAIT(ca_get_hit(a, key, id), CA_DEADLINE_MS));
    /* new sessions refused (this one and the api's pooled ones stay): the listener stays down */
    snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS false", dbname);
    CHECK_FATAL(ca_sql(admin, sql, NULL) == 0);
    CHECK_EQ_INT(ca_kill_listeners(pg), 1);
    CHECK(HX_WAIT(ca_metric(a, "hookline_api_doc_cache_enabled") == 0, CA_DEADLINE_MS));
    long bypasses = ca_metric(a, "hookline_api_doc_cache_lookups_total{result=\"bypass\"}");
    long hits = ca_hits(a);
    CHECK_EQ_INT(ca_sql(pg, "UPDATE webhooks SET description = 'nobody listening' WHERE id = $1", id), 1);
    /* not polled: with no listener, the only right answer is the database's */
    CHECK(ca_field_is(a, key, id, "description", "nobody listening"));
    CHECK(ca_field_is(a, key, id, "description", "nobody listening"));
    CHECK_EQ_INT(ca_sql(pg, "UPDATE webhooks SET description = 'still nobody' WHERE id = $1", id), 1);
    CHECK(ca_field_is(a, key, id, "description", "still nobody"));
    CHECK_EQ_INT(ca_hits(a), hits);
    CHECK_EQ_INT(ca_metric(a, "hookline_api_doc_cache_lookups_total{result=\"bypass\"}"), bypasses + 3);
    CHECK_EQ_INT(ca_listeners(pg), 0);

    E2E_SECTION("connections allowed again: the listener reconnects and the cache is used again");
    snprintf(sql, sizeof(sql), "ALTER DATABASE %s ALLOW_CONNECTIONS true", dbname);
    CHECK_FATAL(ca_sql(admin, sql, NULL) == 0);
    PQfinish(admin);
    CHECK(HX_WAIT(ca_metric(a, "hookline_api_doc_cache_enabled") == 1, CA_DEADLINE_MS));
    CHECK_EQ_INT(ca_listeners(pg), 1);
    CHECK(HX_WAIT(ca_get_hit(a, key, id), CA_DEADLINE_MS));
    CHECK(ca_field_is(a, key, id, "description", "still nobody"));
    CHECK_EQ_INT(ca_sql(pg, "UPDATE webhooks SET description = 'listening again' WHERE id = $1", id), 1);
    CHECK(HX_WAIT(ca_field_is(a, key, id, "description", "listening again"), CA_DEADLINE_MS));
    CHECK_EQ_INT(ca_get(a, key, id, &resp), 200);
    hx_resp_free(&resp);
    free(dbname);
    PQfinish(pg);
}

int main(void)
{
    struct hx_stack *st = hx_stack_start(NULL);
    char key[128], other[128];
    CHECK_FATAL(hx_tenant_new(st, "cache-co", "webhooks:read,webhooks:write", key, sizeof(key)) == 0);
    CHECK_FATAL(hx_tenant_new(st, "cache-other", "webhooks:read,webhooks:write", other, sizeof(other)) == 0);
    ca_same_process(st, key, other);
    ca_other_writers(st, key);
    ca_listener_lost(st, key);
    CHECK_EQ_INT(hx_stack_stop(st), 0);
    return check_exit();
}
