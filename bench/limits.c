/* limits.c: section 1, what this machine can do without hookline in the way.
 *
 *   1a  POSTs/s with libcurl multi at the dispatcher's concurrency (512 in
 *       flight, 16 per host over 32 receiver ports) and payload size, over
 *       HTTP and HTTPS keep-alive, straight to the receiver;
 *   1b  attempt-sized rows/s into PostgreSQL: through the dispatcher's own
 *       attempts.c (its writer thread: COPY and the endpoints' health, one
 *       transaction per batch), an INSERT from one JSON-array parameter (how
 *       attempts.c wrote until it used COPY), and bare COPY;
 *   1c  messages/s one consumer reads from a hookline-devbroker of its own.
 */
#include "bench.h"

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dispatcher.h"
#include "hx_int.h"
#include "ids.h"

#define LIMIT_IN_FLIGHT 512
#define LIMIT_PER_HOST 16
#define LIMIT_PG_BATCH 1000

/* ---- 1a: libcurl multi ------------------------------------------------------ */

static size_t limit_discard(char *ptr, size_t size, size_t n, void *arg)
{
    (void)ptr;
    (void)arg;
    return size * n;
}

/* An envelope of the run's payload size without "bench_ts" (no latency). */
static char *limit_body(int bytes)
{
    char *body = malloc((size_t)bytes + 256);
    if (body == NULL)
        hx_die("out of memory");
    int n = snprintf(body, 256, "{\"id\":\"evt_limit_0000000\",\"type\":\"booking.scheduled\",\"tenant\":\"bt000\","
                                "\"occurred_at\":\"2026-01-01T00:00:00Z\",\"data\":{\"pad\":\"");
    long pad = bytes - n - 3;
    if (pad > 0) {
        memset(body + n, 'x', (size_t)pad);
        n += (int)pad;
    }
    memcpy(body + n, "\"}}", 4);
    return body;
}

struct curl_run {
    double rate;                /* POSTs/s once every connection is open */
    double client_cpu, receiver_cpu;    /* share of one core while measuring */
    double warm_s;              /* until every connection was open and every transfer had run */
    long errors;
    long long reconnects;       /* connections the receiver accepted while measuring */
    long client_connects;       /* connections libcurl opened while measuring */
    long long open0, open1;
};

/* Sustained POSTs per second to the receiver, measured once every
 * connection is open (a new HTTPS connection costs far more than a
 * request: see limit_connect_cost). */
static struct curl_run limit_curl_run(struct bench_env *env, bool tls, long run_ms)
{
    struct curl_run r = { 0 };
    bool seen[LIMIT_IN_FLIGHT] = { false };
    int nseen = 0;
    long connects = 0;
    const int *ports = tls ? env->https_ports : env->http_ports;
    char *body = limit_body(env->plan.payload_bytes);
    CURLM *multi = curl_multi_init();
    CURL *easy[LIMIT_IN_FLIGHT];
    /* the headers the dispatcher sends, at their size (signing is not measured here) */
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "User-Agent: hookline/" HOOKLINE_VERSION);
    h = curl_slist_append(h, "Expect:");
    h = curl_slist_append(h, "webhook-id: evt_limit_0000000");
    h = curl_slist_append(h, "webhook-timestamp: 1767225600");
    h = curl_slist_append(h, "webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=");
    curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)LIMIT_PER_HOST);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)LIMIT_IN_FLIGHT);
    int nflight = env->plan.limit_in_flight < LIMIT_IN_FLIGHT ? env->plan.limit_in_flight : LIMIT_IN_FLIGHT;
    for (int i = 0; i < nflight; i++) {
        char url[128];
        snprintf(url, sizeof(url), "%s://127.0.0.1:%d/t/limit", tls ? "https" : "http", ports[i % BENCH_PORTS]);
        CURL *e = easy[i] = curl_easy_init();
        if (e == NULL)
            hx_die("out of memory");
        /* the options deliver.c sets; its per-endpoint limit (16) is the
         * per-host limit here: each receiver port plays one endpoint */
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        /* the dispatcher's 15 s and 5 s could expire while 512 TLS connections
         * open one after the other (see limit_connect_cost); only the warm-up
         * needs the longer ones */
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 120000L);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 120000L);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, limit_discard);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, limit_discard);
        /* deliver.c with HOOKLINE_CA_FILE (the test CA here): that file only */
        curl_easy_setopt(e, CURLOPT_CAINFO, hx_test_ca_file());
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)(intptr_t)i);
    }
    for (int i = 0; i < nflight; i++)
        curl_multi_add_handle(multi, easy[i]);
    long done = 0, base = -1;
    /* warm up until every connection is open and every transfer ran once */
    long long start = bench_now_us(), warm_max = start + (env->plan.smoke ? 10000000LL : 60000000LL), end = 0;
    long long t0 = 0, t1 = 0, cpu0 = 0, rcpu0 = 0;
    for (;;) {
        int running = 0, left = 0;
        curl_multi_poll(multi, NULL, 0, 100, NULL);
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            long status = 0;
            CURL *e = msg->easy_handle;
            CURLcode rc = msg->data.result;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
            intptr_t idx = 0;
            curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&idx);
            if (idx >= 0 && idx < nflight && !seen[idx]) {
                seen[idx] = true;
                nseen++;
            }
            long nconn = 0;
            curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nconn);
            connects += nconn;
            if (base >= 0)
                r.client_connects += nconn;
            if ((rc != CURLE_OK || status != 200) && r.errors++ == 0)
                fprintf(stderr, "hookline-bench: %s POST: %s (HTTP %ld)\n", tls ? "HTTPS" : "HTTP",
                        curl_easy_strerror(rc), status);
            done++;
            /* the same handle again: its connection stays in the pool */
            curl_multi_remove_handle(multi, e);
            curl_multi_add_handle(multi, e);
        }
        long long now = bench_now_us();
        if (base < 0 && ((nseen == nflight && connects >= nflight) || now >= warm_max)) {
            base = done;
            t0 = now;
            end = now + run_ms * 1000;
            cpu0 = bench_proc_cpu_us(getpid());
            rcpu0 = bench_proc_cpu_us(env->receiver_pid);
            json_t *st = bench_receiver_stats(env);
            r.reconnects = -bench_stat(st, "accepted");
            r.open0 = bench_stat(st, "open");
            json_decref(st);
            r.warm_s = (double)(now - start) / 1e6;
        }
        if (base >= 0 && now >= end) {
            t1 = now;
            break;
        }
    }
    json_t *st = bench_receiver_stats(env);
    r.reconnects += bench_stat(st, "accepted");
    r.open1 = bench_stat(st, "open");
    json_decref(st);
    double secs = (double)(t1 - t0) / 1e6;
    r.client_cpu = (double)(bench_proc_cpu_us(getpid()) - cpu0) / 1e6 / secs;
    r.receiver_cpu = (double)(bench_proc_cpu_us(env->receiver_pid) - rcpu0) / 1e6 / secs;
    for (int i = 0; i < nflight; i++) {
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    curl_multi_cleanup(multi);
    curl_slist_free_all(h);
    free(body);
    r.rate = (double)(done - base) / secs;
    return r;
}

/* CPU and wall time to open one new connection and POST once: 'n' fresh
 * connections one after the other, trusting the CAs of 'ca_file', and
 * with 'ca_dir' those of the system's CA directory too (libcurl's default). */
static void limit_connect_cost(struct bench_env *env, bool tls, const char *ca_file, bool ca_dir, int n,
                               double *cpu_ms, double *wall_ms)
{
    char *body = limit_body(env->plan.payload_bytes);
    long long c0 = bench_proc_cpu_us(getpid()), t0 = bench_now_us();
    int done = 0;
    for (int i = 0; i < n; i++) {
        char url[128];
        snprintf(url, sizeof(url), "%s://127.0.0.1:%d/t/connect", tls ? "https" : "http",
                 (tls ? env->https_ports : env->http_ports)[i % BENCH_PORTS]);
        CURL *e = curl_easy_init();
        if (e == NULL)
            break;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, limit_discard);
        curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
        if (!ca_dir)
            curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
        curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
        done += curl_easy_perform(e) == CURLE_OK;
        curl_easy_cleanup(e);
    }
    *cpu_ms = done ? (double)(bench_proc_cpu_us(getpid()) - c0) / 1000.0 / done : 0;
    *wall_ms = done ? (double)(bench_now_us() - t0) / 1000.0 / done : 0;
    free(body);
}

/* The system CA bundle plus the receiver's test CA, in one file under the
 * work directory: what the dispatcher loads without HOOKLINE_CA_FILE. */
static int limit_system_bundle(struct bench_env *env, char *path, size_t cap)
{
    snprintf(path, cap, "%s/system-bundle.pem", env->work_dir);
    FILE *out = fopen(path, "wb");
    if (out == NULL)
        return -1;
    const char *parts[2] = { "/etc/ssl/certs/ca-certificates.crt", hx_test_ca_file() };
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        FILE *in = fopen(parts[i], "rb");
        char buf[8192];
        size_t n;
        if (in == NULL) {
            rc = -1;
            break;
        }
        while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
            fwrite(buf, 1, n, out);
        fclose(in);
    }
    if (fclose(out) != 0)
        rc = -1;
    return rc;
}

static void limit_curl(struct bench_env *env)
{
    report_section("1a", "Limit: raw POSTs/s, libcurl multi -> receiver (512 in flight, 16 per host, no Kafka/PostgreSQL)");
    report_note("%d in flight, %d B payload, %d receiver ports per scheme, HTTP/1.1 keep-alive, easy handles reused",
                env->plan.limit_in_flight, env->plan.payload_bytes, BENCH_PORTS);
    for (int tls = 0; tls <= 1; tls++) {
        struct curl_run r = limit_curl_run(env, tls, env->plan.limit_curl_ms);
        report_fig(tls ? "https_posts_per_s" : "http_posts_per_s",
                   tls ? "POSTs/s over HTTPS keep-alive (TLS 1.3, GnuTLS both sides)" : "POSTs/s over HTTP keep-alive",
                   r.rate, "/s");
        if (tls) {
            double cpu_ms = 0, wall_ms = 0;
            int n = env->plan.smoke ? 4 : 32;
            report_fig("https_warm_s", "HTTPS: time to open the 512 connections (the loop is busy meanwhile)",
                       r.warm_s, "s");
            limit_connect_cost(env, true, hx_test_ca_file(), false, n, &cpu_ms, &wall_ms);
            report_fig("https_connect_cpu_ms", "HTTPS: client CPU per new connection, CA file only (as here)", cpu_ms,
                       "ms");
            char bundle[1024];
            if (limit_system_bundle(env, bundle, sizeof(bundle)) == 0) {
                limit_connect_cost(env, true, bundle, false, n, &cpu_ms, &wall_ms);
                report_fig("https_connect_bundle_cpu_ms",
                           "HTTPS: the same with the system CA bundle file (the dispatcher without HOOKLINE_CA_FILE)",
                           cpu_ms, "ms");
            }
            limit_connect_cost(env, true, hx_test_ca_file(), true, n, &cpu_ms, &wall_ms);
            report_fig("https_connect_syscas_cpu_ms",
                       "HTTPS: the same reading the /etc/ssl/certs directory too (libcurl's default)", cpu_ms, "ms");
            limit_connect_cost(env, false, hx_test_ca_file(), false, n, &cpu_ms, &wall_ms);
            report_fig("http_connect_cpu_ms", "HTTP: client CPU per new connection", cpu_ms, "ms");
        }
        report_note("%s: client %.0f %% of a core, receiver %.0f %%, %ld errors, %lld new connections while measuring "
                    "(libcurl: %ld; open at the receiver %lld -> %lld)",
                    tls ? "HTTPS" : "HTTP", r.client_cpu * 100, r.receiver_cpu * 100, r.errors, r.reconnects,
                    r.client_connects, r.open0, r.open1);
        if (!tls)
            env->limit_http_posts = r.rate;
        else
            env->limit_https_posts = r.rate;
    }
}

/* ---- 1b: PostgreSQL -------------------------------------------------------------- */

struct limit_pg {
    struct bench_env *env;
    struct sub *subs[100];
    long seq;
};

static void limit_pg_recorded(struct delivery *d, void *arg)
{
    (void)arg;
    payload_unref(d->payload);
    free(d);
}

/* A payload like the run's events, with a fresh event id. */
static struct payload *limit_pg_payload(struct limit_pg *lp, char *body)
{
    char id[64];
    snprintf(id, sizeof(id), "evt_pg_%09ld", lp->seq++);
    memcpy(body + 7, id, strlen(id));   /* limit_body starts {"id":" */
    return payload_new(id, "booking.scheduled", body, strlen(body));
}

static double limit_pg_attempts_c(struct limit_pg *lp, long run_ms)
{
    struct hl_config cfg;
    struct hl_error err = { 0 };
    memset(&cfg, 0, sizeof(cfg));
    snprintf(cfg.database_url, sizeof(cfg.database_url), "%s", hx_db_conninfo(lp->env->st));
    cfg.disable_after_ms = 5L * 86400 * 1000;
    cfg.delivery_timeout_ms = 15000;
    cfg.response_excerpt_bytes = 4096;
    struct attempts *at = attempts_new(&cfg, "hookline-bench", NULL, NULL, &err);
    if (at == NULL) {
        report_error("attempts_new: %s", err.msg);
        return 0;
    }
    char *body = limit_body(lp->env->plan.payload_bytes);
    long rows = 0;
    long long start = bench_now_us(), end = start + run_ms * 1000;
    while (bench_now_us() < end) {
        for (int i = 0; i < LIMIT_PG_BATCH; i++) {
            struct delivery *d = calloc(1, sizeof(*d));
            if (d == NULL)
                hx_die("out of memory");
            d->sub = lp->subs[i % 100];
            d->payload = limit_pg_payload(lp, body);
            d->attempt = 1;
            d->status = 200;
            d->outcome = DELIVERY_SUCCESS;
            d->sent_ms = bench_wall_us() / 1000;
            d->duration_ms = 1;
            d->retry_after_s = -1;
            if (hl_id_new("dlv_", d->dlv_id, sizeof(d->dlv_id)) < 0)
                hx_die("no randomness");
            attempts_add(at, d);
        }
        if (attempts_sync(at, 60000, limit_pg_recorded, NULL) < 0) {
            report_error("attempts_sync failed (see stderr)");
            break;
        }
        rows += LIMIT_PG_BATCH;
    }
    double rate = (double)rows / ((double)(bench_now_us() - start) / 1e6);
    attempts_free(at);
    free(body);
    return rate;
}

/* An INSERT of the rows as one JSON array parameter (attempts.c before COPY). */
static double limit_pg_jsonb(struct limit_pg *lp, long run_ms)
{
    PGconn *pg = lp->env->pg;
    char *body = limit_body(lp->env->plan.payload_bytes);
    long rows = 0;
    long long start = bench_now_us(), end = start + run_ms * 1000;
    while (bench_now_us() < end) {
        json_t *arr = json_array();
        for (int i = 0; i < LIMIT_PG_BATCH; i++) {
            char dlv[HL_ID_MAX];
            struct payload *p = limit_pg_payload(lp, body);
            const struct sub *s = lp->subs[i % 100];
            if (hl_id_new("dlv_", dlv, sizeof(dlv)) < 0)
                hx_die("no randomness");
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:b,s:I,s:i}", "id", dlv,
                "tenant_id", s->tenant, "webhook_id", s->id, "endpoint_id", s->eps[0].id, "endpoint_url",
                s->eps[0].url, "event_id", p->event_id, "event_type", p->event_type, "attempt", 1,
                "status_code", 200, "success", 1, "sent_ms", (json_int_t)(bench_wall_us() / 1000), "duration_ms", 1));
            payload_unref(p);
        }
        char *text = json_dumps(arr, JSON_COMPACT);
        json_decref(arr);
        const char *params[1] = { text };
        int rc = bench_sql(pg, "BEGIN", 0, NULL);
        if (rc == 0)
            rc = bench_sql(pg,
                "INSERT INTO attempts (id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, "
                "attempt, status_code, response, error, success, sent_at, duration_ms, next_attempt_at, "
                "dispatcher) SELECT id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, event_type, "
                "attempt, status_code, response, error, success, to_timestamp(sent_ms / 1000.0), "
                "duration_ms, to_timestamp(next_ms / 1000.0), 'hookline-bench' "
                "FROM jsonb_to_recordset($1::jsonb) AS x(id text, tenant_id text, webhook_id text, endpoint_id text, "
                "endpoint_url text, event_id text, event_type text, attempt int, status_code int, "
                "response text, error text, success boolean, sent_ms bigint, duration_ms int, next_ms bigint)",
                1, params);
        if (rc == 0)
            rc = bench_sql(pg, "COMMIT", 0, NULL);
        free(text);
        if (rc < 0) {
            bench_sql(pg, "ROLLBACK", 0, NULL);
            report_error("jsonb_to_recordset insert failed");
            break;
        }
        rows += LIMIT_PG_BATCH;
    }
    free(body);
    return (double)rows / ((double)(bench_now_us() - start) / 1e6);
}

/* COPY text format: escape backslash, tab, newline and carriage return. */
static void copy_field(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t need = strlen(s) * 2 + 2;
    if (*len + need > *cap) {
        *cap = (*len + need) * 2;
        *buf = realloc(*buf, *cap);
        if (*buf == NULL)
            hx_die("out of memory");
    }
    for (; *s; s++) {
        char c = *s;
        if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
            (*buf)[(*len)++] = '\\';
            c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
        }
        (*buf)[(*len)++] = c;
    }
}

static double limit_pg_copy(struct limit_pg *lp, long run_ms)
{
    PGconn *pg = lp->env->pg;
    char *body = limit_body(lp->env->plan.payload_bytes);
    char *buf = NULL;
    size_t cap = 0;
    long rows = 0;
    long long start = bench_now_us(), end = start + run_ms * 1000;
    while (bench_now_us() < end) {
        PGresult *res = PQexec(pg, "COPY attempts (id, tenant_id, webhook_id, endpoint_id, endpoint_url, event_id, "
                                   "event_type, attempt, status_code, success, sent_at, duration_ms, "
                                   "dispatcher) FROM STDIN");
        if (PQresultStatus(res) != PGRES_COPY_IN) {
            report_error("COPY: %s", PQerrorMessage(pg));
            PQclear(res);
            break;
        }
        PQclear(res);
        size_t len = 0;
        for (int i = 0; i < LIMIT_PG_BATCH; i++) {
            char dlv[HL_ID_MAX], tail[160];
            struct payload *p = limit_pg_payload(lp, body);
            const struct sub *s = lp->subs[i % 100];
            if (hl_id_new("dlv_", dlv, sizeof(dlv)) < 0)
                hx_die("no randomness");
            const char *fields[7] = { dlv, s->tenant, s->id, s->eps[0].id, s->eps[0].url, p->event_id,
                                      p->event_type };
            for (int f = 0; f < 7; f++) {
                copy_field(&buf, &len, &cap, fields[f]);
                buf[len++] = '\t';
            }
            long long ms = bench_wall_us() / 1000;
            time_t secs = (time_t)(ms / 1000);
            struct tm tm;
            gmtime_r(&secs, &tm);
            char ts[40];
            strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
            snprintf(tail, sizeof(tail), "1\t200\tt\t%s.%03lld+00\t1\thookline-bench\n", ts, ms % 1000);
            size_t tlen = strlen(tail);
            if (len + tlen > cap) {
                cap = (len + tlen) * 2;
                if ((buf = realloc(buf, cap)) == NULL)
                    hx_die("out of memory");
            }
            memcpy(buf + len, tail, tlen);
            len += tlen;
            payload_unref(p);
        }
        if (PQputCopyData(pg, buf, (int)len) != 1 || PQputCopyEnd(pg, NULL) != 1) {
            report_error("COPY data: %s", PQerrorMessage(pg));
            break;
        }
        res = PQgetResult(pg);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (!ok)
            report_error("COPY: %s", PQerrorMessage(pg));
        PQclear(res);
        while ((res = PQgetResult(pg)) != NULL)
            PQclear(res);
        if (!ok)
            break;
        rows += LIMIT_PG_BATCH;
    }
    free(buf);
    free(body);
    return (double)rows / ((double)(bench_now_us() - start) / 1e6);
}

static void limit_pg_truncate(struct bench_env *env)
{
    bench_sql(env->pg, "TRUNCATE attempts, bodies, retries, endpoint_health", 0, NULL);
    bench_sql(env->pg, "CHECKPOINT", 0, NULL);
}

static void limit_pg(struct bench_env *env)
{
    report_section("1b", "Limit: attempt-sized rows/s into PostgreSQL (batches of 1,000 rows, one transaction each)");
    struct limit_pg lp = { .env = env };
    /* 100 webhooks' worth of fields, as the dispatcher's subscriptions hold them */
    static char strings[100][4][96];
    static struct sub subs[100];
    static struct sub_endpoint eps[100];
    for (int i = 0; i < 100; i++) {
        struct sub *s = &subs[i];
        snprintf(strings[i][0], sizeof(strings[i][0]), "wh_limit%07d", i);
        snprintf(strings[i][1], sizeof(strings[i][1]), "bt%03d", i);
        snprintf(strings[i][2], sizeof(strings[i][2]), "ep_limit%07d", i);
        snprintf(strings[i][3], sizeof(strings[i][3]), "http://127.0.0.1:%d/t/%d", env->http_ports[i % BENCH_PORTS], i);
        s->refs = 1;
        s->id = strings[i][0];
        s->tenant = strings[i][1];
        s->secret = s->prev_secret = "";
        eps[i].id = strings[i][2];
        eps[i].url = strings[i][3];
        s->eps = &eps[i];
        s->neps = 1;
        lp.subs[i] = s;
    }
    limit_pg_truncate(env);
    double a = limit_pg_attempts_c(&lp, env->plan.limit_pg_ms);
    report_fig("attempts_c_rows_per_s", "rows/s through attempts.c (COPY + endpoint health, 1 tx per batch)", a,
               "/s");
    limit_pg_truncate(env);
    double j = limit_pg_jsonb(&lp, env->plan.limit_pg_ms);
    report_fig("jsonb_insert_rows_per_s", "rows/s, INSERT ... jsonb_to_recordset($1) (one JSON array per batch)", j, "/s");
    limit_pg_truncate(env);
    double c = limit_pg_copy(&lp, env->plan.limit_pg_ms);
    report_fig("copy_rows_per_s", "rows/s with COPY attempts FROM STDIN", c, "/s");
    limit_pg_truncate(env);
}

/* ---- 1c: Kafka ---------------------------------------------------------------------- */

/* Read 'n' messages of hookline.events with a fresh group; messages/s from
 * the first message to the last. */
static double limit_kafka_consume(const char *brokers, long n, int run)
{
    char errstr[256], group[64];
    snprintf(group, sizeof(group), "hookline-bench-limit-%d", run);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* the dispatcher's consumer settings (dispatch.c) */
    const char *kv[][2] = {
        { "bootstrap.servers", brokers },
        { "group.id", group },
        { "enable.auto.commit", "false" },
        { "enable.auto.offset.store", "false" },
        { "auto.offset.reset", "earliest" },
        { "session.timeout.ms", "10000" },
        { "heartbeat.interval.ms", "1000" },
        { "queued.max.messages.kbytes", "16384" },
        { "log_level", "3" },
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
            hx_die("consumer %s: %s", kv[i][0], errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk == NULL)
        hx_die("consumer: %s", errstr);
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, BENCH_TOPIC, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    long got = 0;
    long long t0 = 0, t1 = 0, deadline = bench_now_us() + 60000000;
    while (got < n && bench_now_us() < deadline) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(rk, 100);
        if (rkm == NULL)
            continue;
        if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (got++ == 0)
                t0 = bench_now_us();
            t1 = bench_now_us();
        }
        rd_kafka_message_destroy(rkm);
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (got < n || t1 <= t0) {
        fprintf(stderr, "hookline-bench: consumer read %ld of %ld messages\n", got, n);
        return 0;
    }
    return (double)(got - 1) / ((double)(t1 - t0) / 1e6);
}

static void limit_produce_one(struct bench_producer *p, long i, void *arg)
{
    const int *parts = arg;
    char tenant[16];
    snprintf(tenant, sizeof(tenant), "bt%03ld", i % 100);
    bprod_send(p, (int32_t)(i % *parts), tenant, "booking.scheduled", "limit", i, NULL);
}

/* ---- produce-to-consume latency of the broker alone ------------------------------ */

struct klat {
    rd_kafka_t *rk;
    volatile int stop;
    long long *lat;             /* microseconds */
    size_t n, cap;
};

static void *klat_consume(void *arg)
{
    struct klat *k = arg;
    while (!k->stop) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(k->rk, 50);
        if (rkm == NULL)
            continue;
        if (rkm->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            long long now = bench_wall_us(), ts = 0;
            const char *p = memmem(rkm->payload, rkm->len, "\"bench_ts\":", 11);
            for (p = p ? p + 11 : NULL; p && p < (const char *)rkm->payload + rkm->len && *p >= '0' && *p <= '9'; p++)
                ts = ts * 10 + (*p - '0');
            if (ts > 0 && k->n < k->cap)
                k->lat[k->n++] = now - ts;
        }
        rd_kafka_message_destroy(rkm);
    }
    return NULL;
}

static int klat_cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static void klat_gen(struct bench_producer *p, long i, void *arg)
{
    const int *parts = arg;
    char tenant[16];
    snprintf(tenant, sizeof(tenant), "bt%03ld", i % 100);
    bprod_send(p, (int32_t)(i % *parts), tenant, "booking.scheduled", "klat", i, NULL);
}

int bench_kafka_latency(struct bench_env *env, double rate, long ms, int fetch_wait_ms, double pct[4])
{
    char errstr[256], wait[16];
    if (!env->limit_brokers[0])
        return -1;
    snprintf(wait, sizeof(wait), "%d", fetch_wait_ms);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* the dispatcher's consumer settings, the fetch wait aside */
    const char *kv[][2] = {
        { "bootstrap.servers", env->limit_brokers }, { "group.id", "hookline-bench-latency" },
        { "enable.auto.commit", "false" },           { "queued.max.messages.kbytes", "16384" },
        { "fetch.wait.max.ms", wait },               { "log_level", "3" },
    };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        if (rd_kafka_conf_set(conf, kv[i][0], kv[i][1], errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
            hx_die("consumer %s: %s", kv[i][0], errstr);
    struct klat k = { 0 };
    k.rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (k.rk == NULL)
        hx_die("consumer: %s", errstr);
    rd_kafka_poll_set_consumer(k.rk);
    /* assign, not subscribe: no group join to wait for; new messages only */
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(env->partitions);
    for (int i = 0; i < env->partitions; i++)
        rd_kafka_topic_partition_list_add(parts, BENCH_TOPIC, i)->offset = RD_KAFKA_OFFSET_END;
    rd_kafka_assign(k.rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    k.cap = (size_t)(rate * (double)ms / 1000.0) + 1000;
    k.lat = malloc(k.cap * sizeof(*k.lat));
    if (k.lat == NULL)
        hx_die("out of memory");
    pthread_t th;
    if (pthread_create(&th, NULL, klat_consume, &k) != 0)
        hx_die("cannot start a thread");
    hx_sleep_ms(1000);          /* the end offsets are resolved */
    struct bench_producer *p = bprod_new(env->limit_brokers, BENCH_LINGER_MS, env->plan.payload_bytes);
    int nparts = env->partitions;
    long sent = bprod_run_rate(p, rate, ms, klat_gen, &nparts);
    bprod_flush(p, 10000);
    for (int i = 0; i < 100 && k.n < (size_t)sent; i++)
        hx_sleep_ms(20);
    k.stop = 1;
    pthread_join(th, NULL);
    bprod_free(p);
    rd_kafka_consumer_close(k.rk);
    rd_kafka_destroy(k.rk);
    int rc = k.n > 0 ? 0 : -1;
    if (k.n > 0) {
        qsort(k.lat, k.n, sizeof(*k.lat), klat_cmp);
        const double q[4] = { 0.5, 0.99, 0.999, 1.0 };
        for (int i = 0; i < 4; i++) {
            size_t at = (size_t)(q[i] * (double)k.n);
            pct[i] = (double)k.lat[at >= k.n ? k.n - 1 : at] / 1000.0;
        }
    }
    free(k.lat);
    return rc;
}

static void limit_kafka(struct bench_env *env)
{
    report_section("1c", "Limit: hookline-devbroker (librdkafka's mock cluster) with one consumer, no hookline");
    if (!env->limit_brokers[0]) {
        report_error("no devbroker of its own for the limits");
        return;
    }
    struct bench_producer *p = bprod_new(env->limit_brokers, 5, env->plan.payload_bytes);
    int parts = bprod_partitions(p);
    /* the mock broker keeps at most 5 MB per partition: stay under it */
    long n = env->plan.limit_kafka_msgs;
    long cap = (long)parts * (4L * 1024 * 1024 / (env->plan.payload_bytes + 100));
    if (n > cap)
        n = cap;
    long long t0 = bench_now_us();
    for (long i = 0; i < n; i++)
        limit_produce_one(p, i, &parts);
    long missing = bprod_flush(p, 60000);
    double prate = (double)n / ((double)(bench_now_us() - t0) / 1e6);
    bprod_free(p);
    if (missing != 0) {
        report_error("%ld of %ld messages not acknowledged", missing, n);
        return;
    }
    report_fig("produce_msgs_per_s", "messages/s produced and acknowledged (one producer, linger 5 ms)", prate, "/s");
    double best = 0;
    int runs = env->plan.smoke ? 1 : 3;
    for (int r = 0; r < runs; r++) {
        double rate = limit_kafka_consume(env->limit_brokers, n, r);
        if (rate > best)
            best = rate;
    }
    report_fig("consume_msgs_per_s", "messages/s consumed by one consumer (dispatcher's settings)", best, "/s");
    report_note("%ld messages of %d B on %d partitions, best of %d reads", n, env->plan.payload_bytes, parts, runs);
    /* the mock answers an empty fetch only after fetch.wait.max.ms (Kafka
     * answers as soon as data arrives), and one message set per partition */
    const int waits[2] = { 500, 10 };
    for (int w = 0; w < 2; w++) {
        double pct[4];
        if (bench_kafka_latency(env, 2000, env->plan.smoke ? 1000 : 3000, waits[w], pct) < 0) {
            report_error("no latency samples");
            continue;
        }
        char key[64], label[160];
        snprintf(key, sizeof(key), "latency_wait%d_p50_ms", waits[w]);
        snprintf(label, sizeof(label), "produce-to-consume p50 at 2,000/s, fetch.wait.max.ms=%d%s", waits[w],
                 waits[w] == 10 ? " (the dispatcher's default)" : " (librdkafka's default)");
        report_fig(key, label, pct[0], "ms");
        snprintf(key, sizeof(key), "latency_wait%d_p99_ms", waits[w]);
        snprintf(label, sizeof(label), "produce-to-consume p99 at 2,000/s, fetch.wait.max.ms=%d", waits[w]);
        report_fig(key, label, pct[1], "ms");
    }
}

void bench_limits(struct bench_env *env)
{
    limit_curl(env);
    limit_pg(env);
    limit_kafka(env);
}
