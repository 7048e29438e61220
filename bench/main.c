/* main.c: hookline-bench, benchmarks of hookline against this machine's
 * own limits (run it through bench/run.sh).
 *
 *   hookline-bench [--smoke] [--sections 1,2,3,4,5,6,7,8,9,10] [--payload BYTES]
 *                  [--out DIR]
 *
 * Starts the receiver and the real stack (a throwaway database on the
 * PostgreSQL server named by the PG* variables or HOOKLINE_DATABASE_URL,
 * hookline-devbroker, hookline-api, dispatchers), runs the sections, prints
 * every figure as it comes and a table at the end, and writes the same
 * figures as JSON to DIR/bench-<time>.json and DIR/latest.json (a
 * symlink). Exits 1 only when a section produced no figures: never for
 * being slow, nor for a target missed.
 */
#include "bench.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

#include "hx_int.h"

#ifndef BENCH_SOURCE_DIR
#error "BENCH_SOURCE_DIR must be defined by the build"
#endif
#ifndef BENCH_BUILD_DIR
#error "BENCH_BUILD_DIR must be defined by the build"
#endif

static const struct bench_plan plan_full = {
    .payload_bytes = 512,
    .limit_curl_ms = 4000,
    .limit_in_flight = 512,
    .limit_pg_ms = 3000,
    .limit_kafka_msgs = 80000,
    .backlog_max = 80000,
    .saturate_ms = 5000,
    .latency_ms = 8000,
    .fanout_webhooks = 10000,
    .fanout_runs = 3,
    .scale_sizes = { 1000, 10000, 100000 },
    .scale_tenants = 1000,
    .scale_events = 20000,
    .api_ms = 5000,
    .api_conns = 32,
    .iso_noisy_events = 5000,
    .iso_calm_rate = 200,
    .iso_calm_ms = 10000,
    .iso_slow_ms = 14000,
    .big_events = 20000,
};

static const struct bench_plan plan_smoke = {
    .smoke = true,
    .payload_bytes = 512,
    .limit_curl_ms = 500,
    .limit_in_flight = 32,
    .limit_pg_ms = 300,
    .limit_kafka_msgs = 3000,
    .backlog_max = 2000,
    .saturate_ms = 300,
    .latency_ms = 1000,
    .fanout_webhooks = 300,
    .fanout_runs = 1,
    .scale_sizes = { 100, 1000, 0 },
    .scale_tenants = 100,
    .scale_events = 1000,
    .api_ms = 1000,
    .api_conns = 16,
    .iso_noisy_events = 200,
    .iso_calm_rate = 50,
    .iso_calm_ms = 1500,
    .iso_slow_ms = 2000,
    .big_events = 300,
};

static void usage(FILE *out)
{
    fprintf(out, "usage: hookline-bench [--smoke] [--sections 1,2,3,4,5,6,7,8,9,10] [--payload BYTES] [--out DIR]\n"
                 "Run it through bench/run.sh, which builds and provides PostgreSQL.\n");
}

/* With HOOKLINE_DATABASE_URL, the harness's databases go on that server. */
static void bench_pg_from_url(void)
{
    const char *url = getenv("HOOKLINE_DATABASE_URL");
    if (url == NULL || !*url)
        return;
    char *errmsg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &errmsg);
    if (opts == NULL)
        hx_die("HOOKLINE_DATABASE_URL: %s", errmsg ? errmsg : "cannot parse");
    static const char *const map[][2] = {
        { "host", "PGHOST" }, { "port", "PGPORT" }, { "user", "PGUSER" }, { "password", "PGPASSWORD" },
        { "sslmode", "PGSSLMODE" },
    };
    for (PQconninfoOption *o = opts; o->keyword; o++)
        for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
            if (o->val && *o->val && strcmp(o->keyword, map[i][0]) == 0)
                setenv(map[i][1], o->val, 1);
    PQconninfoFree(opts);
}

static void bench_receiver_start(struct bench_env *env)
{
    char bin[1024], ready[1024], log[1024];
    snprintf(bin, sizeof(bin), "%s/hookline-bench-receiver", env->bin_dir);
    snprintf(ready, sizeof(ready), "%s/receiver.ready", env->work_dir);
    snprintf(log, sizeof(log), "%s/receiver.log", env->work_dir);
    unlink(ready);
    char n[16];
    snprintf(n, sizeof(n), "%d", BENCH_PORTS);
    /* HOOKLINE_BENCH_TRACE=<file>: the receiver writes each delivery's latency there */
    const char *trace = getenv("HOOKLINE_BENCH_TRACE");
    char *argv[] = { "hookline-bench-receiver", "--http", n, "--https", n, "--cert", (char *)hx_testca_server_cert(),
                     "--key", (char *)hx_testca_server_key(), "--ready-file", ready,
                     trace != NULL && *trace ? "--trace" : NULL, (char *)trace, NULL };
    struct hx_env henv = { 0 };
    hx_env_inherit(&henv);
    env->receiver_pid = hx_spawn(bin, argv, henv.v, log);
    hx_env_free(&henv);
    if (env->receiver_pid < 0)
        hx_die("cannot start %s", bin);
    for (int i = 0; i < 200; i++) {
        FILE *fp = fopen(ready, "r");
        if (fp) {
            char line[2048];
            int nh = 0, ns = 0;
            while (fgets(line, sizeof(line), fp)) {
                bool tls = strncmp(line, "https", 5) == 0;
                char *p = line + (tls ? 5 : 4);
                for (char *end; *p && *p != '\n'; p = end) {
                    long port = strtol(p, &end, 10);
                    if (end == p)
                        break;
                    if (tls && ns < BENCH_PORTS)
                        env->https_ports[ns++] = (int)port;
                    else if (!tls && nh < BENCH_PORTS)
                        env->http_ports[nh++] = (int)port;
                }
            }
            fclose(fp);
            if (nh == BENCH_PORTS && ns == BENCH_PORTS) {
                snprintf(env->receiver_url, sizeof(env->receiver_url), "http://127.0.0.1:%d", env->http_ports[0]);
                return;
            }
        }
        hx_sleep_ms(50);
    }
    hx_log_tail(log, 20);
    hx_die("hookline-bench-receiver did not start (log: %s)", log);
}

static void bench_receiver_stop(struct bench_env *env)
{
    int ws = 0;
    kill(env->receiver_pid, SIGTERM);
    if (hx_wait_pid(env->receiver_pid, 10000, &ws) < 0) {
        kill(env->receiver_pid, SIGKILL);
        hx_wait_pid(env->receiver_pid, 5000, &ws);
    }
}

static json_t *bench_meta(struct bench_env *env, const char *sections)
{
    struct utsname u;
    uname(&u);
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char pgver[64] = "";
    PGresult *res = PQexec(env->pg, "SHOW server_version");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(pgver, sizeof(pgver), "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    double load[3] = { 0 };
    getloadavg(load, 3);
    const struct bench_plan *pl = &env->plan;
    return json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:[f,f,f],s:{s:b,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:f,s:i,"
                     "s:i,s:i}}",
                     "time", when,
                     "host", u.nodename, "kernel", u.release, "cpus", (json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
                     "sections", sections, "libcurl", curl_version_info(CURLVERSION_NOW)->version, "librdkafka",
                     rd_kafka_version_str(), "postgresql", pgver, "loadavg_at_end", load[0], load[1], load[2], "plan",
                     "smoke", pl->smoke, "payload_bytes", pl->payload_bytes, "limit_curl_ms", (int)pl->limit_curl_ms,
                     "latency_ms", (int)pl->latency_ms, "fanout_webhooks", pl->fanout_webhooks, "scale_max",
                     pl->scale_sizes[2] ? pl->scale_sizes[2] : pl->scale_sizes[1], "scale_events", pl->scale_events,
                     "api_ms", (int)pl->api_ms, "iso_noisy_events", pl->iso_noisy_events, "iso_calm_rate",
                     pl->iso_calm_rate, "iso_calm_ms", (int)pl->iso_calm_ms, "iso_slow_ms", (int)pl->iso_slow_ms,
                     "big_events", pl->big_events);
}

/* Is section 'id' ("1" ... "10") among 'sections', a comma-separated list?
 * An item of several digits other than "10" names one-digit sections
 * ("2356"). */
static bool want(const char *sections, const char *id)
{
    size_t len = strlen(id);
    for (const char *s = sections; *s;) {
        size_t n = strcspn(s, ",");
        if (n == len && strncmp(s, id, len) == 0)
            return true;
        if (len == 1 && !(n == 2 && strncmp(s, "10", 2) == 0) && memchr(s, id[0], n) != NULL)
            return true;
        s += n + (s[n] == ',');
    }
    return false;
}

int main(int argc, char **argv)
{
    struct bench_env env = { 0 };
    const char *sections = "1,2,3,4,5,6,7,8,9,10", *out = NULL;
    int payload = 0;
    env.plan = plan_full;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--smoke")) {
            env.plan = plan_smoke;
        } else if (!strcmp(a, "--sections") && v) {
            sections = v, i++;
        } else if (!strcmp(a, "--payload") && v) {
            payload = atoi(v), i++;
        } else if (!strcmp(a, "--out") && v) {
            out = v, i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (payload) {
        if (payload < 256 || payload > 65536)
            hx_die("--payload: 256 to 65536 bytes");
        env.plan.payload_bytes = payload;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);

    env.src_dir = BENCH_SOURCE_DIR;
    env.bin_dir = getenv("HOOKLINE_BIN_DIR") && *getenv("HOOKLINE_BIN_DIR") ? getenv("HOOKLINE_BIN_DIR")
                                                                             : BENCH_BUILD_DIR;
    char outdir[512];
    snprintf(outdir, sizeof(outdir), "%s", out ? out : BENCH_SOURCE_DIR "/bench/results");
    if (snprintf(env.work_dir, sizeof(env.work_dir), "%s/logs%s", outdir, env.plan.smoke ? "-smoke" : "") >=
        (int)sizeof(env.work_dir))
        hx_die("--out: path too long");
    if (hx_mkdirs(env.work_dir) < 0)
        hx_die("cannot create %s: %s", env.work_dir, strerror(errno));
    setenv("HOOKLINE_TEST_ARTIFACTS", env.work_dir, 1);
    setenv("HOOKLINE_BIN_DIR", env.bin_dir, 1);
    bench_pg_from_url();

    printf("hookline-bench%s: sections %s, %d B payloads, %ld cores; logs in %s\n",
           env.plan.smoke ? " --smoke" : "", sections, env.plan.payload_bytes, sysconf(_SC_NPROCESSORS_ONLN),
           env.work_dir);
    hx_test_ca_file();
    bench_receiver_start(&env);
    struct hx_stack_opts opts = {
        .dispatchers = 0,
        .env = { "HOOKLINE_ALLOW_HTTP=true", "HOOKLINE_METRICS_PORT=0", "HOOKLINE_RETRY_SCHEDULE=1s,5m",
                 "HOOKLINE_LOG_LEVEL=info", NULL },
    };
    env.st = hx_stack_start(&opts);
    env.pg = hx_pg_connect(env.st);
    {
        /* a local server: its processes' CPU shows in the notes */
        PGresult *res = PQexec(env.pg, "SELECT current_setting('data_directory') || '/postmaster.pid'");
        FILE *fp = PQresultStatus(res) == PGRES_TUPLES_OK ? fopen(PQgetvalue(res, 0, 0), "r") : NULL;
        long pid = 0;
        if (fp && fscanf(fp, "%ld", &pid) == 1 && kill((pid_t)pid, 0) == 0)
            env.pg_postmaster = (pid_t)pid;
        if (fp)
            fclose(fp);
        PQclear(res);
    }
    {
        struct bench_producer *p = bprod_new(hx_brokers(env.st), BENCH_LINGER_MS, env.plan.payload_bytes);
        env.partitions = bprod_partitions(p);
        bprod_free(p);
        if (env.partitions <= 0)
            hx_die("cannot read the partitions of %s", BENCH_TOPIC);
    }

    if ((want(sections, "1") || want(sections, "2")) && bench_devbroker_start(&env) < 0)
        fprintf(stderr, "hookline-bench: no devbroker of its own: 1c and the Kafka-alone latencies are skipped\n");
    if (want(sections, "1"))
        bench_limits(&env);
    if (want(sections, "2") || want(sections, "3") || want(sections, "5")) {
        if (bench_seed_webhooks(&env, "pr", "probe", 1, 0, 1, "{booking}", "/probe", 0, false) < 0 ||
            bench_seed_webhooks(&env, "bt", "bt", 100, 0, 100, "{booking}", "/t", 0, false) < 0 ||
            bench_seed_webhooks_https(&env, "hs", "hs", 100, 0, 100, "{booking}", "/t") < 0 ||
            bench_seed_webhooks(&env, "rt", "rt", 100, 0, 100, "{booking}", "/t", 10, false) < 0 ||
            bench_seed_webhooks(&env, "fa", "fan", 1, 0, env.plan.fanout_webhooks, "{conversation}", "/f", 0,
                                false) < 0)
            hx_die("cannot insert the webhooks");
        if (want(sections, "2"))
            bench_e2e(&env);
        if (want(sections, "3")) {
            pid_t pids[4];
            while (bench_dispatchers(&env, pids, 4) < 2)
                bench_dispatcher_start(&env);
            bench_fanout(&env);
        }
        if (want(sections, "5")) {
            pid_t pids[4];
            while (bench_dispatchers(&env, pids, 4) < 2)
                bench_dispatcher_start(&env);
            bench_retry(&env);
        }
        bench_dispatchers_stop(&env);
    }
    if (want(sections, "4"))
        bench_scale(&env);
    if (want(sections, "6"))
        bench_api(&env);
    if (want(sections, "7"))
        bench_isolation(&env);
    if (want(sections, "8"))
        bench_big_tenant(&env);
    if (want(sections, "9"))
        bench_storage(&env);
    if (want(sections, "10"))
        bench_ordered(&env);

    json_t *meta = bench_meta(&env, sections);
    PQfinish(env.pg);
    int failed = hx_stack_stop(env.st);
    bench_receiver_stop(&env);
    bench_devbroker_stop(&env);
    if (failed)
        fprintf(stderr, "hookline-bench: %d process(es) of the stack did not stop cleanly (logs in %s)\n", failed,
                env.work_dir);

    char path[1024], latest[1024], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    snprintf(path, sizeof(path), "%s/bench-%s%s.json", outdir, stamp, env.plan.smoke ? "-smoke" : "");
    int missing = report_finish(path, meta);
    snprintf(latest, sizeof(latest), "%s/latest%s.json", outdir, env.plan.smoke ? "-smoke" : "");
    unlink(latest);
    if (symlink(strrchr(path, '/') + 1, latest) < 0)
        fprintf(stderr, "hookline-bench: %s: %s\n", latest, strerror(errno));
    json_decref(meta);
    curl_global_cleanup();
    if (missing)
        printf("hookline-bench: %d section(s) produced no figures\n", missing);
    return missing ? 1 : 0;
}
