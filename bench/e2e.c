/* e2e.c: the real stack against the limits.
 *
 *   2  deliveries/s at saturation with 1 and 2 dispatchers (a backlog in
 *      Kafka drained while the receiver timestamps the first and last
 *      delivery), the ratio to limit 1a, produce-to-receipt latency at half
 *      that rate (open loop), and attempt records == deliveries; first over
 *      HTTPS (100 tenants hs*, figures https_*: after a warm-up run that
 *      opens the connections, with the TLS handshakes, full and resumed,
 *      the receiver counted in each run), then over plain HTTP (100 tenants
 *      bt*) with fresh dispatchers;
 *   3  one event to 10,000 webhooks of one tenant: seconds to the last one;
 *   5  the same saturation run with 10 % of the endpoints answering 500
 *      (retries due after 1 s): healthy deliveries/s against section 2.
 *
 * The backlog is produced while the dispatchers are stopped (SIGSTOP, well
 * inside their 10 s session timeout) so the producer does not compete with
 * them for the two cores; they resume together (SIGCONT).
 */
#include "bench.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run_result {
    long sent;
    long long ok, fail;
    double rate;                /* 200s per second, first to last */
    double attempts_rate;       /* every answer (200 and 500) per second */
    double disp_cpu_us;         /* dispatchers' CPU per answered request */
    double pg_cpu_us;           /* PostgreSQL's CPU per answered request (0: not local) */
    bool complete;
};

/* One pass of section 2: plain HTTP or HTTPS. */
struct e2e_scheme {
    bool tls;
    const char *tprefix;        /* the tenants' webhooks point at this scheme's ports */
    const char *key;            /* prefix of the figures' keys: "" or "https_" */
    const char *name;           /* "HTTP", "HTTPS" */
    const char *sat_tag;        /* event tags: saturation, latency, warm-up */
    const char *lat_tag;
    const char *warm_tag;
};

static const struct e2e_scheme e2e_http = { false, "bt", "", "HTTP", "s2d", "l2d", NULL };
static const struct e2e_scheme e2e_https = { true, "hs", "https_", "HTTPS", "s2sd", "l2sd", "w2sd" };

/* TLS handshakes the receiver counted so far (they survive its resets). */
struct e2e_tls_count {
    long long full, resumed, failed;
    long long open;             /* connections open at the receiver (HTTP and HTTPS) */
};

static struct e2e_tls_count e2e_tls_snap(struct bench_env *env)
{
    struct e2e_tls_count t = { 0 };
    json_t *stats = bench_receiver_stats(env);
    t.full = bench_stat(stats, "tls_full");
    t.resumed = bench_stat(stats, "tls_resumed");
    t.failed = bench_stat(stats, "tls_failed");
    t.open = bench_stat(stats, "open");
    json_decref(stats);
    return t;
}

static struct e2e_tls_count e2e_tls_diff(struct e2e_tls_count a, struct e2e_tls_count b)
{
    return (struct e2e_tls_count){ b.full - a.full, b.resumed - a.resumed, b.failed - a.failed, b.open };
}

struct gen_ctx {
    const char *tprefix;
    int ntenants;
    const char *tag;
    int partitions;
};

static void e2e_gen_one(struct bench_producer *p, long i, void *arg)
{
    const struct gen_ctx *g = arg;
    char tenant[32];
    snprintf(tenant, sizeof(tenant), "%s%03ld", g->tprefix, i % g->ntenants);
    /* partitions round-robin: both dispatchers get the same share */
    bprod_send(p, (int32_t)(i % g->partitions), tenant, "booking.scheduled", g->tag, i, NULL);
}

static void e2e_signal_dispatchers(struct bench_env *env, int sig)
{
    pid_t pids[16];
    size_t n = bench_dispatchers(env, pids, 16);
    for (size_t i = 0; i < n; i++)
        kill(pids[i], sig);
}

/* The backlog size for one saturation run: about plan.saturate_ms at the
 * limit, at most what the mock broker keeps (5 MB per partition). */
static long e2e_backlog(struct bench_env *env)
{
    /* without limit 1a (--sections), the largest backlog */
    double limit = env->limit_http_posts > 0 ? env->limit_http_posts : 1e9;
    long n = (long)(limit * (double)env->plan.saturate_ms / 1000.0);
    long cap = (long)env->partitions * (4L * 1024 * 1024 / (env->plan.payload_bytes + 100));
    if (n > env->plan.backlog_max)
        n = env->plan.backlog_max;
    if (n > cap)
        n = cap;
    if (n < 1000)
        n = 1000;
    return n;
}

/* Produce 'n' events for tenants <tprefix>000.. while the dispatchers are
 * stopped, let them go and wait for 'want_ok' deliveries. */
static struct run_result e2e_saturate(struct bench_env *env, struct bench_producer *p, const char *tag,
                                      const char *tprefix, int ntenants, long n, long long want_ok)
{
    struct run_result r = { .sent = n };
    struct gen_ctx g = { tprefix, ntenants, tag, env->partitions };
    bench_receiver_reset(env);
    e2e_signal_dispatchers(env, SIGSTOP);
    long long t0 = bench_now_us();
    for (long i = 0; i < n; i++)
        e2e_gen_one(p, i, &g);
    long missing = bprod_flush(p, 30000);
    long long produce_ms = (bench_now_us() - t0) / 1000;
    struct bench_cpu c0, c1;
    bench_cpu_snap(env, &c0);
    e2e_signal_dispatchers(env, SIGCONT);
    if (missing) {
        report_error("%ld events not acknowledged by Kafka", missing);
        return r;
    }
    if (produce_ms > 8000)
        report_note("producing the backlog took %lld ms (session timeout 10 s)", produce_ms);
    json_t *stats = bench_receiver_wait(env, want_ok, 0, 60000 + n / 10);
    bench_cpu_snap(env, &c1);
    char note[512];
    bench_cpu_note(&c0, &c1, note, sizeof(note));
    report_note("%s: %s", tag, note);
    r.ok = bench_stat(stats, "ok");
    r.fail = bench_stat(stats, "fail");
    if (r.ok + r.fail > 0) {
        r.disp_cpu_us = (double)(c1.dispatchers - c0.dispatchers) / (double)(r.ok + r.fail);
        r.pg_cpu_us = (double)(c1.postgres - c0.postgres) / (double)(r.ok + r.fail);
    }
    long long first = bench_stat(stats, "first_ok_us"), last = bench_stat(stats, "last_ok_us");
    r.complete = r.ok >= want_ok;
    if (last > first)
        r.rate = (double)(r.ok - 1) * 1e6 / (double)(last - first);
    long long ff = bench_stat(stats, "first_fail_us"), lf = bench_stat(stats, "last_fail_us");
    long long a_first = ff && ff < first ? ff : first, a_last = lf > last ? lf : last;
    if (a_last > a_first)
        r.attempts_rate = (double)(r.ok + r.fail - 1) * 1e6 / (double)(a_last - a_first);
    json_decref(stats);
    if (!r.complete)
        report_error("only %lld of %lld deliveries arrived", r.ok, want_ok);
    return r;
}

/* Attempt records of the events tagged 'tag' that succeeded, once they
 * reach 'want' (or 15 s pass). */
static long long e2e_attempts(struct bench_env *env, const char *tag, long long want)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM attempts WHERE starts_with(event_id, 'evt_%s_') AND success",
             tag);
    return bench_sql_wait(env->pg, sql, want, 15000);
}

static void e2e_check_attempts(struct bench_env *env, const char *key, const char *tag, long long delivered)
{
    long long rows = e2e_attempts(env, tag, delivered);
    report_fig(key, strncmp(key, "https_", 6) == 0
                        ? "HTTPS: attempt records (success) in PostgreSQL == deliveries (1 = yes)"
                        : "attempt records (success) in PostgreSQL == deliveries (1 = yes)",
               rows == delivered ? 1.0 : 0.0, "");
    if (rows != delivered)
        report_note("attempt records %lld, deliveries %lld (tag %s)", rows, delivered, tag);
}

/* Open loop at 'rate' for plan.latency_ms; latency from the receiver. */
static void e2e_latency(struct bench_env *env, struct bench_producer *p, const struct e2e_scheme *sc, int ndisp,
                        double rate)
{
    char tag[16], key[64], label[160];
    const char *over = sc->tls ? " HTTPS" : "";
    snprintf(tag, sizeof(tag), "%s%d", sc->lat_tag, ndisp);
    struct gen_ctx g = { sc->tprefix, 100, tag, env->partitions };
    bench_receiver_reset(env);
    struct e2e_tls_count t0 = e2e_tls_snap(env);
    struct bench_cpu c0, c1;
    bench_cpu_snap(env, &c0);
    long sent = bprod_run_rate(p, rate, env->plan.latency_ms, e2e_gen_one, &g);
    bprod_flush(p, 30000);
    json_t *stats = bench_receiver_wait(env, sent, 0, 30000);
    bench_cpu_snap(env, &c1);
    long long ok = bench_stat(stats, "ok");
    /* what the open loop costs: at this rate batches are smaller than in a drain */
    char note[512];
    bench_cpu_note(&c0, &c1, note, sizeof(note));
    report_note("%s: %s", tag, note);
    if (ok > 0) {
        snprintf(key, sizeof(key), "%sd%d_latency_dispatcher_cpu_us", sc->key, ndisp);
        snprintf(label, sizeof(label), "%d dispatcher(s)%s: open loop, dispatcher CPU per delivery", ndisp, over);
        report_fig(key, label, (double)(c1.dispatchers - c0.dispatchers) / (double)ok, "us");
        if (c1.postgres > c0.postgres) {
            snprintf(key, sizeof(key), "%sd%d_latency_postgres_cpu_us", sc->key, ndisp);
            snprintf(label, sizeof(label), "%d dispatcher(s)%s: open loop, PostgreSQL CPU per delivery", ndisp, over);
            report_fig(key, label, (double)(c1.postgres - c0.postgres) / (double)ok, "us");
        }
    }
    snprintf(key, sizeof(key), "%sd%d_latency_rate", sc->key, ndisp);
    snprintf(label, sizeof(label), "%d dispatcher(s)%s: open-loop rate for latency (50 %% of saturation)", ndisp,
             over);
    report_fig(key, label, (double)sent * 1000.0 / (double)env->plan.latency_ms, "/s");
    const char *pct[4][2] = { { "p50_us", "p50" }, { "p99_us", "p99" }, { "p999_us", "p99.9" }, { "max_us", "max" } };
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof(key), "%sd%d_latency_%s_ms", sc->key, ndisp, pct[i][1]);
        snprintf(label, sizeof(label), "%d dispatcher(s)%s: produce-to-receipt latency %s", ndisp, over, pct[i][1]);
        report_fig(key, label, (double)bench_stat(stats, pct[i][0]) / 1000.0, "ms");
    }
    if (ok < sent)
        report_error("%s latency run: %lld of %ld deliveries arrived", sc->name, ok, sent);
    if (sc->tls) {
        struct e2e_tls_count t = e2e_tls_diff(t0, e2e_tls_snap(env));
        report_note("%d dispatcher(s), HTTPS latency run: %lld full and %lld resumed TLS handshakes, %lld failed, "
                    "for %lld deliveries", ndisp, t.full, t.resumed, t.failed, ok);
    }
    /* the same load on a devbroker with no hookline behind it: the broker's
     * share (over HTTPS the same as over HTTP: not measured again) */
    double kpct[4];
    if (!sc->tls && bench_kafka_latency(env, rate, env->plan.latency_ms, BENCH_FETCH_WAIT_MS, kpct) == 0) {
        snprintf(key, sizeof(key), "d%d_kafka_alone_p50_ms", ndisp);
        report_fig(key, "  the same rate, Kafka alone (devbroker, dispatcher's consumer settings): p50", kpct[0], "ms");
        snprintf(key, sizeof(key), "d%d_kafka_alone_p99_ms", ndisp);
        report_fig(key, "  the same rate, Kafka alone: p99", kpct[1], "ms");
    }
    snprintf(key, sizeof(key), "%sd%d_latency_attempts_match", sc->key, ndisp);
    e2e_check_attempts(env, key, tag, ok);
    if (ndisp == 2 && !sc->tls) {
        double p99 = (double)bench_stat(stats, "p99_us") / 1000.0;
        report_target("p99 produce-to-receipt at half load (2 dispatchers)", p99, "ms", "< 50 ms", p99 < 50);
    }
    json_decref(stats);
}

/* Over HTTPS: a warm-up run of 'n' events that opens the connections
 * (those of the HTTP pass are to other ports), with the handshakes it took. */
static void e2e_warm_up(struct bench_env *env, struct bench_producer *p, const struct e2e_scheme *sc, int ndisp, long n)
{
    char tag[16], key[64], label[160];
    snprintf(tag, sizeof(tag), "%s%d", sc->warm_tag, ndisp);
    struct e2e_tls_count t0 = e2e_tls_snap(env);
    struct run_result r = e2e_saturate(env, p, tag, sc->tprefix, 100, n, n);
    struct e2e_tls_count t = e2e_tls_diff(t0, e2e_tls_snap(env));
    snprintf(key, sizeof(key), "%sd%d_cold_deliveries_per_s", sc->key, ndisp);
    snprintf(label, sizeof(label), "%d dispatcher(s) %s: deliveries/s of the warm-up run of %ld (opens connections)",
             ndisp, sc->name, n);
    report_fig(key, label, r.rate, "/s");
    snprintf(key, sizeof(key), "%sd%d_cold_tls_full", sc->key, ndisp);
    snprintf(label, sizeof(label), "%d dispatcher(s) %s: full TLS handshakes in the warm-up run", ndisp, sc->name);
    report_fig(key, label, (double)t.full, "");
    snprintf(key, sizeof(key), "%sd%d_cold_tls_resumed", sc->key, ndisp);
    snprintf(label, sizeof(label), "%d dispatcher(s) %s: resumed TLS handshakes (session ticket) in the warm-up run",
             ndisp, sc->name);
    report_fig(key, label, (double)t.resumed, "");
    if (t.failed > 0)
        report_note("%d dispatcher(s), HTTPS warm-up: %lld TLS handshakes failed", ndisp, t.failed);
}

/* Saturation and latency over one scheme with the 'ndisp' dispatchers
 * running: backlogs of 'n' events. */
static void e2e_pass(struct bench_env *env, struct bench_producer *p, const struct e2e_scheme *sc, int ndisp, long n)
{
    char tag[16], key[64], label[160];
    const char *over = sc->tls ? " HTTPS" : "";
    if (sc->tls) {
        long warm = n / 5 > 500 ? n / 5 : 500;
        e2e_warm_up(env, p, sc, ndisp, warm);
    }
    snprintf(tag, sizeof(tag), "%s%d", sc->sat_tag, ndisp);
    struct e2e_tls_count t0 = e2e_tls_snap(env);
    struct run_result r = e2e_saturate(env, p, tag, sc->tprefix, 100, n, n);
    struct e2e_tls_count t = e2e_tls_diff(t0, e2e_tls_snap(env));
    snprintf(key, sizeof(key), "%sd%d_deliveries_per_s", sc->key, ndisp);
    snprintf(label, sizeof(label), "%d dispatcher(s)%s: deliveries/s at saturation", ndisp, over);
    report_fig(key, label, r.rate, "/s");
    double limit = sc->tls ? env->limit_https_posts : env->limit_http_posts;
    double ratio = limit > 0 ? r.rate / limit : 0;
    snprintf(key, sizeof(key), "%sd%d_ratio_to_limit", sc->key, ndisp);
    snprintf(label, sizeof(label), "%d dispatcher(s)%s: ratio to limit 1a (%s)", ndisp, over, sc->name);
    report_fig(key, label, ratio, "");
    snprintf(key, sizeof(key), "%sd%d_dispatcher_cpu_us", sc->key, ndisp);
    snprintf(label, sizeof(label), "%d dispatcher(s)%s: dispatcher CPU per delivery", ndisp, over);
    report_fig(key, label, r.disp_cpu_us, "us");
    if (r.pg_cpu_us > 0) {
        snprintf(key, sizeof(key), "%sd%d_postgres_cpu_us", sc->key, ndisp);
        snprintf(label, sizeof(label), "%d dispatcher(s)%s: PostgreSQL CPU per delivery", ndisp, over);
        report_fig(key, label, r.pg_cpu_us, "us");
    }
    snprintf(key, sizeof(key), "%sd%d_attempts_match", sc->key, ndisp);
    e2e_check_attempts(env, key, tag, r.ok);
    if (sc->tls) {
        snprintf(key, sizeof(key), "%sd%d_tls_full", sc->key, ndisp);
        snprintf(label, sizeof(label), "%d dispatcher(s) HTTPS: full TLS handshakes during the saturation run", ndisp);
        report_fig(key, label, (double)t.full, "");
        snprintf(key, sizeof(key), "%sd%d_tls_resumed", sc->key, ndisp);
        snprintf(label, sizeof(label), "%d dispatcher(s) HTTPS: resumed TLS handshakes during the saturation run",
                 ndisp);
        report_fig(key, label, (double)t.resumed, "");
        /* a delivery that needed no handshake went over an open connection */
        snprintf(key, sizeof(key), "%sd%d_conn_reused_share", sc->key, ndisp);
        snprintf(label, sizeof(label), "%d dispatcher(s) HTTPS: deliveries on an already open connection", ndisp);
        report_fig(key, label, r.ok > 0 ? 100.0 * (1.0 - (double)(t.full + t.resumed) / (double)r.ok) : 0, "%");
        report_note("%d dispatcher(s), HTTPS saturation: %lld TLS handshakes failed; %lld connections open at the "
                    "receiver after it (HTTP and HTTPS, every dispatcher)", ndisp, t.failed, t.open);
    }
    if (ndisp == 2)
        report_target(sc->tls ? "end-to-end deliveries/s vs limit 1a (2 dispatchers, HTTPS)"
                              : "end-to-end deliveries/s vs limit 1a (2 dispatchers, HTTP)",
                      ratio * 100, "%", ">= 50 %", ratio >= 0.5);
    if (!sc->tls)
        env->sat_rate[ndisp] = r.rate;
    if (r.rate > 0)
        e2e_latency(env, p, sc, ndisp, r.rate / 2);
}

void bench_e2e(struct bench_env *env)
{
    report_section("2", "End-to-end: Kafka -> dispatchers -> receiver (HTTPS, then HTTP, keep-alive), "
                        "100 tenants x 1 webhook");
    struct bench_producer *p = bprod_new(hx_brokers(env->st), BENCH_LINGER_MS, env->plan.payload_bytes);
    long n = e2e_backlog(env);
    report_note("saturation: a backlog of %ld events (%d B) per run, drained; latency: open loop for %ld ms", n,
                env->plan.payload_bytes, env->plan.latency_ms);
    report_note("HTTPS: TLS 1.3 to the receiver's TLS ports, the test CA in HOOKLINE_CA_FILE; a warm-up run of "
                "%ld events first opens the connections, as 1a does before measuring", n / 5 > 500 ? n / 5 : 500);
    /* HTTPS first, then fresh dispatchers for HTTP: each scheme's pool of
     * idle connections (at most 4 per in-flight slot, deliver.c) to itself,
     * and sections 3 and 5 after this one find the HTTP pools they always
     * found */
    const struct e2e_scheme *passes[2] = { &e2e_https, &e2e_http };
    for (int i = 0; i < 2; i++) {
        bench_dispatchers_stop(env);
        for (int ndisp = 1; ndisp <= 2; ndisp++) {
            pid_t pids[16];
            while (bench_dispatchers(env, pids, 16) < (size_t)ndisp)
                bench_dispatcher_start(env);
            if (bench_dispatchers_ready(env, p, 60000) < 0) {
                report_error("%d dispatcher(s) did not take every partition", ndisp);
                break;
            }
            e2e_pass(env, p, passes[i], ndisp, n);
        }
    }
    bprod_free(p);
}

void bench_fanout(struct bench_env *env)
{
    int w = env->plan.fanout_webhooks;
    report_section("3", "Fan-out: one event to every webhook of one tenant");
    struct bench_producer *p = bprod_new(hx_brokers(env->st), BENCH_LINGER_MS, env->plan.payload_bytes);
    if (bench_dispatchers_ready(env, p, 60000) < 0) {
        report_error("the dispatchers did not take every partition");
        bprod_free(p);
        return;
    }
    double best = 0, worst = 0, sum = 0;
    int runs = env->plan.fanout_runs, done = 0;
    for (int r = 0; r < runs; r++) {
        bench_receiver_reset(env);
        long long ts = bprod_send(p, -1, "fan000", "conversation.started", "fan", r, NULL);
        bprod_flush(p, 10000);
        json_t *stats = bench_receiver_wait(env, w, 0, 120000);
        long long ok = bench_stat(stats, "ok"), last = bench_stat(stats, "last_ok_us");
        json_decref(stats);
        if (ok < w) {
            report_error("run %d: %lld of %d deliveries arrived", r + 1, ok, w);
            continue;
        }
        double secs = (double)(last - ts) / 1e6;
        best = done == 0 || secs < best ? secs : best;
        worst = secs > worst ? secs : worst;
        sum += secs;
        done++;
    }
    if (done > 0) {
        char label[128];
        snprintf(label, sizeof(label), "%d webhooks: seconds from produce to the last delivery (mean of %d)", w, done);
        report_fig("seconds_to_last", label, sum / done, "s");
        report_fig("seconds_to_last_best", "best run", best, "s");
        report_fig("seconds_to_last_worst", "worst run", worst, "s");
        report_fig("deliveries_per_s", "deliveries/s during the fan-out (mean)", (double)w * done / sum, "/s");
        report_target("10,000-way fan-out", sum / done, "s", "< 1 s", sum / done < 1.0);
    }
    e2e_check_attempts(env, "attempts_match", "fan", (long long)w * done);
    bprod_free(p);
}

void bench_retry(struct bench_env *env)
{
    report_section("5", "Retry path: 10 % of endpoints answer 500, 2 dispatchers (schedule 1s,5m: one retry in the run)");
    struct bench_producer *p = bprod_new(hx_brokers(env->st), BENCH_LINGER_MS, env->plan.payload_bytes);
    if (bench_dispatchers_ready(env, p, 60000) < 0) {
        report_error("the dispatchers did not take every partition");
        bprod_free(p);
        return;
    }
    long n = e2e_backlog(env);
    long long want = 0;
    for (long i = 0; i < n; i++)
        want += (i % 100) % 10 != 0;    /* webhook k of tenant rt<k> fails when k % 10 == 0 */
    struct run_result r = e2e_saturate(env, p, "r5", "rt", 100, n, want);
    report_fig("healthy_deliveries_per_s", "healthy endpoints: deliveries/s", r.rate, "/s");
    report_fig("attempts_per_s", "all attempts/s (healthy + failing, first tries and retries)", r.attempts_rate, "/s");
    report_fig("failed_attempts", "failed attempts answered during the run", (double)r.fail, "");
    double base = env->sat_rate[2], share = (double)want / (double)n;
    if (base > 0) {
        /* the same endpoints got 'share' of the events when all were healthy */
        double ratio = r.rate / (base * share);
        report_fig("ratio_same_endpoints", "vs the same endpoints when all were healthy (section 2 x 90 %)", ratio, "");
        report_fig("ratio_to_all_healthy", "vs every endpoint when all were healthy (section 2, 2 dispatchers)",
                   r.rate / base, "");
        report_target("healthy endpoints' deliveries/s with 10 % failing, vs all healthy", ratio * 100, "%",
                      ">= 90 %", ratio >= 0.9);
    }
    e2e_check_attempts(env, "attempts_match", "r5", r.ok);
    long long pending = bench_sql_num(env->pg, "SELECT count(*) FROM retries", 0, NULL);
    report_note("%lld retries pending right after the run", pending);
    bprod_free(p);
}
