/* test_ops_secrets.c: webhook secrets and endpoint credentials are sealed at
 * rest, and the key can be changed.
 *
 * Two tenants' webhooks with secrets and credential headers (on the
 * webhook and on an endpoint), one secret rotated so a previous secret
 * exists. Then:
 * - a pg_dump of the whole database, every message on hookline.webhooks
 *   and every process log show none of the secrets (nor their base64),
 *   none of the header values, and not the base64 of any secrets key; the
 *   sealed values are there, and open (with GnuTLS alone, from the format
 *   the README gives) to the real values, each for its webhook and field;
 * - deliveries carry the credentials and are signed with the real secrets
 *   (the rotated webhook's with both);
 * - with a new key put first, `hookline-api rotate-secrets-key` seals every
 *   webhook and outbox row under it and prints the counts (a second run
 *   finds nothing); with the old key then removed from every process,
 *   deliveries still verify and the api still reads every webhook;
 * - a sealed secret copied with SQL from one tenant's webhook into another
 *   tenant's row does not open (its associated data names the other
 *   webhook): the api answers 500 for that webhook and logs why, a
 *   dispatcher leaves it out of its index (logged, counted in /metrics)
 *   and delivers nothing to it rather than sign with the other secret,
 *   rotate-secrets-key names it and exits 1; the other webhooks go on;
 * - without HOOKLINE_SECRETS_KEY, or with a bad one, the dispatcher and
 *   rotate-secrets-key stop at once with one line naming it.
 */
#include <math.h>
#include <signal.h>
#include <sys/random.h>

#include "dispatch_e2e.h"
#include "ops_e2e.h"

#define SC_WAIT_MS 30000
#define SC_LEAKS_MAX 16

struct sc_fx {
    struct hx_stack *st;
    struct hx_receiver *r;
    PGconn *pg;
    char key_a[128], key_g[128];        /* tenants acme and globex */
    struct de_webhook a, g;             /* a: two endpoints, rotated; g: one endpoint */
    char a_old[128];                    /* a's secret before the rotation */
    char cred_web[64], cred_ep[64], cred_g[64];
    char t1[128], t2[128];              /* the stack's first key, and the next one */
    char leaks[SC_LEAKS_MAX][160];      /* what must never show at rest */
    int nleaks;
    pid_t dsp;
};

static void sc_random(char *out, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char rnd[64];
    CHECK_FATAL(n < sizeof(rnd) && getrandom(rnd, n, 0) == (ssize_t)n);
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[rnd[i] % 62];
    out[n] = '\0';
}

static void sc_leak(struct sc_fx *fx, const char *v)
{
    CHECK_FATAL(fx->nleaks < SC_LEAKS_MAX && strlen(v) >= 16);
    snprintf(fx->leaks[fx->nleaks++], sizeof(fx->leaks[0]), "%s", v);
}

/* A secret and its base64 part, which shows even if the prefix is cut. */
static void sc_leak_secret(struct sc_fx *fx, const char *secret)
{
    sc_leak(fx, secret);
    sc_leak(fx, secret + 6);
}

/* The base64 part of a key ring entry "<id>:<base64>". */
static void sc_leak_key(struct sc_fx *fx, const char *entry)
{
    sc_leak(fx, strchr(entry, ':') + 1);
}

/* None of the secrets shows in 'text'. */
static bool sc_clean(const struct sc_fx *fx, const char *what, const char *text)
{
    bool clean = true;
    for (int i = 0; i < fx->nleaks; i++) {
        if (strstr(text, fx->leaks[i]) != NULL) {
            fprintf(stderr, "%s shows a secret (#%d of the list)\n", what, i);
            clean = false;
        }
    }
    return clean;
}

static void sc_env_key(char *out, size_t cap, const char *ring)
{
    snprintf(out, cap, "HOOKLINE_SECRETS_KEY=%s", ring);
}

/* ---- set-up ---- */

static void sc_populate(struct sc_fx *fx)
{
    const char *url = hx_receiver_url(fx->r);
    de_tenant_new(fx->st, "acme", fx->key_a, sizeof(fx->key_a));
    de_tenant_new(fx->st, "globex", fx->key_g, sizeof(fx->key_g));
    char r1[40], r2[40], r3[40];
    sc_random(r1, 32);
    sc_random(r2, 32);
    sc_random(r3, 32);
    snprintf(fx->cred_web, sizeof(fx->cred_web), "Bearer %s", r1);
    snprintf(fx->cred_ep, sizeof(fx->cred_ep), "%s", r2);
    snprintf(fx->cred_g, sizeof(fx->cred_g), "%s", r3);
    de_webhook_new(fx->st, fx->key_a, &fx->a,
                   "{\"name\":\"a\",\"events\":\"booking\",\"headers\":{\"Authorization\":\"%s\"},"
                   "\"endpoints\":[{\"url\":\"%s/a1\",\"headers\":{\"X-Api-Key\":\"%s\"}},{\"url\":\"%s/a2\"}]}",
                   fx->cred_web, url, fx->cred_ep, url);
    de_webhook_new(fx->st, fx->key_g, &fx->g,
                   "{\"name\":\"g\",\"url\":\"%s/g\",\"events\":[\"booking\"],\"headers\":{\"X-Token\":\"%s\"}}", url,
                   fx->cred_g);
    snprintf(fx->a_old, sizeof(fx->a_old), "%s", fx->a.secret);
    struct hx_resp resp;
    CHECK_FATAL(hx_api(fx->st, "POST", fx->key_a, NULL, &resp, "/v1/webhooks/%s/rotate-secret", fx->a.id) == 200);
    snprintf(fx->a.secret, sizeof(fx->a.secret), "%s", e2e_str(resp.json, "secret"));
    hx_resp_free(&resp);
    sc_leak_secret(fx, fx->a_old);
    sc_leak_secret(fx, fx->a.secret);
    sc_leak_secret(fx, fx->g.secret);
    sc_leak(fx, r1);
    sc_leak(fx, fx->cred_ep);
    sc_leak(fx, fx->cred_g);
    sc_leak_key(fx, fx->t1);
    /* every lifecycle event published */
    CHECK_FATAL(HX_WAIT(de_pg_long(fx->pg, "SELECT count(*) FROM outbox WHERE sent_at IS NULL", NULL, NULL, NULL) == 0,
                        SC_WAIT_MS));
}

/* ---- at rest ---- */

/* Every value at rest of webhook 'id' opens with 'ring' alone to what its
 * tenant set. */
static void sc_check_sealed(struct sc_fx *fx, const char *ring, const char *key_id)
{
    const char *params[2] = {fx->a.id, fx->g.id};
    PGresult *res = PQexecParams(fx->pg,
                                 "SELECT id, tenant_id, secret, previous_secret, headers->>'Authorization', "
                                 "endpoints->0->'headers'->>'X-Api-Key', headers->>'X-Token' FROM webhooks "
                                 "WHERE id IN ($1, $2) ORDER BY tenant_id",
                                 2, NULL, params, NULL, NULL, 0);
    CHECK_FATAL(PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 2);
    struct {
        int row, col;
        const char *id, *tenant, *field, *plain;
    } want[] = {
        {0, 2, fx->a.id, "acme", "secret", fx->a.secret},
        {0, 3, fx->a.id, "acme", "previous_secret", fx->a_old},
        {0, 4, fx->a.id, "acme", "headers/Authorization", fx->cred_web},
        {0, 5, fx->a.id, "acme", NULL, fx->cred_ep},
        {1, 2, fx->g.id, "globex", "secret", fx->g.secret},
        {1, 6, fx->g.id, "globex", "headers/X-Token", fx->cred_g},
    };
    char epfield[128];
    snprintf(epfield, sizeof(epfield), "endpoints/%s/headers/X-Api-Key", fx->a.ep[0]);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "hlenc:v1:%s:", key_id);
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *v = PQgetvalue(res, want[i].row, want[i].col);
        const char *field = want[i].field ? want[i].field : epfield;
        char *plain = hx_unseal(ring, want[i].tenant, want[i].id, field, v);
        CHECK(strncmp(v, prefix, strlen(prefix)) == 0);
        CHECK(plain != NULL && strcmp(plain, want[i].plain) == 0);
        if (plain == NULL || strcmp(plain, want[i].plain) != 0)
            fprintf(stderr, "%s %s does not open to its value with key %s\n", want[i].id, field, key_id);
        free(plain);
    }
    PQclear(res);
}

/* Every log the harness keeps (the processes' own): no secret. */
static bool sc_log_clean(const void *fx, const char *name, const char *text)
{
    return sc_clean(fx, name, text);
}

static void sc_check_logs(struct sc_fx *fx)
{
    CHECK(ops_each_log_clean(hx_artifacts_dir(fx->st), sc_log_clean, fx) >= 3);
}

/* pg_dump of the whole database, the whole topic and every process log:
 * no secret; the sealed values are there. */
static void sc_check_no_leaks(struct sc_fx *fx, const char *key_id)
{
    char path[PATH_MAX + 32], prefix[64];
    snprintf(path, sizeof(path), "%s/dump.sql", hx_artifacts_dir(fx->st));
    snprintf(prefix, sizeof(prefix), "hlenc:v1:%s:", key_id);
    const char *const args[] = {"pg_dump", "--dbname", hx_db_conninfo(fx->st), "--file", path, NULL};
    struct ops_run run;
    ops_run_path(hx_artifacts_dir(fx->st), "pg-dump", "/usr/bin/env", args, NULL, 60000, &run);
    if (run.status != 0)
        fprintf(stderr, "pg_dump: %s", run.err);
    CHECK_FATAL(run.status == 0);
    char *dump = ops_read_file(path, NULL);
    CHECK_FATAL(dump != NULL);
    CHECK(strstr(dump, fx->a.id) != NULL && strstr(dump, fx->g.id) != NULL && strstr(dump, prefix) != NULL);
    CHECK(sc_clean(fx, "pg_dump", dump));
    printf("pg_dump: %zu bytes, no secret in them\n", strlen(dump));
    free(dump);

    struct e2e_consumer *c = e2e_consumer_new(hx_brokers(fx->st), "hookline.webhooks");
    CHECK(e2e_consume_until(c, "webhook.id", fx->a.id, 2, SC_WAIT_MS));
    CHECK(e2e_consume_until(c, "webhook.id", fx->g.id, 1, SC_WAIT_MS));
    e2e_consumer_poll(c, 500);
    char *topic = json_dumps(c->msgs, JSON_COMPACT);
    CHECK(topic != NULL && strstr(topic, "hlenc:v1:") != NULL);
    CHECK(topic != NULL && sc_clean(fx, "hookline.webhooks", topic));
    printf("hookline.webhooks: %zu messages, no secret in them\n", json_array_size(c->msgs));
    free(topic);
    e2e_consumer_free(c);
    sc_check_logs(fx);
}

/* ---- deliveries ---- */

/* An event of each tenant reaches every endpoint with its credentials,
 * signed by the real secrets. */
static void sc_check_deliveries(struct sc_fx *fx)
{
    char ea[64], eg[64];
    ops_event(fx->st, fx->key_a, "booking.scheduled", 1, ea, sizeof(ea));
    ops_event(fx->st, fx->key_g, "booking.scheduled", 2, eg, sizeof(eg));
    static const char *const paths[] = {"/a1", "/a2", "/g"};
    for (size_t i = 0; i < 3; i++) {
        const char *id = i < 2 ? ea : eg;
        bool got = HX_WAIT(de_count(fx->r, paths[i], id) >= 1, SC_WAIT_MS);
        CHECK(got);
        struct hx_received *rec = got ? de_find(fx->r, paths[i], id, 0) : NULL;
        if (rec == NULL) {
            fprintf(stderr, "%s never got %s\n", paths[i], id);
            continue;
        }
        const char *ts = de_hdr(rec, "webhook-timestamp"), *sigs = de_hdr(rec, "webhook-signature");
        int entries = 0;
        if (i < 2) {
            CHECK_EQ_INT(de_sig_matches(fx->a.secret, id, ts, rec->body, rec->len, sigs, &entries), 1);
            CHECK_EQ_INT(de_sig_matches(fx->a_old, id, ts, rec->body, rec->len, sigs, NULL), 1);
            CHECK_EQ_INT(entries, 2);
            CHECK_EQ_STR(de_hdr(rec, "authorization"), fx->cred_web);
            if (i == 0)
                CHECK_EQ_STR(de_hdr(rec, "x-api-key"), fx->cred_ep);
            else
                CHECK(de_hdr(rec, "x-api-key") == NULL);
            CHECK(!de_signed_by(rec, fx->g.secret));
        } else {
            CHECK_EQ_INT(de_sig_matches(fx->g.secret, id, ts, rec->body, rec->len, sigs, &entries), 1);
            CHECK_EQ_INT(entries, 1);
            CHECK_EQ_STR(de_hdr(rec, "x-token"), fx->cred_g);
            CHECK(!de_signed_by(rec, fx->a.secret) && !de_signed_by(rec, fx->a_old));
        }
        hx_received_free(rec);
    }
}

/* ---- processes ---- */

/* A dispatcher, ready: its group assignment has come (a dispatcher that
 * leaves before it has would hold the next one's back for a while). */
static void sc_start_dispatcher(struct sc_fx *fx)
{
    fx->dsp = hx_dispatcher_start(fx->st, NULL);
    CHECK_FATAL(HX_WAIT(ops_status(hx_dispatcher_url(fx->st, fx->dsp), "/readyz") == 200, SC_WAIT_MS));
}

static void sc_restart_dispatcher(struct sc_fx *fx)
{
    CHECK_FATAL(hx_proc_kill(fx->st, fx->dsp, SIGTERM) == 0);
    CHECK_EQ_INT(hx_proc_wait(fx->st, fx->dsp, 30000), 0);
    sc_start_dispatcher(fx);
}

/* Give every process 'ring' from now on, and restart them. */
static void sc_use_keys(struct sc_fx *fx, const char *ring)
{
    char env[512];
    sc_env_key(env, sizeof(env), ring);
    hx_stack_setenv(fx->st, env);
    CHECK_EQ_INT(hx_api_restart(fx->st), 0);
    sc_restart_dispatcher(fx);
}

/* hookline-api rotate-secrets-key with 'ring'; its JSON answer (new
 * reference, NULL if none) and exit status. */
static json_t *sc_rotate(struct sc_fx *fx, const char *ring, int *status, char *err, size_t cap)
{
    char db[1200], brokers[300], keys[512];
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(fx->st));
    snprintf(brokers, sizeof(brokers), "HOOKLINE_KAFKA_BROKERS=%s", hx_brokers(fx->st));
    sc_env_key(keys, sizeof(keys), ring);
    const char *const env[] = {db, brokers, keys, NULL};
    const char *const args[] = {"rotate-secrets-key", NULL};
    struct ops_run run;
    ops_run_prog(hx_artifacts_dir(fx->st), "hookline-api", args, env, 60000, &run);
    *status = run.status;
    if (err)
        snprintf(err, cap, "%s", run.err);
    printf("rotate-secrets-key: exit %d: %s", run.status, run.out);
    return json_loads(run.out, JSON_DISABLE_EOF_CHECK, NULL);
}

static long sc_count(struct sc_fx *fx, const char *sql, const char *p1)
{
    return de_pg_long(fx->pg, sql, p1, NULL, NULL);
}

/* The status of GET 'path' with 'key' (the answer dropped). */
static long sc_get_status(struct sc_fx *fx, const char *key, const char *path)
{
    struct hx_resp resp;
    long status = hx_api(fx->st, "GET", key, NULL, &resp, "%s", path);
    hx_resp_free(&resp);
    return status;
}

/* Series 'series' of the dispatcher's /metrics, NAN if none. */
static double sc_metric(struct sc_fx *fx, const char *series)
{
    char *text = ops_scrape(hx_dispatcher_url(fx->st, fx->dsp));
    double v = text ? ops_metric(text, series) : NAN;
    free(text);
    return v;
}

/* Whether one line of process 'pid''s log holds both 'a' and 'b'. */
static bool sc_log_line_has(struct sc_fx *fx, pid_t pid, const char *a, const char *b)
{
    char *text = ops_read_file(hx_proc_log(fx->st, pid), NULL);
    bool found = false;
    for (char *line = text ? strtok(text, "\n") : NULL; line && !found; line = strtok(NULL, "\n"))
        found = strstr(line, a) != NULL && strstr(line, b) != NULL;
    free(text);
    return found;
}

static void sc_check_refusals(struct sc_fx *fx)
{
    E2E_SECTION("without HOOKLINE_SECRETS_KEY, or with a bad one, the dispatcher and rotate-secrets-key stop at once");
    char db[1200], brokers[300];
    snprintf(db, sizeof(db), "HOOKLINE_DATABASE_URL=%s", hx_db_conninfo(fx->st));
    snprintf(brokers, sizeof(brokers), "HOOKLINE_KAFKA_BROKERS=%s", hx_brokers(fx->st));
    static const char *const keys[][2] = {
        {NULL, "HOOKLINE_SECRETS_KEY is required"},
        {"HOOKLINE_SECRETS_KEY=", "HOOKLINE_SECRETS_KEY is required"},
        {"HOOKLINE_SECRETS_KEY=t1:MDEyMzQ1Njc4OWFiY2RlZg==", "HOOKLINE_SECRETS_KEY: key 1 (\"t1\")"},
        {"HOOKLINE_SECRETS_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "HOOKLINE_SECRETS_KEY: key 1"},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        for (int prog = 0; prog < 2; prog++) {
            const char *const env[] = {db, brokers, "HOOKLINE_METRICS_PORT=0", keys[i][0], NULL};
            const char *const args[] = {"rotate-secrets-key", NULL};
            struct ops_run run;
            ops_run_prog(hx_artifacts_dir(fx->st), prog ? "hookline-api" : "hookline-dispatcher", prog ? args : NULL,
                         env, 30000, &run);
            size_t lines = 0;
            for (const char *p = run.err; *p; p++)
                lines += *p == '\n';
            bool ok = run.status == 1 && lines == 1 && strstr(run.err, keys[i][1]) != NULL &&
                      strstr(run.err, "MDEy") == NULL && run.out[0] == '\0';
            if (!ok)
                fprintf(stderr, "%s with %s: exit %d, stderr: %s", prog ? "rotate-secrets-key" : "hookline-dispatcher",
                        keys[i][0] ? keys[i][0] : "no key", run.status, run.err);
            CHECK(ok);
        }
    }
}

int main(void)
{
    struct sc_fx fx = {0};
    struct hx_stack_opts opts = {.dispatchers = 0, .env = {"HOOKLINE_RETRY_SCHEDULE=1s,2s", NULL}};
    fx.st = hx_stack_start(&opts);
    fx.r = hx_receiver_start(NULL);
    fx.pg = hx_pg_connect(fx.st);
    snprintf(fx.t1, sizeof(fx.t1), "%s", hx_secrets_key(fx.st));
    CHECK_FATAL(strncmp(fx.t1, "t1:", 3) == 0 && strchr(fx.t1, ',') == NULL);
    sc_start_dispatcher(&fx);

    sc_check_refusals(&fx);

    E2E_SECTION("webhooks with secrets and credential headers, one secret rotated: deliveries signed by the real ones");
    sc_populate(&fx);
    sc_check_deliveries(&fx);

    E2E_SECTION("PostgreSQL holds every secret and header value sealed for its webhook and field (key t1)");
    sc_check_sealed(&fx, fx.t1, "t1");
    CHECK_EQ_INT(sc_count(&fx, "SELECT count(*) FROM outbox WHERE payload->'webhook' ? 'secret' "
                               "AND NOT starts_with(payload->'webhook'->>'secret', 'hlenc:v1:t1:')", NULL), 0);

    E2E_SECTION("pg_dump, the whole hookline.webhooks topic and every log show no secret, header value or key");
    sc_check_no_leaks(&fx, "t1");

    E2E_SECTION("a new key first: rotate-secrets-key seals every row under it, and a second run finds nothing");
    hx_secrets_key_new("t2", fx.t2, sizeof(fx.t2));
    sc_leak_key(&fx, fx.t2);
    char ring[300];
    snprintf(ring, sizeof(ring), "%s,%s", fx.t2, fx.t1);
    sc_use_keys(&fx, ring);
    long docs = sc_count(&fx, "SELECT count(*) FROM outbox WHERE payload->'webhook' ? 'secret'", NULL);
    CHECK(docs >= 3); /* a created, g created, a rotated */
    int status = -1;
    json_t *counts = sc_rotate(&fx, ring, &status, NULL, 0);
    CHECK_EQ_INT(status, 0);
    CHECK_EQ_STR(e2e_str(counts, "key"), "t2");
    CHECK_EQ_INT(e2e_int(counts, "checked"), 2 + docs);
    CHECK_EQ_INT(e2e_int(counts, "webhooks"), 2);
    CHECK_EQ_INT(e2e_int(counts, "outbox"), docs);
    CHECK_EQ_INT(e2e_int(counts, "failed"), 0);
    json_decref(counts);
    counts = sc_rotate(&fx, ring, &status, NULL, 0);
    CHECK_EQ_INT(status, 0);
    CHECK_EQ_INT(e2e_int(counts, "checked"), 2 + docs);
    CHECK_EQ_INT(e2e_int(counts, "webhooks"), 0);
    CHECK_EQ_INT(e2e_int(counts, "outbox"), 0);
    json_decref(counts);
    sc_check_sealed(&fx, fx.t2, "t2");
    CHECK_EQ_INT(sc_count(&fx, "SELECT count(*) FROM outbox WHERE payload->'webhook' ? 'secret' "
                               "AND NOT starts_with(payload->'webhook'->>'secret', 'hlenc:v1:t2:')", NULL), 0);
    CHECK_EQ_INT(sc_count(&fx, "SELECT count(*) FROM webhooks WHERE secret LIKE 'hlenc:v1:t1:%' "
                               "OR previous_secret LIKE 'hlenc:v1:t1:%' OR headers::text LIKE '%hlenc:v1:t1:%' "
                               "OR endpoints::text LIKE '%hlenc:v1:t1:%'", NULL), 0);

    E2E_SECTION("the old key removed from every process: deliveries still verify, the api reads every webhook");
    sc_use_keys(&fx, fx.t2);
    sc_check_deliveries(&fx);
    struct hx_resp resp;
    CHECK_EQ_INT(hx_api(fx.st, "GET", fx.key_a, NULL, &resp, "/v1/webhooks/%s", fx.a.id), 200);
    CHECK_EQ_STR(e2e_str(json_object_get(resp.json, "headers"), "Authorization"), fx.cred_web);
    CHECK_EQ_STR(e2e_str(resp.json, "secret"), "redacted");
    hx_resp_free(&resp);
    CHECK_EQ_INT(hx_api(fx.st, "GET", fx.key_g, NULL, &resp, "/v1/webhooks"), 200);
    CHECK_EQ_INT(e2e_int(resp.json, "count"), 1);
    hx_resp_free(&resp);
    sc_check_no_leaks(&fx, "t2");

    E2E_SECTION("a's sealed secret copied into globex's row: it does not open there, and nothing signs with it");
    const char *swap[2] = {fx.a.id, fx.g.id};
    PQclear(PQexecParams(fx.pg, "UPDATE webhooks SET secret = (SELECT secret FROM webhooks WHERE id = $1) WHERE id = $2",
                         2, NULL, swap, NULL, NULL, 0));
    CHECK_EQ_INT(sc_count(&fx, "SELECT count(*) FROM webhooks a, webhooks g WHERE a.id = $1 AND g.id <> a.id AND g.secret = a.secret",
                          fx.a.id), 1);
    char gpath[128], apath[128];
    snprintf(gpath, sizeof(gpath), "/v1/webhooks/%s", fx.g.id);
    snprintf(apath, sizeof(apath), "/v1/webhooks/%s", fx.a.id);
    /* the api's document cache drops it once PostgreSQL says the row changed */
    CHECK(HX_WAIT(sc_get_status(&fx, fx.key_g, gpath) == 500, SC_WAIT_MS));
    CHECK_EQ_INT(hx_api(fx.st, "GET", fx.key_g, NULL, &resp, "%s", gpath), 500);
    CHECK(e2e_error(&resp) && strstr(e2e_error(&resp), "cannot be decrypted") != NULL);
    CHECK(resp.body && sc_clean(&fx, "the 500 answer", resp.body));
    hx_resp_free(&resp);
    CHECK_EQ_INT(sc_get_status(&fx, fx.key_g, "/v1/webhooks"), 500);
    CHECK(sc_log_line_has(&fx, hx_api_pid(fx.st), fx.g.id, "does not open"));
    CHECK_EQ_INT(sc_get_status(&fx, fx.key_a, apath), 200);

    sc_restart_dispatcher(&fx);
    CHECK(HX_WAIT(sc_metric(&fx, "hookline_dispatcher_subscriptions_sealed_shut") == 1, SC_WAIT_MS));
    CHECK(sc_metric(&fx, "hookline_dispatcher_subscriptions") == 1);
    CHECK(sc_log_line_has(&fx, fx.dsp, fx.g.id, "left out of the index"));
    size_t g_before = hx_receiver_count(fx.r, "/g");
    char eg[64], ea[64];
    ops_event(fx.st, fx.key_g, "booking.scheduled", 3, eg, sizeof(eg));
    ops_event(fx.st, fx.key_a, "booking.scheduled", 4, ea, sizeof(ea));
    CHECK(HX_WAIT(de_count(fx.r, "/a1", ea) >= 1 && de_count(fx.r, "/a2", ea) >= 1, SC_WAIT_MS));
    /* both events read and matched: the globex one found nothing to deliver to */
    CHECK(HX_WAIT(sc_metric(&fx, "hookline_dispatcher_events_consumed_total") >= 2, SC_WAIT_MS));
    struct hx_received *rec = de_find(fx.r, "/a1", ea, 0);
    CHECK(rec && de_signed_by(rec, fx.a.secret));
    hx_received_free(rec);
    CHECK_EQ_INT(hx_receiver_count(fx.r, "/g"), g_before);
    CHECK_EQ_INT(sc_count(&fx, "SELECT count(*) FROM attempts WHERE event_id = $1", eg), 0);
    CHECK_EQ_INT(sc_count(&fx, "SELECT count(*) FROM retries WHERE event_id = $1", eg), 0);

    E2E_SECTION("rotate-secrets-key names the row that does not open and exits 1; the others are sealed as they were");
    char err[16384];
    counts = sc_rotate(&fx, fx.t2, &status, err, sizeof(err));
    CHECK_EQ_INT(status, 1);
    CHECK_EQ_INT(e2e_int(counts, "failed"), 1);
    CHECK_EQ_INT(e2e_int(counts, "webhooks"), 0);
    CHECK(strstr(err, fx.g.id) != NULL);
    CHECK(sc_clean(&fx, "rotate-secrets-key's output", err));
    json_decref(counts);
    sc_check_logs(&fx);

    PQfinish(fx.pg);
    CHECK_EQ_INT(hx_stack_stop(fx.st), 0);
    hx_receiver_stop(fx.r);
    return check_exit();
}
