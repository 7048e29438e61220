/* util.c: what several sections need: clocks, the receiver's figures,
 * SQL helpers and bulk webhooks, dispatcher processes (start, stop, wait
 * until they own every partition, read their /metrics) and what /proc says
 * about a process.
 */
#include "bench.h"

#include "hx_int.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long long bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long bench_wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- the receiver --------------------------------------------------------------- */

json_t *bench_receiver_stats(struct bench_env *env)
{
    char url[128];
    struct hx_resp resp;
    snprintf(url, sizeof(url), "%s/_bench/stats", env->receiver_url);
    hx_http("GET", url, NULL, NULL, NULL, &resp);
    json_t *stats = resp.status == 200 && json_is_object(resp.json) ? json_incref(resp.json) : NULL;
    hx_resp_free(&resp);
    return stats;
}

void bench_receiver_reset(struct bench_env *env)
{
    char url[128];
    struct hx_resp resp;
    snprintf(url, sizeof(url), "%s/_bench/reset", env->receiver_url);
    if (hx_http("POST", url, NULL, "{}", NULL, &resp) != 200)
        hx_die("the receiver does not answer %s", url);
    hx_resp_free(&resp);
}

void bench_receiver_release(struct bench_env *env)
{
    char url[128];
    struct hx_resp resp;
    snprintf(url, sizeof(url), "%s/_bench/release", env->receiver_url);
    if (hx_http("POST", url, NULL, "{}", NULL, &resp) != 200)
        fprintf(stderr, "hookline-bench: the receiver does not answer %s\n", url);
    hx_resp_free(&resp);
}

long long bench_stat(const json_t *stats, const char *key)
{
    return (long long)json_integer_value(json_object_get(stats, key));
}

json_t *bench_receiver_wait(struct bench_env *env, long long want_ok, long long want_fail, long timeout_ms)
{
    long long deadline = bench_now_us() + timeout_ms * 1000;
    json_t *stats = NULL;
    for (;;) {
        json_decref(stats);
        stats = bench_receiver_stats(env);
        if (stats && bench_stat(stats, "ok") >= want_ok && bench_stat(stats, "fail") >= want_fail)
            return stats;
        if (bench_now_us() >= deadline)
            return stats;
        hx_sleep_ms(stats && bench_stat(stats, "ok") > want_ok - 1000 ? 10 : 50);
    }
}

/* ---- SQL ------------------------------------------------------------------------ */

int bench_sql(PGconn *pg, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(res);
    int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? 0 : -1;
    if (rc < 0)
        fprintf(stderr, "hookline-bench: SQL failed: %s\n  %.200s\n", PQerrorMessage(pg), sql);
    PQclear(res);
    return rc;
}

long long bench_sql_num(PGconn *pg, const char *sql, int nparams, const char *const *params)
{
    PGresult *res = PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0);
    long long v = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0)
        v = atoll(PQgetvalue(res, 0, 0));
    else
        fprintf(stderr, "hookline-bench: SQL failed: %s\n  %.200s\n", PQerrorMessage(pg), sql);
    PQclear(res);
    return v;
}

long long bench_sql_wait(PGconn *pg, const char *count_sql, long long want, long timeout_ms)
{
    long long deadline = bench_now_us() + timeout_ms * 1000, v;
    while ((v = bench_sql_num(pg, count_sql, 0, NULL)) < want && v >= 0 && bench_now_us() < deadline)
        hx_sleep_ms(100);
    return v;
}

/* bench_seed_webhooks and bench_seed_webhooks_https: URLs
 * <scheme>://127.0.0.1:<one of 'ports'>... */
static int bench_seed(struct bench_env *env, const char *scheme, const int *ports_of, const char *tag,
                      const char *tprefix, int ntenants, long first, long n, const char *events,
                      const char *path_prefix, int fail_every, bool filter)
{
    char sn[24], sfirst[24], sntenants[16], sfail[16], swidth[16], ports[BENCH_PORTS * 8 + 4];
    int width = 3;
    for (int t = ntenants - 1; t >= 1000; t /= 10)
        width++;
    snprintf(sn, sizeof(sn), "%ld", n);
    snprintf(sfirst, sizeof(sfirst), "%ld", first);
    snprintf(sntenants, sizeof(sntenants), "%d", ntenants);
    snprintf(sfail, sizeof(sfail), "%d", fail_every);
    snprintf(swidth, sizeof(swidth), "%d", width);
    size_t o = 0;
    ports[o++] = '{';
    for (int i = 0; i < BENCH_PORTS; i++)
        o += (size_t)snprintf(ports + o, sizeof(ports) - o, "%s%d", i ? "," : "", ports_of[i]);
    snprintf(ports + o, sizeof(ports) - o, "}");
    const char *params[12] = { tag, tprefix, sntenants, sfirst, sn, events, path_prefix, sfail,
                               filter ? "true" : "false", ports, swidth, scheme };
    const char *tparams[3] = { tprefix, sntenants, swidth };
    if (bench_sql(env->pg,
                  "INSERT INTO tenants (id, name) SELECT $1 || lpad(t::text, $3::int, '0'), 'bench tenant' "
                  "FROM generate_series(0, $2::int - 1) t ON CONFLICT (id) DO NOTHING",
                  3, tparams) < 0)
        return -1;
    /* the shape hookline-api writes: endpoints with ids, a decodable secret */
    return bench_sql(env->pg,
        "INSERT INTO webhooks (id, tenant_id, name, endpoints, events, max_retries, filter, secret, created_by) "
        "SELECT 'wh_' || $1 || lpad(i::text, 7, '0'), $2 || lpad((i % $3::int)::text, $11::int, '0'), "
        "       'bench ' || $1 || ' ' || i, "
        "       jsonb_build_array(jsonb_build_object('id', 'ep_' || $1 || lpad(i::text, 7, '0'), "
        "         'url', $12 || '://127.0.0.1:' || (($10::int[])[1 + i % cardinality($10::int[])])::text || "
        "                CASE WHEN $8::int > 0 AND i % $8::int = 0 THEN '/fail/' ELSE $7 || '/' END || i, "
        "         'headers', '{}'::jsonb)), "
        "       $6::text[], 5, "
        "       CASE WHEN $9::bool THEN jsonb_build_object('data.owner', 'u_' || i) END, "
        "       'whsec_' || encode(decode(substr(md5($1 || i::text) || md5(i::text || $1), 1, 48), 'hex'), 'base64'), "
        "       'bench' "
        "FROM generate_series($4::bigint, $4::bigint + $5::bigint - 1) i",
        12, params);
}

int bench_seed_webhooks(struct bench_env *env, const char *tag, const char *tprefix, int ntenants, long first,
                        long n, const char *events, const char *path_prefix, int fail_every, bool filter)
{
    return bench_seed(env, "http", env->http_ports, tag, tprefix, ntenants, first, n, events, path_prefix,
                      fail_every, filter);
}

int bench_seed_webhooks_https(struct bench_env *env, const char *tag, const char *tprefix, int ntenants,
                              long first, long n, const char *events, const char *path_prefix)
{
    return bench_seed(env, "https", env->https_ports, tag, tprefix, ntenants, first, n, events, path_prefix, 0,
                      false);
}

int bench_webhooks_reset(struct bench_env *env)
{
    bench_dispatchers_stop(env);
    if (bench_sql(env->pg, "DELETE FROM webhooks", 0, NULL) < 0 || bench_sql(env->pg, "DELETE FROM retries", 0, NULL) < 0 ||
        bench_sql(env->pg, "DELETE FROM lanes", 0, NULL) < 0 ||
        bench_sql(env->pg, "TRUNCATE attempts, endpoint_health", 0, NULL) < 0 ||
        bench_seed_webhooks(env, "pr", "probe", 1, 0, 1, "{booking}", "/probe", 0, false) < 0)
        return -1;
    return 0;
}

/* ---- dispatchers ------------------------------------------------------------------ */

pid_t bench_dispatcher_start(struct bench_env *env)
{
    return hx_dispatcher_start(env->st, NULL);
}

pid_t bench_dispatcher_start_metrics(struct bench_env *env, const char *extra_env)
{
    char port[48];
    snprintf(port, sizeof(port), "HOOKLINE_METRICS_PORT=%d", hx_free_port());
    const char *const extra[] = { port, extra_env, NULL };
    return hx_dispatcher_start(env->st, extra);
}

char *bench_dispatcher_metrics(struct bench_env *env, pid_t pid)
{
    const char *base = hx_dispatcher_url(env->st, pid);
    if (base == NULL)
        return NULL;
    char url[160];
    struct hx_resp resp;
    snprintf(url, sizeof(url), "%s/metrics", base);
    char *text = hx_http("GET", url, NULL, NULL, NULL, &resp) == 200 && resp.body ? strdup(resp.body) : NULL;
    hx_resp_free(&resp);
    return text;
}

double bench_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    return NAN;
}

double bench_dispatcher_metric(struct bench_env *env, pid_t pid, const char *series)
{
    char *text = bench_dispatcher_metrics(env, pid);
    double v = text ? bench_metric(text, series) : NAN;
    free(text);
    return v;
}

size_t bench_dispatchers(struct bench_env *env, pid_t *pids, size_t cap)
{
    size_t n = hx_dispatcher_pids(env->st, pids, cap);
    return n < cap ? n : cap;
}

void bench_dispatchers_stop(struct bench_env *env)
{
    pid_t pids[16];
    size_t n = bench_dispatchers(env, pids, 16);
    for (size_t i = 0; i < n; i++)
        hx_proc_kill(env->st, pids[i], SIGTERM);
    for (size_t i = 0; i < n; i++)
        if (hx_proc_wait(env->st, pids[i], 30000) != 0)
            fprintf(stderr, "hookline-bench: dispatcher %ld did not stop cleanly\n", (long)pids[i]);
}

/* Partitions the dispatcher logging to 'log' owns now: its last
 * "assigned N partitions" line, or 0 after "revoking". */
static int bench_log_owned(const char *log)
{
    FILE *fp = log ? fopen(log, "r") : NULL;
    if (fp == NULL)
        return 0;
    char line[4096];
    int owned = 0;
    while (fgets(line, sizeof(line), fp)) {
        const char *a = strstr(line, "assigned ");
        if (a && strstr(a, " partitions of " BENCH_TOPIC))
            owned = atoi(a + 9);
        else if (strstr(line, "revoking ") && strstr(line, " partitions of " BENCH_TOPIC))
            owned = 0;
    }
    fclose(fp);
    return owned;
}

int bench_dispatchers_ready(struct bench_env *env, struct bench_producer *p, long timeout_ms)
{
    long long deadline = bench_now_us() + timeout_ms * 1000;
    pid_t pids[16];
    for (;;) {
        size_t n = bench_dispatchers(env, pids, 16);
        int total = 0;
        bool each = n > 0;
        for (size_t i = 0; i < n; i++) {
            int owned = bench_log_owned(hx_proc_log(env->st, pids[i]));
            each = each && owned > 0;
            total += owned;
        }
        if (each && total == env->partitions)
            break;
        if (bench_now_us() >= deadline) {
            fprintf(stderr, "hookline-bench: dispatchers own %d of %d partitions after %ld ms\n", total,
                    env->partitions, timeout_ms);
            return -1;
        }
        hx_sleep_ms(100);
    }
    /* one probe per partition: every partition is read and delivered */
    static long probe_seq;
    bench_receiver_reset(env);
    for (int part = 0; part < env->partitions; part++)
        bprod_send(p, part, "probe000", "booking.scheduled", "probe", probe_seq++, NULL);
    bprod_flush(p, 10000);
    long long left_ms = (deadline - bench_now_us()) / 1000;
    json_t *stats = bench_receiver_wait(env, env->partitions, 0, left_ms > 5000 ? left_ms : 5000);
    bool ok = stats && bench_stat(stats, "ok") >= env->partitions;
    json_decref(stats);
    bench_receiver_reset(env);
    if (!ok)
        fprintf(stderr, "hookline-bench: the probes on every partition were not all delivered\n");
    return ok ? 0 : -1;
}

/* ---- /proc ---------------------------------------------------------------------------- */

long bench_proc_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *fp = fopen(path, "r");
    long kib = -1;
    size_t flen = strlen(field);
    while (fp && fgets(line, sizeof(line), fp))
        if (strncmp(line, field, flen) == 0 && line[flen] == ':')
            kib = atol(line + flen + 1);
    if (fp)
        fclose(fp);
    return kib;
}

long long bench_proc_cpu_us(pid_t pid)
{
    /* schedstat has nanoseconds per thread; /proc/PID/stat only clock ticks */
    char path[128];
    snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
    DIR *dir = opendir(path);
    if (dir == NULL)
        return -1;
    long long ns = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char sp[512];
        snprintf(sp, sizeof(sp), "%s/%s/schedstat", path, de->d_name);
        FILE *fp = fopen(sp, "r");
        unsigned long long run = 0;
        if (fp && fscanf(fp, "%llu", &run) == 1)
            ns += (long long)run;
        if (fp)
            fclose(fp);
    }
    closedir(dir);
    return ns / 1000;
}

/* ---- the benchmark's own devbroker --------------------------------------------------- */

int bench_devbroker_start(struct bench_env *env)
{
    char bin[1024], bootstrap_file[1024], log[1024];
    snprintf(bin, sizeof(bin), "%s/hookline-devbroker", env->bin_dir);
    snprintf(bootstrap_file, sizeof(bootstrap_file), "%s/limit-devbroker.bootstrap", env->work_dir);
    snprintf(log, sizeof(log), "%s/limit-devbroker.log", env->work_dir);
    unlink(bootstrap_file);
    struct hx_env henv = { 0 };
    hx_env_inherit(&henv);
    char *argv[] = { "hookline-devbroker", "--bootstrap-file", bootstrap_file, NULL };
    env->limit_broker_pid = hx_spawn(bin, argv, henv.v, log);
    hx_env_free(&henv);
    if (env->limit_broker_pid < 0)
        return -1;
    for (int i = 0; i < 200 && !env->limit_brokers[0]; i++) {
        FILE *fp = fopen(bootstrap_file, "r");
        if (fp) {
            if (fgets(env->limit_brokers, sizeof(env->limit_brokers), fp))
                env->limit_brokers[strcspn(env->limit_brokers, "\r\n")] = '\0';
            fclose(fp);
        }
        if (!env->limit_brokers[0])
            hx_sleep_ms(50);
    }
    if (env->limit_brokers[0])
        return 0;
    fprintf(stderr, "hookline-bench: the devbroker of the limits did not start (log: %s)\n", log);
    bench_devbroker_stop(env);
    return -1;
}

void bench_devbroker_stop(struct bench_env *env)
{
    int ws = 0;
    if (env->limit_broker_pid <= 0)
        return;
    kill(env->limit_broker_pid, SIGTERM);
    if (hx_wait_pid(env->limit_broker_pid, 10000, &ws) < 0) {
        kill(env->limit_broker_pid, SIGKILL);
        hx_wait_pid(env->limit_broker_pid, 5000, &ws);
    }
    env->limit_broker_pid = 0;
    env->limit_brokers[0] = '\0';
}

/* ---- where the CPU goes --------------------------------------------------------------- */

/* User + system time of process 'pid' and every process whose parent it is
 * (PostgreSQL's backends), in microseconds. */
static long long bench_tree_cpu_us(pid_t parent)
{
    long long us = bench_proc_cpu_us(parent);
    DIR *dir = opendir("/proc");
    struct dirent *de;
    long tick = sysconf(_SC_CLK_TCK);
    while (dir && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] < '1' || de->d_name[0] > '9')
            continue;
        char path[300], buf[1024];
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        FILE *fp = fopen(path, "r");
        size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
        if (fp)
            fclose(fp);
        buf[n] = '\0';
        const char *p = strrchr(buf, ')');
        int ppid = 0;
        unsigned long long ut = 0, st = 0;
        /* after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        if (p && sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ppid, &ut, &st) == 3 &&
            ppid == parent)
            us += (long long)(ut + st) * 1000000 / tick;
    }
    if (dir)
        closedir(dir);
    return us;
}

void bench_cpu_snap(struct bench_env *env, struct bench_cpu *c)
{
    memset(c, 0, sizeof(*c));
    pid_t pids[16];
    size_t n = bench_dispatchers(env, pids, 16);
    for (size_t i = 0; i < n; i++)
        c->dispatchers += bench_proc_cpu_us(pids[i]);
    c->receiver = bench_proc_cpu_us(env->receiver_pid);
    c->broker = bench_proc_cpu_us(hx_broker_pid(env->st));
    c->api = hx_api_pid(env->st) ? bench_proc_cpu_us(hx_api_pid(env->st)) : 0;
    c->postgres = env->pg_postmaster ? bench_tree_cpu_us(env->pg_postmaster) : 0;
    FILE *fp = fopen("/proc/stat", "r");
    unsigned long long v[8] = { 0 };
    if (fp && fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                     &v[6], &v[7]) == 8) {
        long tick = sysconf(_SC_CLK_TCK);
        c->machine_all = (long long)(v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]) * 1000000 / tick;
        c->machine_busy = c->machine_all - (long long)(v[3] + v[4]) * 1000000 / tick;
    }
    if (fp)
        fclose(fp);
    c->at_us = bench_now_us();
}

void bench_cpu_note(const struct bench_cpu *a, const struct bench_cpu *b, char *out, size_t cap)
{
    double secs = (double)(b->at_us - a->at_us) / 1e6;
    if (secs <= 0) {
        snprintf(out, cap, "(no time)");
        return;
    }
#define SHARE(f) ((double)(b->f - a->f) / 1e6 / secs * 100)
    double cores = b->machine_all > a->machine_all ? (double)(b->machine_all - a->machine_all) / 1e6 / secs : 0;
    snprintf(out, cap,
             "CPU (%% of one core): dispatchers %.0f, postgres %.0f, devbroker %.0f, receiver %.0f, api %.0f; "
             "machine busy %.0f of %.0f",
             SHARE(dispatchers), SHARE(postgres), SHARE(broker), SHARE(receiver), SHARE(api), SHARE(machine_busy),
             cores * 100);
#undef SHARE
}
