/* test_dispatch_endpoint_auth.c: endpoints with Basic or Bearer credentials.
 *
 * Against the real stack (api, one dispatcher, the devbroker, PostgreSQL,
 * an HTTPS receiver):
 * - the receiver gets the credentials as an Authorization header on every
 *   attempt of a delivery, retries included; an endpoint without any gets
 *   no Authorization header;
 * - GET and the list show {"type"} only, never a value; another tenant
 *   neither sees nor changes them (404);
 * - PATCH replaces them (another type), removes them (null), and keeps
 *   them when the GET representation is sent back (PUT);
 * - limits, characters and a clash with a custom Authorization header are
 *   refused at the edge with a 400 naming the field;
 * - a pg_dump of the database, every message on hookline.webhooks and every
 *   process log hold none of them (nor the base64 of user:password); the
 *   sealed values open, with GnuTLS alone, to the real ones for their
 *   endpoint and field; PostgreSQL refuses a plain one written by SQL;
 * - rotate-secrets-key seals them under a new key, and with the old key
 *   gone from every process deliveries still carry them.
 */
#include <signal.h>
#include <sys/random.h>

#include "dispatch_e2e.h"
#include "ops_e2e.h"

#define EA_WAIT_MS 30000
#define EA_LEAKS_MAX 24

struct ea_fx {
    struct hx_stack *st;
    struct hx_receiver *r;
    PGconn *pg;
    char key_a[128], key_g[128];     /* tenants acme and globex */
    struct de_webhook a, b;          /* a: url form, Basic; b: two endpoints, Bearer and none */
    char user[32], pass[48], token[48];
    char t1[128], t2[128];
    char leaks[EA_LEAKS_MAX][128];
    int nleaks;
    pid_t dsp;
};

static void ea_random(char *out, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[64];
    CHECK_FATAL(n < sizeof(rnd) && getrandom(rnd, n, 0) == (ssize_t)n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rnd[i] % 62];
    out[n] = '\0';
}

static void ea_leak(struct ea_fx *fx, const char *v)
{
    CHECK_FATAL(fx->nleaks < EA_LEAKS_MAX && strlen(v) >= 16 && strlen(v) < sizeof(fx->leaks[0]));
    snprintf(fx->leaks[fx->nleaks++], sizeof(fx->leaks[0]), "%s", v);
}

/* "Basic <base64(user:pass)>", as the receiver must see it. */
static void ea_basic(const char *user, const char *pass, char *out, size_t cap)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char plain[128];
    int n = snprintf(plain, sizeof(plain), "%s:%s", user, pass);
    CHECK_FATAL(n > 0 && (size_t)n < sizeof(plain) && cap > 6 + (size_t)(n + 2) / 3 * 4);
    size_t o = (size_t)snprintf(out, cap, "Basic ");
    for (int i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)plain[i] << 16 | (i + 1 < n ? (unsigned char)plain[i + 1] << 8 : 0) |
                     (i + 2 < n ? (unsigned char)plain[i + 2] : 0);
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = '\0';
}

static bool ea_clean(const struct ea_fx *fx, const char *what, const char *text)
{
    bool clean = true;
    for (int i = 0; i < fx->nleaks; i++) {
        if (strstr(text, fx->leaks[i]) != NULL) {
            fprintf(stderr, "%s shows a credential (#%d of the list)\n", what, i);
            clean = false;
        }
    }
    return clean;
}

/* Every lifecycle event written so far is on hookline.webhooks. */
static void ea_published(struct ea_fx *fx)
{
    CHECK(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM outbox WHERE sent_at IS NULL", NULL, NULL, NULL) == 0,
                  EA_WAIT_MS));
}

/* Publish an event of 'key''s tenant until one reaches 'path' with
 * Authorization 'want' (NULL: none): the dispatcher has read the last
 * change. Then the next event must arrive so too. Returns whether it did. */
static bool ea_until_auth(struct ea_fx *fx, const char *key, const char *path, const char *want)
{
    ea_published(fx);
    long long deadline = hx_now_ms() + EA_WAIT_MS;
    bool seen = false;
    for (int n = 100; !seen && hx_now_ms() < deadline; n++) {
        char id[64];
        ops_event(fx->st, key, "booking.scheduled", n, id, sizeof(id));
        if (!HX_WAIT(de_count(fx->r, path, id) >= 1, EA_WAIT_MS))
            break;
        struct hx_received *rec = de_find(fx->r, path, id, 0);
        const char *got = rec ? de_hdr(rec, "authorization") : NULL;
        seen = want ? got && strcmp(got, want) == 0 : got == NULL;
        hx_received_free(rec);
    }
    CHECK(seen);
    char id[64];
    ops_event(fx->st, key, "booking.scheduled", 1, id, sizeof(id));
    bool got = HX_WAIT(de_count(fx->r, path, id) >= 1, EA_WAIT_MS);
    CHECK(got);
    struct hx_received *rec = got ? de_find(fx->r, path, id, 0) : NULL;
    const char *h = rec ? de_hdr(rec, "authorization") : NULL;
    bool ok = rec && (want ? h && strcmp(h, want) == 0 : h == NULL);
    if (!ok)
        fprintf(stderr, "%s: Authorization %s, expected %s\n", path, h ? "(a value)" : "none", want ? "(a value)" : "none");
    CHECK(ok);
    hx_received_free(rec);
    return seen && ok;
}

/* ---- set-up ---- */

static void ea_populate(struct ea_fx *fx)
{
    const char *url = hx_receiver_url(fx->r);
    de_tenant_new(fx->st, "acme", fx->key_a, sizeof(fx->key_a));
    de_tenant_new(fx->st, "globex", fx->key_g, sizeof(fx->key_g));
    ea_random(fx->user, 20);
    ea_random(fx->pass, 32);
    ea_random(fx->token, 40);
    de_webhook_new(fx->st, fx->key_a, &fx->a,
                   "{\"name\":\"a\",\"url\":\"%s/a\",\"events\":\"booking\","
                   "\"auth\":{\"type\":\"basic\",\"username\":\"%s\",\"password\":\"%s\"}}",
                   url, fx->user, fx->pass);
    de_webhook_new(fx->st, fx->key_a, &fx->b,
                   "{\"name\":\"b\",\"events\":\"booking\",\"headers\":{\"X-Team\":\"ops\"},\"endpoints\":["
                   "{\"url\":\"%s/b1\",\"auth\":{\"type\":\"bearer\",\"token\":\"%s\"}},{\"url\":\"%s/b2\"}]}",
                   url, fx->token, url);
    char basic[128];
    ea_basic(fx->user, fx->pass, basic, sizeof(basic));
    ea_leak(fx, fx->user);
    ea_leak(fx, fx->pass);
    ea_leak(fx, fx->token);
    ea_leak(fx, basic + 6);
}

/* ---- what the api shows ---- */

/* The answer 'resp' shows credentials of type 'type' (NULL: none) on
 * endpoint 'i' (and at the top for i == 0), and no value anywhere. */
static void ea_check_shown(struct ea_fx *fx, const json_t *wh, size_t i, const char *type)
{
    const json_t *ep = json_array_get(json_object_get(wh, "endpoints"), i);
    const json_t *auth = json_object_get(ep, "auth");
    if (type) {
        CHECK(json_is_object(auth) && json_object_size(auth) == 1);
        CHECK_EQ_STR(e2e_str(auth, "type"), type);
    } else {
        CHECK(json_is_null(auth));
    }
    if (i == 0)
        CHECK(json_equal(json_object_get(wh, "auth"), auth));
    char *text = json_dumps(wh, JSON_COMPACT);
    CHECK(text && ea_clean(fx, "the api's answer", text));
    free(text);
}

static void ea_check_api(struct ea_fx *fx)
{
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks/%s", fx->a.id), 200);
    ea_check_shown(fx, resp.json, 0, "basic");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks/%s", fx->b.id), 200);
    ea_check_shown(fx, resp.json, 0, "bearer");
    ea_check_shown(fx, resp.json, 1, NULL);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "/v1/webhooks"), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 2);
    CHECK(resp.body && ea_clean(fx, "the list", resp.body));
    CHECK(resp.body && strstr(resp.body, "\"auth\":{\"type\":\"basic\"}") != NULL);
    hx_resp_free(&resp);
}

static void ea_check_other_tenant(struct ea_fx *fx)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx->a.id);
    E2E_EXPECT(fx->st, "GET", fx->key_g, path, NULL, 404, "Webhook not found.");
    E2E_EXPECT(fx->st, "PATCH", fx->key_g, path, "{\"auth\":{\"type\":\"bearer\",\"token\":\"stolen\"}}", 404,
               "Webhook not found.");
    E2E_EXPECT(fx->st, "PATCH", fx->key_g, path, "{\"auth\":null}", 404, "Webhook not found.");
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_g, NULL, &resp, "/v1/webhooks"), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 0);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx->st, "GET", fx->key_a, NULL, &resp, "%s", path), 200);
    ea_check_shown(fx, resp.json, 0, "basic");
    hx_resp_free(&resp);
}

static void ea_check_refusals(struct ea_fx *fx)
{
    const char *url = hx_receiver_url(fx->r);
    char body[8192], big[1100];
    memset(big, 'x', 1025);
    big[1025] = '\0';
    static const struct {
        const char *fmt, *prefix;
    } cases[] = {
        {"{\"name\":\"r\",\"url\":\"%s/r\",\"events\":\"booking\",\"headers\":{\"authorization\":\"Bearer x\"},"
         "\"auth\":{\"type\":\"bearer\",\"token\":\"t\"}}", "\"auth\": endpoint"},
        {"{\"name\":\"r\",\"events\":\"booking\",\"endpoints\":[{\"url\":\"%s/r\",\"headers\":{\"Authorization\":\"x\"},"
         "\"auth\":{\"type\":\"bearer\",\"token\":\"t\"}}]}", "\"auth\": endpoint"},
        {"{\"name\":\"r\",\"url\":\"%s/r\",\"events\":\"booking\",\"auth\":{\"type\":\"basic\",\"username\":\"a:b\","
         "\"password\":\"p\"}}", "\"auth.username\""},
        {"{\"name\":\"r\",\"url\":\"%s/r\",\"events\":\"booking\",\"auth\":{\"type\":\"bearer\",\"token\":\"a\\r\\nX-Evil: 1\"}}",
         "\"auth.token\""},
        {"{\"name\":\"r\",\"url\":\"%s/r\",\"events\":\"booking\",\"auth\":{\"type\":\"basic\",\"username\":\"u\","
         "\"password\":\"p\\nq\"}}", "\"auth.password\""},
        {"{\"name\":\"r\",\"url\":\"%s/r\",\"events\":\"booking\",\"auth\":{\"type\":\"digest\"}}", "\"auth.type\""},
        {"{\"name\":\"r\",\"url\":\"%s/r\",\"events\":\"booking\",\"auth\":{\"type\":\"basic\"}}", "\"auth\": endpoint"},
        {"{\"name\":\"r\",\"events\":\"booking\",\"endpoints\":[{\"url\":\"%s/r\"}],\"auth\":{\"type\":\"bearer\","
         "\"token\":\"t\"}}", "Give \"auth\" with \"url\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(body, sizeof(body), cases[i].fmt, url);
        E2E_EXPECT(fx->st, "POST", fx->key_a, "/v1/webhooks", body, 400, cases[i].prefix);
    }
    snprintf(body, sizeof(body), "{\"name\":\"r\",\"url\":\"%s/r\",\"events\":\"booking\",\"auth\":{\"type\":\"basic\","
             "\"username\":\"u\",\"password\":\"%s\"}}", url, big);
    E2E_EXPECT(fx->st, "POST", fx->key_a, "/v1/webhooks", body, 400, "\"auth.password\" must be a string of at most 1024");
    big[1024] = '\0';
    snprintf(body, sizeof(body), "{\"name\":\"r\",\"url\":\"%s/r\",\"events\":\"booking\",\"auth\":{\"type\":\"basic\","
             "\"username\":\"u\",\"password\":\"%s\"}}", url, big);
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx->st, "POST", fx->key_a, body, &resp, "/v1/webhooks"), 201);
    char path[128];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", e2e_str(resp.json, "id") ? e2e_str(resp.json, "id") : "none");
    hx_resp_free(&resp);
    E2E_EXPECT(fx->st, "DELETE", fx->key_a, path, NULL, 200, NULL);
    /* a clash made by a later PATCH of the headers */
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx->a.id);
    E2E_EXPECT(fx->st, "PATCH", fx->key_a, path, "{\"headers\":{\"Authorization\":\"x\"}}", 400, "\"auth\": endpoint");
}

/* ---- deliveries ---- */

static void ea_check_deliveries(struct ea_fx *fx, bool with_retries)
{
    char basic[128], bearer[80];
    ea_basic(fx->user, fx->pass, basic, sizeof(basic));
    snprintf(bearer, sizeof(bearer), "Bearer %s", fx->token);
    if (with_retries)
        hx_receiver_respond(fx->r, "/a", 500, 2, NULL);
    char id[64];
    ops_event(fx->st, fx->key_a, "booking.scheduled", 1, id, sizeof(id));
    size_t want = with_retries ? 3 : 1;
    CHECK(HX_WAIT(de_count(fx->r, "/a", id) >= want, EA_WAIT_MS));
    CHECK(HX_WAIT(de_count(fx->r, "/b1", id) >= 1 && de_count(fx->r, "/b2", id) >= 1, EA_WAIT_MS));
    for (size_t k = 0; k < want; k++) {
        struct hx_received *rec = de_find(fx->r, "/a", id, k);
        CHECK(rec != NULL);
        if (rec == NULL)
            continue;
        CHECK_EQ_STR(de_hdr(rec, "authorization"), basic);
        CHECK(de_signed_by(rec, fx->a.secret));
        if (with_retries)
            CHECK_EQ_INT(rec->status, k < 2 ? 500 : 200);
        hx_received_free(rec);
    }
    struct hx_received *rec = de_find(fx->r, "/b1", id, 0);
    CHECK(rec && de_hdr(rec, "authorization") && strcmp(de_hdr(rec, "authorization"), bearer) == 0);
    CHECK(rec && de_hdr(rec, "x-team") && strcmp(de_hdr(rec, "x-team"), "ops") == 0);
    hx_received_free(rec);
    rec = de_find(fx->r, "/b2", id, 0);
    CHECK(rec && de_hdr(rec, "authorization") == NULL);
    hx_received_free(rec);
}

/* ---- at rest ---- */

/* PostgreSQL holds each credential sealed under 'key_id', opening to it. */
static void ea_check_sealed(struct ea_fx *fx, const char *ring, const char *key_id)
{
    const char *params[2] = {fx->a.id, fx->b.id};
    PGresult *res = PQexecParams(fx->pg,
                                 "SELECT endpoints->0->'auth'->>'username', endpoints->0->'auth'->>'password', "
                                 "endpoints->0->'auth'->>'type' FROM webhooks WHERE id = $1 UNION ALL "
                                 "SELECT endpoints->0->'auth'->>'token', NULL, endpoints->0->'auth'->>'type' "
                                 "FROM webhooks WHERE id = $2",
                                 2, NULL, params, NULL, NULL, 0);
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 2);
    char prefix[64], field[3][128];
    snprintf(prefix, sizeof(prefix), "hlenc:v1:%s:", key_id);
    snprintf(field[0], sizeof(field[0]), "endpoints/%s/auth/username", fx->a.ep[0]);
    snprintf(field[1], sizeof(field[1]), "endpoints/%s/auth/password", fx->a.ep[0]);
    snprintf(field[2], sizeof(field[2]), "endpoints/%s/auth/token", fx->b.ep[0]);
    const struct {
        int row, col;
        const char *id, *field, *plain;
    } want[] = {
        {0, 0, fx->a.id, field[0], fx->user},
        {0, 1, fx->a.id, field[1], fx->pass},
        {1, 0, fx->b.id, field[2], fx->token},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *v = PQgetvalue(res, want[i].row, want[i].col);
        char *plain = hx_unseal(ring, "acme", want[i].id, want[i].field, v);
        CHECK(strncmp(v, prefix, strlen(prefix)) == 0);
        CHECK(plain != NULL && strcmp(plain, want[i].plain) == 0);
        if (plain == NULL || strcmp(plain, want[i].plain) != 0)
            fprintf(stderr, "%s %s does not open to its value with key %s\n", want[i].id, want[i].field, key_id);
        free(plain);
    }
    CHECK_EQ_STR(PQgetvalue(res, 0, 2), "basic");
    CHECK_EQ_STR(PQgetvalue(res, 1, 2), "bearer");
    PQclear(res);
}

static bool ea_log_clean(const void *fx, const char *name, const char *text)
{
    return ea_clean(fx, name, text);
}

static void ea_check_logs(struct ea_fx *fx)
{
    CHECK(ops_each_log_clean(hx_artifacts_dir(fx->st), ea_log_clean, fx) >= 3);
}

/* pg_dump of the whole database, the whole topic and every log. */
static void ea_check_no_leaks(struct ea_fx *fx, const char *key_id)
{
    char path[PATH_MAX + 32], prefix[64];
    snprintf(path, sizeof(path), "%s/dump-%s.sql", hx_artifacts_dir(fx->st), key_id);
    snprintf(prefix, sizeof(prefix), "hlenc:v1:%s:", key_id);
    const char *const args[] = {"pg_dump", "--dbname", hx_db_conninfo(fx->st), "--file", path, NULL};
    struct ops_run run;
    ops_run_path(hx_artifacts_dir(fx->st), "pg-dump", "/usr/bin/env", args, NULL, 60000, &run);
    if (run.status != 0)
        fprintf(stderr, "pg_dump: %s", run.err);
    CHECK_FATAL(run.status == 0);
    char *dump = ops_read_file(path, NULL);
    CHECK_FATAL(dump != NULL);
    CHECK(strstr(dump, fx->a.id) != NULL && strstr(dump, prefix) != NULL && strstr(dump, "\"auth\"") != NULL);
    CHECK(ea_clean(fx, "pg_dump", dump));
    printf("pg_dump: %zu bytes, no credential in them\n", strlen(dump));
    free(dump);

    ea_published(fx);
    struct e2e_consumer *c = e2e_consumer_new(hx_brokers(fx->st), "hookline.webhooks");
    CHECK(e2e_consume_until(c, "webhook.id", fx->a.id, 1, EA_WAIT_MS));
    CHECK(e2e_consume_until(c, "webhook.id", fx->b.id, 1, EA_WAIT_MS));
    e2e_consumer_poll(c, 500);
    char *topic = json_dumps(c->msgs, JSON_COMPACT);
    CHECK(topic != NULL && strstr(topic, "\"auth\":{") != NULL);
    CHECK(topic != NULL && ea_clean(fx, "hookline.webhooks", topic));
    printf("hookline.webhooks: %zu messages, no credential in them\n", json_array_size(c->msgs));
    free(topic);
    e2e_consumer_free(c);
    ea_check_logs(fx);
}

/* A plain credential written by SQL is refused by PostgreSQL itself. */
static void ea_check_plain_refused(struct ea_fx *fx)
{
    const char *params[1] = {fx->a.id};
    PGresult *res = PQexecParams(fx->pg,
                                 "UPDATE webhooks SET endpoints = jsonb_set(endpoints, '{0,auth,password}', "
                                 "'\"plain-password\"') WHERE id = $1",
                                 1, NULL, params, NULL, NULL, 0);
    CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR);
    CHECK(PQresultErrorField(res, PG_DIAG_SQLSTATE) && strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23514") == 0);
    PQclear(res);
    res = PQexecParams(fx->pg,
                       "INSERT INTO outbox (webhook_id, tenant_id, kind, payload) VALUES ($1, 'acme', 'webhook.updated', "
                       "'{\"webhook\":{\"endpoints\":[{\"id\":\"ep_x\",\"auth\":{\"type\":\"bearer\",\"token\":\"t\"}}]}}')",
                       1, NULL, params, NULL, NULL, 0);
    CHECK(PQresultStatus(res) == PGRES_FATAL_ERROR);
    CHECK(PQresultErrorField(res, PG_DIAG_SQLSTATE) && strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "23514") == 0);
    PQclear(res);
}

/* ---- processes ---- */

static void ea_start_dispatcher(struct ea_fx *fx)
{
    fx->dsp = hx_dispatcher_start(fx->st, NULL);
    CHECK_FATAL(HX_WAIT(ops_status(hx_dispatcher_url(fx->st, fx->dsp), "/readyz") == 200, EA_WAIT_MS));
}

static void ea_use_keys(struct ea_fx *fx, const char *ring)
{
    char env[512];
    snprintf(env, sizeof(env), "HOOKLINE_SECRETS_KEY=%s", ring);
    hx_stack_setenv(fx->st, env);
    CHECK_EQ_INT(hx_api_restart(fx->st), 0);
    CHECK_FATAL(hx_proc_kill(fx->st, fx->dsp, SIGTERM) == 0);
    CHECK_EQ_INT(hx_proc_wait(fx->st, fx->dsp, 30000), 0);
    ea_start_dispatcher(fx);
}

static json_t *ea_rotate(struct ea_fx *fx, const char *ring, int *status)
{
    char db[1200], brokers[300], keys[512];
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(fx->st));
    snprintf(brokers, sizeof(brokers), "HOOKLINE_KAFKA_BROKERS=%s", hx_brokers(fx->st));
    snprintf(keys, sizeof(keys), "HOOKLINE_SECRETS_KEY=%s", ring);
    const char *const env[] = {db, brokers, keys, NULL};
    const char *const args[] = {"rotate-secrets-key", NULL};
    struct ops_run run;
    ops_run_prog(hx_artifacts_dir(fx->st), "hookline-api", args, env, 60000, &run);
    *status = run.status;
    printf("rotate-secrets-key: exit %d: %s", run.status, run.out);
    CHECK(ea_clean(fx, "rotate-secrets-key's output", run.out) && ea_clean(fx, "rotate-secrets-key's errors", run.err));
    return json_loads(run.out, JSON_DISABLE_EOF_CHECK, NULL);
}

int main(void)
{
    struct ea_fx fx = {0};
    struct hx_stack_opts opts = {.dispatchers = 0, .env = {"HOOKLINE_RETRY_SCHEDULE=1s,1s,1s", NULL}};
    fx.st = hx_stack_start(&opts);
    fx.r = hx_receiver_start(NULL);
    fx.pg = hx_pg_connect(fx.st);
    snprintf(fx.t1, sizeof(fx.t1), "%s", hx_secrets_key(fx.st));
    ea_start_dispatcher(&fx);

    E2E_SECTION("a Basic endpoint (url form) and a Bearer one beside one without credentials");
    ea_populate(&fx);
    ea_published(&fx);

    E2E_SECTION("GET and the list show the type only; another tenant cannot see or change them");
    ea_check_api(&fx);
    ea_check_other_tenant(&fx);

    E2E_SECTION("limits, characters and a clash with an Authorization header: 400 naming the field");
    ea_check_refusals(&fx);

    E2E_SECTION("every attempt carries the credentials, the two retries after 500s too");
    ea_check_deliveries(&fx, true);

    E2E_SECTION("pg_dump, hookline.webhooks and every log hold none; the sealed values open to them");
    ea_check_sealed(&fx, fx.t1, "t1");
    ea_check_no_leaks(&fx, "t1");
    ea_check_plain_refused(&fx);

    E2E_SECTION("PATCH: another type, removed, set again; the GET representation sent back keeps them");
    char path[128], want[128], body[512];
    snprintf(path, sizeof(path), "/v1/webhooks/%s", fx.a.id);
    char token2[48];
    ea_random(token2, 40);
    ea_leak(&fx, token2);
    snprintf(body, sizeof(body), "{\"auth\":{\"type\":\"bearer\",\"token\":\"%s\"}}", token2);
    E2E_EXPECT(fx.st, "PATCH", fx.key_a, path, body, 200, NULL);
    snprintf(want, sizeof(want), "Bearer %s", token2);
    ea_until_auth(&fx, fx.key_a, "/a", want);
    E2E_EXPECT(fx.st, "PATCH", fx.key_a, path, "{\"auth\":null}", 200, NULL);
    ea_until_auth(&fx, fx.key_a, "/a", NULL);
    snprintf(body, sizeof(body), "{\"auth\":{\"type\":\"basic\",\"username\":\"%s\",\"password\":\"%s\"}}", fx.user,
             fx.pass);
    E2E_EXPECT(fx.st, "PATCH", fx.key_a, path, body, 200, NULL);
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx.st, "GET", fx.key_a, NULL, &resp, "%s", path), 200);
    char *shown = json_dumps(resp.json, JSON_COMPACT);
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx.st, "PUT", fx.key_a, shown, &resp, "%s", path), 200);
    ea_check_shown(&fx, resp.json, 0, "basic");
    hx_resp_free(&resp);
    free(shown);
    ea_basic(fx.user, fx.pass, want, sizeof(want));
    ea_until_auth(&fx, fx.key_a, "/a", want);

    E2E_SECTION("rotate-secrets-key seals them under a new key; with the old key gone they are still sent");
    hx_secrets_key_new("t2", fx.t2, sizeof(fx.t2));
    char ring[300];
    snprintf(ring, sizeof(ring), "%s,%s", fx.t2, fx.t1);
    ea_use_keys(&fx, ring);
    int status = -1;
    json_t *counts = ea_rotate(&fx, ring, &status);
    CHECK_EQ_INT(status, 0);
    CHECK_EQ_INT(e2e_int(counts, "webhooks"), 2);
    CHECK_EQ_INT(e2e_int(counts, "failed"), 0);
    json_decref(counts);
    CHECK_EQ_INT(de_pg_long(fx.pg, "SELECT count(*) FROM webhooks WHERE endpoints::text LIKE '%hlenc:v1:t1:%'", NULL,
                            NULL, NULL), 0);
    CHECK_EQ_INT(de_pg_long(fx.pg, "SELECT count(*) FROM outbox WHERE payload::text LIKE '%hlenc:v1:t1:%'", NULL,
                            NULL, NULL), 0);
    ea_check_sealed(&fx, fx.t2, "t2");
    ea_use_keys(&fx, fx.t2);
    ea_check_deliveries(&fx, false);
    ea_check_api(&fx);
    ea_check_no_leaks(&fx, "t2");

    PQfinish(fx.pg);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    hx_receiver_stop(fx.r);
    return check_exit();
}
