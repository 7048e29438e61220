/* storage.c: section 9, what the attempt log costs PostgreSQL.
 *
 *   9a  bytes of PostgreSQL (tables and their indexes: attempts, bodies,
 *       retries) per delivery recorded through the dispatcher's own
 *       attempt writer (attempts.c), at fan-out 1 and 10, with events of
 *       the run's payload size (512 B unless --payload), and the writer's
 *       attempt rows/s at each fan-out;
 *   9b  p99 of GET /v1/webhooks/{id}/deliveries (one page of 100, the
 *       default) with at least 2 million attempt rows in the table, spread
 *       over 200 webhooks of one tenant and the last 6 days, one request
 *       at a time over one keep-alive connection.
 */
#include "bench.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatcher.h"
#include "hx_int.h"
#include "ids.h"

#define STORE_BATCH 1000
#define STORE_WEBHOOKS 10               /* 9a: the fan-out-10 shape's webhooks */
#define LOG_WEBHOOKS 200                /* 9b */
#define LOG_ROWS 2000000L
#define LOG_REQUESTS 2000

/* ---- 9a --------------------------------------------------------------------- */

struct store {
    struct bench_env *env;
    struct sub subs[STORE_WEBHOOKS];
    struct sub_endpoint eps[STORE_WEBHOOKS];
    char strings[STORE_WEBHOOKS][3][96];
    long seq;
};

static void store_recorded(struct delivery *d, void *arg)
{
    (void)arg;
    payload_unref(d->payload);
    free(d->response);
    free(d);
}

/* An envelope of the run's payload size, with event id 'id'. */
static char *store_body(int bytes, const char *id)
{
    char *body = malloc((size_t)bytes + 256);
    if (body == NULL)
        hx_die("out of memory");
    int n = snprintf(body, 256, "{\"id\":\"%s\",\"type\":\"booking.scheduled\",\"tenant\":\"acme-store\","
                                "\"occurred_at\":\"2026-01-01T00:00:00Z\",\"data\":{\"pad\":\"", id);
    long pad = bytes - n - 3;
    if (pad > 0) {
        memset(body + n, 'x', (size_t)pad);
        n += (int)pad;
    }
    memcpy(body + n, "\"}}", 4);
    return body;
}

/* Tables and indexes of the attempt log, in bytes (every partition). */
static long long store_bytes(PGconn *pg)
{
    return bench_sql_num(pg,
        "SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c WHERE c.relkind = 'r' AND "
        "(c.relname IN ('attempts', 'bodies', 'retries') OR c.oid IN (SELECT i.inhrelid FROM pg_inherits i "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname IN ('attempts', 'bodies')))", 0, NULL);
}

/* 'deliveries' successful first attempts, 'fanout' per event, through
 * attempts.c; *rate gets attempt rows/s. Returns bytes per delivery, or
 * -1. */
static double store_run(struct store *s, int fanout, long deliveries, double *rate)
{
    struct bench_env *env = s->env;
    struct hl_config cfg;
    struct hl_error err = { 0 };
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.database_url, sizeof(cfg.database_url), "%s", hx_db_conninfo(env->st));
    cfg.disable_after_ms = 5L * 86400 * 1000;
    cfg.delivery_timeout_ms = 15000;
    cfg.response_excerpt_bytes = 4096;
    bench_sql(env->pg, "TRUNCATE attempts, retries, endpoint_health", 0, NULL);
    if (bench_sql_num(env->pg, "SELECT count(*) FROM pg_class WHERE relname = 'bodies'", 0, NULL) > 0)
        bench_sql(env->pg, "TRUNCATE bodies", 0, NULL);
    bench_sql(env->pg, "CHECKPOINT", 0, NULL);
    long long empty = store_bytes(env->pg);
    struct attempts *at = attempts_new(&cfg, "hookline-bench-1", NULL, NULL, &err);
    if (at == NULL) {
        report_error("attempts_new: %s", err.msg);
        return -1;
    }
    long done = 0;
    long long busy_us = 0;
    while (done < deliveries) {
        /* build the batch first: only the writer's time is measured */
        for (int i = 0; i < STORE_BATCH && done < deliveries; i += fanout) {
            char id[64];
            snprintf(id, sizeof(id), "evt_store_%d_%09ld", fanout, s->seq++);
            char *body = store_body(env->plan.payload_bytes, id);
            struct payload *p = payload_new(id, "booking.scheduled", body, strlen(body));
            free(body);
            if (p == NULL)
                hx_die("out of memory");
            for (int k = 0; k < fanout && done < deliveries; k++, done++) {
                struct delivery *d = calloc(1, sizeof(*d));
                if (d == NULL)
                    hx_die("out of memory");
                d->sub = &s->subs[k % STORE_WEBHOOKS];
                d->payload = p;
                p->refs++;
                d->attempt = 1;
                d->status = 200;
                d->response = strdup("ok");
                d->response_len = 2;
                d->outcome = DELIVERY_SUCCESS;
                d->sent_ms = bench_wall_us() / 1000;
                d->duration_ms = 12;
                d->retry_after_s = -1;
                if (hl_id_new("dlv_", d->dlv_id, sizeof(d->dlv_id)) < 0)
                    hx_die("no randomness");
                attempts_add(at, d);
            }
            payload_unref(p);
        }
        long long t0 = bench_now_us();
        if (attempts_sync(at, 60000, store_recorded, NULL) < 0) {
            report_error("attempts_sync failed (see stderr)");
            attempts_free(at);
            return -1;
        }
        busy_us += bench_now_us() - t0;
    }
    attempts_free(at);
    *rate = (double)deliveries / ((double)busy_us / 1e6);
    long long used = store_bytes(env->pg) - empty;
    return (double)used / (double)deliveries;
}

static void bench_store(struct bench_env *env)
{
    report_section("9a", "Storage: PostgreSQL bytes per delivery (tables + indexes) and attempt rows/s, through "
                         "attempts.c");
    static struct store s;
    s.env = env;
    for (int i = 0; i < STORE_WEBHOOKS; i++) {
        /* ids and URLs as long as real ones: wh_/ep_ + base62 of 16 random bytes */
        if (hl_id_new("wh_", s.strings[i][0], sizeof(s.strings[i][0])) < 0 ||
            hl_id_new("ep_", s.strings[i][1], sizeof(s.strings[i][1])) < 0)
            hx_die("no randomness");
        snprintf(s.strings[i][2], sizeof(s.strings[i][2]), "https://hooks.example.com/hookline/%d", i);
        s.subs[i].refs = 1;
        s.subs[i].id = s.strings[i][0];
        s.subs[i].tenant = "acme-store";
        s.subs[i].secret = s.subs[i].prev_secret = "";
        s.eps[i].id = s.strings[i][1];
        s.eps[i].url = s.strings[i][2];
        s.subs[i].eps = &s.eps[i];
        s.subs[i].neps = 1;
    }
    long n = env->plan.smoke ? 5000 : 200000;
    static const int fanouts[2] = { 1, 10 };
    for (int f = 0; f < 2; f++) {
        double rate = 0;
        double bytes = store_run(&s, fanouts[f], n, &rate);
        if (bytes < 0)
            return;
        char key[64], label[160];
        snprintf(key, sizeof(key), "bytes_per_delivery_fanout_%d", fanouts[f]);
        snprintf(label, sizeof(label), "bytes of PostgreSQL per delivery, fan-out %d, %d B events", fanouts[f],
                 env->plan.payload_bytes);
        report_fig(key, label, bytes, "B");
        snprintf(key, sizeof(key), "attempt_rows_per_s_fanout_%d", fanouts[f]);
        snprintf(label, sizeof(label), "attempt rows/s through attempts.c, fan-out %d (writer time only)",
                 fanouts[f]);
        report_fig(key, label, rate, "/s");
        if (fanouts[f] == 10)
            report_target("bytes per delivery at fan-out 10", bytes, "B", "<= 200", bytes <= 200);
    }
    report_note("%ld deliveries per fan-out, batches of %d, one transaction each; bytes = growth of "
                "pg_total_relation_size over attempts, bodies and retries (every partition)", n, STORE_BATCH);
    bench_sql(env->pg, "TRUNCATE attempts, retries, endpoint_health", 0, NULL);
}

/* ---- 9b --------------------------------------------------------------------- */

static size_t log_sink(char *ptr, size_t size, size_t n, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * n;
}

static int log_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void bench_log(struct bench_env *env)
{
    report_section("9b", "Storage: GET /v1/webhooks/{id}/deliveries with >= 2 million attempt rows");
    if (bench_sql_num(env->pg, "SELECT count(*) FROM pg_class WHERE relname = 'bodies'", 0, NULL) < 1) {
        report_error("no bodies table: this schema predates 010");
        return;
    }
    long rows = env->plan.smoke ? 20000 : LOG_ROWS;
    int requests = env->plan.smoke ? 100 : LOG_REQUESTS;
    char key[256];
    if (hx_tenant_new(env->st, "log000", "webhooks:read", key, sizeof(key)) < 0 ||
        bench_seed_webhooks(env, "lg", "log", 1, 0, LOG_WEBHOOKS, "{booking}", "/log", 0, false) < 0) {
        report_error("cannot create the tenant and its webhooks");
        return;
    }
    char srows[24], swh[16];
    snprintf(srows, sizeof(srows), "%ld", rows);
    snprintf(swh, sizeof(swh), "%d", LOG_WEBHOOKS);
    const char *params[2] = { srows, swh };
    long long t0 = bench_now_us();
    /* the dispatcher's shape: events of fan-out 10 over the last 6 days, a
     * body per event and day, one failure in 20 with its retry time */
    int rc = bench_sql(env->pg,
        "SELECT hl_partition_add('attempts', hl_utc_day(now()) - d), hl_partition_add('bodies', hl_utc_day(now()) - d) "
        "FROM generate_series(0, 6) d", 0, NULL);
    if (rc == 0)
        rc = bench_sql(env->pg,
            "WITH e AS (SELECT n, now() - (n::double precision / ($1::bigint / 10)) * interval '6 days' AS at "
            "FROM generate_series(0, $1::bigint / 10 - 1) n), "
            "b AS (INSERT INTO bodies (tenant_id, event_id, day, body) "
            "  SELECT 'log000', 'evt_log_' || n, hl_utc_day(at), "
            "  '{\"id\":\"evt_log_' || n || '\",\"type\":\"booking.scheduled\",\"tenant\":\"log000\",\"data\":{\"pad\":\"' "
            "  || repeat('x', 400) || '\"}}' FROM e) "
            "INSERT INTO attempts (sent_at, next_attempt_at, attempt, status_code, duration_ms, success, id, tenant_id, "
            "webhook_id, endpoint_id, endpoint_url, event_id, event_type, response, error, dispatcher) "
            "SELECT at, CASE WHEN (n + k) % 20 = 0 THEN at + interval '5 seconds' END, 1, "
            "CASE WHEN (n + k) % 20 = 0 THEN 500 ELSE 200 END, 12, (n + k) % 20 <> 0, "
            "'dlv_' || md5(n || '.' || k), 'log000', 'wh_lg' || lpad(((n * 10 + k) % $2::int)::text, 7, '0'), "
            "'ep_lg' || lpad(((n * 10 + k) % $2::int)::text, 7, '0'), 'https://hooks.example.com/log', "
            "'evt_log_' || n, 'booking.scheduled', 'ok', CASE WHEN (n + k) % 20 = 0 THEN 'HTTP 500' END, "
            "'hookline-bench-1' FROM e, generate_series(0, 9) k",
            2, params);
    if (rc == 0)
        rc = bench_sql(env->pg, "VACUUM ANALYZE attempts", 0, NULL) | bench_sql(env->pg, "VACUUM ANALYZE bodies", 0, NULL);
    if (rc != 0) {
        report_error("cannot fill the attempt log");
        return;
    }
    long long have = bench_sql_num(env->pg, "SELECT count(*) FROM attempts", 0, NULL);
    report_note("%lld attempt rows written in %.0f s", have, (double)(bench_now_us() - t0) / 1e6);

    CURL *easy = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char auth[300];
    snprintf(auth, sizeof(auth), "x-api-key: %s", key);
    hdrs = curl_slist_append(hdrs, auth);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, log_sink);
    double *ms = calloc((size_t)requests, sizeof(*ms));
    if (ms == NULL)
        hx_die("out of memory");
    int ok = 0;
    unsigned seed = 42;
    /* 100 first, unmeasured: each api session plans the log's queries once */
    for (int i = -100; i < requests; i++) {
        char url[300];
        seed = seed * 1103515245u + 12345u;
        snprintf(url, sizeof(url), "%s/v1/webhooks/wh_lg%07u/deliveries", hx_api_url(env->st),
                 (seed >> 8) % LOG_WEBHOOKS);
        curl_easy_setopt(easy, CURLOPT_URL, url);
        long long a = bench_now_us();
        CURLcode cc = curl_easy_perform(easy);
        long status = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        if (i >= 0 && cc == CURLE_OK && status == 200)
            ms[ok++] = (double)(bench_now_us() - a) / 1000.0;
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(easy);
    if (ok < requests) {
        report_error("%d of %d requests failed", requests - ok, requests);
        free(ms);
        return;
    }
    qsort(ms, (size_t)ok, sizeof(*ms), log_cmp);
    double p50 = ms[ok / 2], p99 = ms[(size_t)((double)ok * 0.99)];
    report_fig("deliveries_log_p50_ms", "GET /v1/webhooks/{id}/deliveries p50 (100 per page)", p50, "ms");
    report_fig("deliveries_log_p99_ms", "GET /v1/webhooks/{id}/deliveries p99 (100 per page)", p99, "ms");
    report_target("delivery log p99 with >= 2 M attempt rows", p99, "ms", "< 20", p99 < 20 && have >= LOG_ROWS);
    report_note("%d requests one at a time after 100 unmeasured, keep-alive, a random webhook of %d each (about "
                "%lld rows each); the table vacuumed and analyzed once filled, as autovacuum leaves it",
                requests, LOG_WEBHOOKS, have / LOG_WEBHOOKS);
    free(ms);
}

void bench_storage(struct bench_env *env)
{
    bench_store(env);
    bench_log(env);
}
