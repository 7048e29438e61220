/* tenants.c: tenants against each other, and one tenant against the group.
 *
 *   7  isolation, one dispatcher: tenant calm000 gets a steady open-loop
 *      stream to a healthy endpoint while tenant noisy000 floods its own
 *      webhooks, three ways: (a) one with rate_limit 1, (b) one whose
 *      endpoint answers after 14 s, (c) 40 such webhooks. Calm's
 *      produce-to-receipt p50/p99 and the lag of noisy's partition.
 *   8  one big tenant: 10 webhooks, every event keyed by the tenant (so all
 *      in one partition, read by one dispatcher), produced while the
 *      dispatchers run: deliveries/s with 1 and 2 dispatchers, the ratio to
 *      limit 1a, every delivery made once, and each dispatcher's share.
 *
 * Each starts its dispatchers afresh with their /metrics on (the lag and
 * the counters come from there) and leaves none running.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define M_CONSUMED "hookline_dispatcher_events_consumed_total"
#define M_SPILLED "hookline_dispatcher_spilled_total"
#define M_LOST "hookline_dispatcher_events_skipped_total{reason=\"lost\"}"

/* ---- 7: noisy neighbours ----------------------------------------------------------- */

struct iso_way {
    const char *key;            /* figure keys <key>_... */
    const char *what;           /* "%ld" takes the seconds of a slow answer */
    int webhooks;               /* noisy's, each an endpoint of its own */
    int rate_limit;             /* 0: none */
    bool slow;                  /* its endpoints answer after plan.iso_slow_ms */
    int events_div;             /* noisy's events: plan.iso_noisy_events / this */
};

static const struct iso_way iso_ways[] = {
    { "a", "(a) rate_limit 1", 1, 1, false, 1 },
    { "b", "(b) an endpoint answering after %ld s", 1, 0, true, 1 },
    { "c", "(c) 40 endpoints answering after %ld s", 40, 0, true, 20 },
};

struct iso_gen {
    struct bench_env *env;
    pid_t pid;
    long noisy_events, flood_at, sample_every;
    int32_t noisy_part, calm_part;
    char lag_series[128];
    char noisy_tag[8], calm_tag[8];
    double max_lag;
    long long flood_us;
};

/* Calm's event number 'i'; the flood goes out at once before event
 * 'flood_at'; noisy's lag is sampled about once a second after it. */
static void iso_gen_one(struct bench_producer *p, long i, void *arg)
{
    struct iso_gen *g = arg;
    if (i == g->flood_at) {
        long long t0 = bench_now_us();
        for (long k = 0; k < g->noisy_events; k++)
            bprod_send(p, g->noisy_part, "noisy000", "booking.scheduled", g->noisy_tag, k, NULL);
        g->flood_us = bench_now_us() - t0;
    }
    bprod_send(p, g->calm_part, "calm000", "booking.scheduled", g->calm_tag, i, NULL);
    if (i > g->flood_at && (i - g->flood_at) % g->sample_every == 0) {
        double lag = bench_dispatcher_metric(g->env, g->pid, g->lag_series);
        if (lag > g->max_lag)
            g->max_lag = lag;
    }
}

/* Calm's webhook and noisy's. Webhook number i posts to receiver port
 * i % 32: calm's is number 1, noisy's are numbered so that they use ports
 * 2-31 only. Calm and noisy never share a host:port, as two tenants'
 * endpoints on different servers: libcurl, with the dispatcher's
 * CURLOPT_PIPEWAIT, holds new plain-HTTP requests to a host:port until its
 * first answer, so a slow endpoint holds back the others on its host:port. */
static int iso_seed(struct bench_env *env, const struct iso_way *way, const char *path)
{
    if (bench_seed_webhooks(env, "c7", "calm", 1, 1, 1, "{booking}", "/c", 0, false) < 0)
        return -1;
    for (int done = 0, round = 0; done < way->webhooks; round++) {
        int n = way->webhooks - done < BENCH_PORTS - 2 ? way->webhooks - done : BENCH_PORTS - 2;
        if (bench_seed_webhooks(env, "n7", "noisy", 1, (long)round * BENCH_PORTS + 2, n, "{booking}", path, 0,
                                false) < 0)
            return -1;
        done += n;
    }
    return 0;
}

/* One way: a fresh dispatcher, the stream, the figures. Returns calm's
 * p99 in ms (of the deliveries that arrived; *all_arrived says whether all
 * did), or -1 if nothing could be measured. */
static double iso_run(struct bench_env *env, const struct iso_way *way, bool *all_arrived)
{
    const struct bench_plan *pl = &env->plan;
    char what[64], path[64], key[64], label[256];
    snprintf(what, sizeof(what), way->what, pl->iso_slow_ms / 1000);
    if (way->slow)
        snprintf(path, sizeof(path), "/slow/%ld/n", pl->iso_slow_ms);
    else
        snprintf(path, sizeof(path), "/side/n");
    if (bench_webhooks_reset(env) < 0 || iso_seed(env, way, path) < 0) {
        report_error("%s: cannot insert the webhooks", what);
        return -1;
    }
    if (way->rate_limit > 0) {
        char rl[16];
        snprintf(rl, sizeof(rl), "%d", way->rate_limit);
        const char *params[1] = { rl };
        if (bench_sql(env->pg, "UPDATE webhooks SET rate_limit = $1::int WHERE tenant_id = 'noisy000'", 1, params) <
            0) {
            report_error("%s: cannot set the rate limit", what);
            return -1;
        }
    }
    /* slow answers must not time out: they are slow, not failing */
    pid_t pid = bench_dispatcher_start_metrics(env, "HOOKLINE_DELIVERY_TIMEOUT=30s");
    struct bench_producer *p = bprod_new(hx_brokers(env->st), BENCH_LINGER_MS, pl->payload_bytes);
    double p99 = -1;
    if (bench_dispatchers_ready(env, p, 60000) < 0) {
        report_error("%s: the dispatcher did not take every partition", what);
        goto out;
    }
    struct iso_gen g = {
        .env = env,
        .pid = pid,
        .noisy_events = pl->iso_noisy_events / way->events_div,
        .flood_at = (long)(pl->iso_calm_rate * (double)pl->iso_calm_ms / 1000.0) / 10,
        .sample_every = pl->iso_calm_rate >= 2 ? (long)pl->iso_calm_rate : 1,
        .noisy_part = 0,
        .calm_part = env->partitions > 1 ? 1 : 0,
    };
    snprintf(g.noisy_tag, sizeof(g.noisy_tag), "n7%s", way->key);
    snprintf(g.calm_tag, sizeof(g.calm_tag), "c7%s", way->key);
    snprintf(g.lag_series, sizeof(g.lag_series),
             "hookline_dispatcher_consumer_lag{topic=\"" BENCH_TOPIC "\",partition=\"%d\"}", (int)g.noisy_part);
    double spilled0 = bench_dispatcher_metric(env, pid, M_SPILLED);
    bench_receiver_reset(env);
    long sent = bprod_run_rate(p, pl->iso_calm_rate, pl->iso_calm_ms, iso_gen_one, &g);
    bprod_flush(p, 30000);
    json_t *stats = bench_receiver_wait(env, sent, 0, 30000);
    long long ok = bench_stat(stats, "ok"), side = bench_stat(stats, "side");
    /* the dispatcher samples its lag once a second: let it see the end */
    hx_sleep_ms(1300);
    char *text = bench_dispatcher_metrics(env, pid);
    double lag_end = text ? bench_metric(text, g.lag_series) : NAN;
    double spilled = text ? bench_metric(text, M_SPILLED) - spilled0 : NAN;
    free(text);
    if (isfinite(lag_end) && lag_end > g.max_lag)
        g.max_lag = lag_end;

    report_note("%s: calm000 %ld events at %.0f/s on partition %d; noisy000 %ld events (%d webhook(s), %ld "
                "deliveries) produced at once %ld ms in, in %.0f ms, on partition %d; %.0f deliveries went to "
                "the slow lane",
                what, sent, pl->iso_calm_rate, (int)g.calm_part, g.noisy_events, way->webhooks,
                g.noisy_events * way->webhooks, (long)((double)g.flood_at * 1000.0 / pl->iso_calm_rate),
                (double)g.flood_us / 1000.0, (int)g.noisy_part, spilled);
    const char *pct[3][2] = { { "p50_us", "p50" }, { "p99_us", "p99" }, { "max_us", "max" } };
    for (int i = 0; i < 3; i++) {
        snprintf(key, sizeof(key), "%s_calm_%s_ms", way->key, pct[i][1]);
        snprintf(label, sizeof(label), "%s: calm's produce-to-receipt %s", what, pct[i][1]);
        report_fig(key, label, (double)bench_stat(stats, pct[i][0]) / 1000.0, "ms");
    }
    snprintf(key, sizeof(key), "%s_calm_arrived_pct", way->key);
    snprintf(label, sizeof(label), "%s: calm's deliveries that arrived (within 30 s of the stream's end)", what);
    report_fig(key, label, sent > 0 ? (double)ok * 100.0 / (double)sent : 0, "%");
    snprintf(key, sizeof(key), "%s_noisy_lag_end", way->key);
    snprintf(label, sizeof(label), "%s: noisy's partition lag at the end", what);
    report_fig(key, label, lag_end, "events");
    snprintf(key, sizeof(key), "%s_noisy_lag_max", way->key);
    snprintf(label, sizeof(label), "%s: noisy's partition lag, largest seen (sampled each second)", what);
    report_fig(key, label, g.max_lag, "events");
    snprintf(key, sizeof(key), "%s_noisy_answered", way->key);
    snprintf(label, sizeof(label), "%s: noisy's requests reaching its endpoint(s) during the run", what);
    report_fig(key, label, (double)side, "");
    *all_arrived = ok >= sent;
    if (ok < sent)
        report_error("%s: %lld of calm's %ld deliveries arrived; the p50/p99/max are of those", what, ok, sent);
    if (ok > 0)
        p99 = (double)bench_stat(stats, "p99_us") / 1000.0;
    json_decref(stats);
out:
    /* noisy's held requests answer now, so the dispatcher stops at once */
    bench_receiver_release(env);
    bench_dispatchers_stop(env);
    bprod_free(p);
    return p99;
}

void bench_isolation(struct bench_env *env)
{
    report_section("7", "Isolation: a noisy tenant against a calm one, 1 dispatcher");
    report_note("calm000 produces %.0f events/s for %ld ms (open loop) to a healthy endpoint; noisy000's events go "
                "out at once 10 %% into that; a fresh dispatcher for each way (delivery timeout 30 s)",
                env->plan.iso_calm_rate, env->plan.iso_calm_ms);
    double worst = -1;
    bool all = true;
    for (size_t i = 0; i < sizeof(iso_ways) / sizeof(iso_ways[0]); i++) {
        bool arrived = false;
        double p99 = iso_run(env, &iso_ways[i], &arrived);
        all = all && arrived && p99 >= 0;
        if (p99 > worst)
            worst = p99;
    }
    if (worst >= 0)
        report_target("calm tenant's deliveries all arrive, p99 produce-to-receipt, beside a noisy one (worst of 3 "
                      "ways)", worst, "ms", "all, < 1,000 ms", all && worst < 1000);
}

/* ---- 8: one big tenant -------------------------------------------------------------- */

#define BIG_WEBHOOKS 10
#define BIG_DISPATCHERS 2

/* Sum of 'series' over the dispatchers 'pids' (NAN if one does not answer). */
static double big_metric_sum(struct bench_env *env, const pid_t *pids, size_t n, const char *series)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += bench_dispatcher_metric(env, pids[i], series);
    return sum;
}

/* The producer's lead over what the dispatchers have read, in events: far
 * under the 5 MiB the development broker keeps per partition, so it never
 * drops an event not yet read. */
static long big_max_lead(const struct bench_plan *pl)
{
    long lead = 2L * 1024 * 1024 / (pl->payload_bytes + 100);
    return lead > 5000 ? 5000 : lead < 20 ? 20 : lead;
}

/* Produce plan.big_events events of big000 (key = tenant: one partition)
 * while 'ndisp' dispatchers run and report what they did with them. */
static void big_run(struct bench_env *env, struct bench_producer *p, int ndisp)
{
    const struct bench_plan *pl = &env->plan;
    char tag[16], key[64], label[160], sql[256];
    pid_t pids[BIG_DISPATCHERS];
    size_t n = bench_dispatchers(env, pids, BIG_DISPATCHERS);
    double consumed0[BIG_DISPATCHERS], spilled0 = big_metric_sum(env, pids, n, M_SPILLED),
           lost0 = big_metric_sum(env, pids, n, M_LOST);
    for (size_t i = 0; i < n; i++)
        consumed0[i] = bench_dispatcher_metric(env, pids[i], M_CONSUMED);
    double consumed_base = big_metric_sum(env, pids, n, M_CONSUMED);
    long events = pl->big_events, lead = big_max_lead(pl), check = lead / 4 < 100 ? lead / 4 : 100;
    long long want = (long long)events * BIG_WEBHOOKS;
    snprintf(tag, sizeof(tag), "b8d%d", ndisp);

    bench_receiver_reset(env);
    struct bench_cpu c0, c1;
    bench_cpu_snap(env, &c0);
    long long t0 = bench_now_us(), waited_us = 0;
    for (long i = 0; i < events; i++) {
        if (i % check == 0) {
            long long w0 = bench_now_us(), progress_at = w0;
            double best = -1;
            for (;;) {
                double read = big_metric_sum(env, pids, n, M_CONSUMED) - consumed_base;
                if (isfinite(read) && (double)i - read <= (double)lead)
                    break;
                if (read > best) {
                    best = read;
                    progress_at = bench_now_us();
                }
                if (bench_now_us() - progress_at > 120000000LL) {
                    report_error("%d dispatcher(s): nothing read for 2 minutes (%ld events produced)", ndisp, i);
                    return;
                }
                hx_sleep_ms(5);
            }
            waited_us += bench_now_us() - w0;
        }
        bprod_send(p, -1, "big000", "booking.scheduled", tag, i, NULL);
    }
    long missing = bprod_flush(p, 30000);
    long long produce_ms = (bench_now_us() - t0) / 1000;
    if (missing) {
        report_error("%d dispatcher(s): %ld events not acknowledged by Kafka", ndisp, missing);
        return;
    }
    json_t *stats = bench_receiver_wait(env, want, 0, 120000 + want / 10);
    bench_cpu_snap(env, &c1);
    long long ok = bench_stat(stats, "ok"), first = bench_stat(stats, "first_ok_us"),
              last = bench_stat(stats, "last_ok_us");
    json_decref(stats);
    double rate = last > first ? (double)(ok - 1) * 1e6 / (double)(last - first) : 0;
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM attempts WHERE starts_with(event_id, 'evt_%s_') AND success",
             tag);
    long long rows = bench_sql_wait(env->pg, sql, want, 30000);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM (SELECT DISTINCT webhook_id, event_id FROM attempts "
             "WHERE starts_with(event_id, 'evt_%s_') AND success) s", tag);
    long long pairs = bench_sql_num(env->pg, sql, 0, NULL);
    hx_sleep_ms(600);   /* the dispatchers publish their counters every 250 ms */
    double spilled = big_metric_sum(env, pids, n, M_SPILLED) - spilled0;
    double lost = big_metric_sum(env, pids, n, M_LOST) - lost0;

    char note[512];
    bench_cpu_note(&c0, &c1, note, sizeof(note));
    report_note("%d dispatcher(s): %ld events produced in %lld ms (%lld ms of it waiting, the lead over what the "
                "dispatchers read kept under %ld events); %s",
                ndisp, events, produce_ms, waited_us / 1000, lead, note);
    snprintf(key, sizeof(key), "d%d_deliveries_per_s", ndisp);
    snprintf(label, sizeof(label), "%d dispatcher(s): deliveries/s, one tenant x %d webhooks", ndisp, BIG_WEBHOOKS);
    report_fig(key, label, rate, "/s");
    if (env->limit_http_posts > 0) {
        snprintf(key, sizeof(key), "d%d_ratio_to_limit", ndisp);
        snprintf(label, sizeof(label), "%d dispatcher(s): ratio to limit 1a (HTTP)", ndisp);
        report_fig(key, label, rate / env->limit_http_posts, "");
    }
    if (env->sat_rate[ndisp] > 0)
        report_note("%d dispatcher(s): %.2f of section 2's rate (100 tenants)", ndisp, rate / env->sat_rate[ndisp]);
    snprintf(key, sizeof(key), "d%d_all_once", ndisp);
    snprintf(label, sizeof(label), "%d dispatcher(s): deliveries == events x %d, each once and recorded (1 = yes)",
             ndisp, BIG_WEBHOOKS);
    report_fig(key, label, ok == want && rows == want && pairs == want ? 1.0 : 0.0, "");
    if (ok != want || rows != want || pairs != want)
        report_error("%d dispatcher(s): %lld deliveries arrived, %lld successful attempt records (%lld distinct), "
                     "%lld expected", ndisp, ok, rows, pairs, want);
    snprintf(key, sizeof(key), "d%d_lost_offsets", ndisp);
    snprintf(label, sizeof(label), "%d dispatcher(s): events skipped as lost (Kafka no longer held them)", ndisp);
    report_fig(key, label, lost, "");
    snprintf(key, sizeof(key), "d%d_slow_lane_pct", ndisp);
    snprintf(label, sizeof(label), "%d dispatcher(s): deliveries that went through the slow lane (PostgreSQL)", ndisp);
    report_fig(key, label, want > 0 ? spilled * 100.0 / (double)want : 0, "%");
    if (ok > 0) {
        snprintf(key, sizeof(key), "d%d_dispatcher_cpu_us", ndisp);
        snprintf(label, sizeof(label), "%d dispatcher(s): dispatcher CPU per delivery", ndisp);
        report_fig(key, label, (double)(c1.dispatchers - c0.dispatchers) / (double)ok, "us");
        if (env->pg_postmaster) {
            snprintf(key, sizeof(key), "d%d_postgres_cpu_us", ndisp);
            snprintf(label, sizeof(label), "%d dispatcher(s): PostgreSQL CPU per delivery", ndisp);
            report_fig(key, label, (double)(c1.postgres - c0.postgres) / (double)ok, "us");
        }
    }
    if (n < 2)
        return;
    /* who read the tenant's partition, and who delivered: the attempt records name the process */
    size_t reader = 0;
    double read_most = -1;
    for (size_t i = 0; i < n; i++) {
        double c = bench_dispatcher_metric(env, pids[i], M_CONSUMED) - consumed0[i];
        if (c > read_most) {
            read_most = c;
            reader = i;
        }
    }
    for (size_t i = 0; i < n; i++) {
        char name_like[48];
        snprintf(name_like, sizeof(name_like), "%%-%ld", (long)pids[i]);
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM attempts WHERE starts_with(event_id, 'evt_%s_') AND success "
                 "AND dispatcher LIKE $1", tag);
        const char *params[1] = { name_like };
        long long mine = bench_sql_num(env->pg, sql, 1, params);
        bool is_reader = i == reader;
        snprintf(key, sizeof(key), "d%d_share_%s_pct", ndisp, is_reader ? "reader" : "other");
        snprintf(label, sizeof(label), "%d dispatchers: share of the deliveries, the one %s the tenant's partition",
                 ndisp, is_reader ? "reading" : "not reading");
        report_fig(key, label, rows > 0 && mine >= 0 ? (double)mine * 100.0 / (double)rows : 0, "%");
    }
}

void bench_big_tenant(struct bench_env *env)
{
    report_section("8", "One big tenant: 10 webhooks, every event in one partition, 1 and 2 dispatchers");
    if (bench_webhooks_reset(env) < 0 ||
        bench_seed_webhooks(env, "bg", "big", 1, 0, BIG_WEBHOOKS, "{booking}", "/b", 0, false) < 0) {
        report_error("cannot insert the webhooks");
        return;
    }
    report_note("%ld events of %d B keyed by the tenant, %ld deliveries per run to %d endpoints (ports) of the "
                "receiver, produced while the dispatchers run",
                (long)env->plan.big_events, env->plan.payload_bytes, (long)env->plan.big_events * BIG_WEBHOOKS,
                BIG_WEBHOOKS);
    struct bench_producer *p = bprod_new(hx_brokers(env->st), BENCH_LINGER_MS, env->plan.payload_bytes);
    for (int ndisp = 1; ndisp <= BIG_DISPATCHERS; ndisp++) {
        pid_t pids[BIG_DISPATCHERS];
        while (bench_dispatchers(env, pids, BIG_DISPATCHERS) < (size_t)ndisp)
            bench_dispatcher_start_metrics(env, NULL);
        if (bench_dispatchers_ready(env, p, 60000) < 0) {
            report_error("%d dispatcher(s) did not take every partition", ndisp);
            break;
        }
        big_run(env, p, ndisp);
        if (bench_sql_wait(env->pg, "SELECT -count(*) FROM retries", 0, 30000) != 0)
            report_note("deliveries still pending after the run with %d dispatcher(s)", ndisp);
    }
    bench_dispatchers_stop(env);
    bprod_free(p);
}
