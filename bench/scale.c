/* scale.c: section 4, subscription scale.
 *
 * 1,000 / 10,000 / 100,000 active webhooks across 1,000 tenants, inserted
 * with SQL in bulk (the dispatcher loads them from webhook_docs at start).
 * Every webhook subscribes to the booking group with its own filter
 * (data.owner = u_<n>), so an event of a tenant is checked against all of
 * that tenant's webhooks. For each size a fresh dispatcher starts alone; we
 * read its load time and resident memory, then its CPU per event for events
 * no webhook subscribes to (consume + parse) and for events that every
 * webhook of the tenant is a candidate for but whose filter fails (consume +
 * parse + matching). The difference is the matching cost.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct scale_gen {
    int tenants;
    const char *type;
    const char *extra;
    const char *tag;
};

static void scale_gen_one(struct bench_producer *p, long i, void *arg)
{
    const struct scale_gen *g = arg;
    char tenant[16];
    snprintf(tenant, sizeof(tenant), "st%03ld", i % g->tenants);
    bprod_send(p, -1, tenant, g->type, g->tag, i, g->extra);
}

/* Has the dispatcher logging to 'log' finished loading its index? */
static bool scale_running(const char *log)
{
    FILE *fp = log ? fopen(log, "r") : NULL;
    if (fp == NULL)
        return false;
    char line[4096];
    bool running = false;
    while (!running && fgets(line, sizeof(line), fp))
        running = strstr(line, " running: ") != NULL;
    fclose(fp);
    return running;
}

/* CPU microseconds the dispatcher 'pid' spends per event on 'n' events of
 * 'type' (data 'extra'), measured until a sentinel on every partition came
 * through (partitions are read in order). -1 on timeout. */
static double scale_cpu_once(struct bench_env *env, struct bench_producer *p, pid_t pid, long n,
                                  const char *type, const char *extra, const char *tag)
{
    static long sentinel_seq;
    struct scale_gen g = { env->plan.scale_tenants, type, extra, tag };
    bench_receiver_reset(env);
    long long cpu0 = bench_proc_cpu_us(pid);
    for (long i = 0; i < n; i++)
        scale_gen_one(p, i, &g);
    for (int part = 0; part < env->partitions; part++)
        bprod_send(p, part, "probe000", "booking.scheduled", "sentinel", sentinel_seq++, NULL);
    bprod_flush(p, 30000);
    json_t *stats = bench_receiver_wait(env, env->partitions, 0, 60000 + n / 10);
    bool ok = bench_stat(stats, "ok") >= env->partitions;
    json_decref(stats);
    long long cpu1 = bench_proc_cpu_us(pid);
    return ok ? (double)(cpu1 - cpu0) / (double)n : -1;
}

/* The lower of two measurements: the machine's other work only adds. */
static double scale_cpu_per_event(struct bench_env *env, struct bench_producer *p, pid_t pid, long n,
                                  const char *type, const char *extra, const char *tag)
{
    double a = scale_cpu_once(env, p, pid, n, type, extra, tag);
    double b = scale_cpu_once(env, p, pid, n, type, extra, tag);
    return a < 0 ? b : b < 0 || a < b ? a : b;
}

void bench_scale(struct bench_env *env)
{
    report_section("4", "Subscription scale: active webhooks across 1,000 tenants, one dispatcher");
    if (bench_webhooks_reset(env) < 0) {
        report_error("cannot reset the webhooks");
        return;
    }
    struct bench_producer *p = bprod_new(hx_brokers(env->st), BENCH_LINGER_MS, env->plan.payload_bytes);
    long have = 0, events = env->plan.scale_events;
    report_note("filters: {\"data.owner\":\"u_<n>\"}; CPU per event: the lower of two runs of %ld events, none "
                "delivered", events);
    for (int s = 0; s < 3 && env->plan.scale_sizes[s] > 0; s++) {
        long size = env->plan.scale_sizes[s];
        char key[64], label[160];
        if (bench_seed_webhooks(env, "sc", "st", env->plan.scale_tenants, have, size - have, "{booking}", "/s", 0,
                                true) < 0) {
            report_error("cannot insert %ld webhooks", size);
            break;
        }
        have = size;
        bench_sql(env->pg, "VACUUM ANALYZE webhooks", 0, NULL);
        long long t0 = bench_now_us();
        pid_t pid = bench_dispatcher_start(env);
        while (!scale_running(hx_proc_log(env->st, pid)) && bench_now_us() - t0 < 120000000LL)
            hx_sleep_ms(20);
        double load_s = (double)(bench_now_us() - t0) / 1e6;
        if (bench_dispatchers_ready(env, p, 60000) < 0) {
            report_error("%ld webhooks: the dispatcher did not take every partition", size);
            bench_dispatchers_stop(env);
            break;
        }
        long rss_load = bench_proc_kib(pid, "VmRSS");
        double base = scale_cpu_per_event(env, p, pid, events, "conversation.started", NULL, "sb");
        double match = scale_cpu_per_event(env, p, pid, events, "booking.scheduled", "\"owner\":\"nobody\",", "sm");
        long rss = bench_proc_kib(pid, "VmRSS"), hwm = bench_proc_kib(pid, "VmHWM");
        long per_tenant = size / env->plan.scale_tenants;

        snprintf(key, sizeof(key), "w%ld_load_s", size);
        snprintf(label, sizeof(label), "%ld webhooks: dispatcher start to index loaded", size);
        report_fig(key, label, load_s, "s");
        snprintf(key, sizeof(key), "w%ld_rss_load_mib", size);
        snprintf(label, sizeof(label), "%ld webhooks: VmRSS after the load", size);
        report_fig(key, label, (double)rss_load / 1024.0, "MiB");
        snprintf(key, sizeof(key), "w%ld_rss_mib", size);
        snprintf(label, sizeof(label), "%ld webhooks: VmRSS after %ld events", size, 4 * events);
        report_fig(key, label, (double)rss / 1024.0, "MiB");
        snprintf(key, sizeof(key), "w%ld_hwm_mib", size);
        snprintf(label, sizeof(label), "%ld webhooks: VmHWM (peak)", size);
        report_fig(key, label, (double)hwm / 1024.0, "MiB");
        snprintf(key, sizeof(key), "w%ld_cpu_base_us", size);
        snprintf(label, sizeof(label), "%ld webhooks: CPU per event, no subscriber (consume + parse)", size);
        report_fig(key, label, base, "us");
        snprintf(key, sizeof(key), "w%ld_cpu_match_us", size);
        snprintf(label, sizeof(label), "%ld webhooks: CPU per event, %ld candidate filters checked", size, per_tenant);
        report_fig(key, label, match, "us");
        snprintf(key, sizeof(key), "w%ld_match_cost_us", size);
        snprintf(label, sizeof(label), "%ld webhooks: matching cost per event (difference)", size);
        report_fig(key, label, match - base, "us");
        bench_dispatchers_stop(env);
    }
    /* the same number of webhooks without filters: the memory a plain one costs */
    if (have > 0 && bench_sql(env->pg, "DELETE FROM webhooks WHERE id LIKE 'wh_sc%'", 0, NULL) == 0 &&
        bench_seed_webhooks(env, "sp", "st", env->plan.scale_tenants, 0, have, "{booking}", "/s", 0, false) == 0) {
        char key[64], label[160];
        bench_sql(env->pg, "VACUUM ANALYZE webhooks", 0, NULL);
        long long t0 = bench_now_us();
        pid_t pid = bench_dispatcher_start(env);
        while (!scale_running(hx_proc_log(env->st, pid)) && bench_now_us() - t0 < 120000000LL)
            hx_sleep_ms(20);
        double load_s = (double)(bench_now_us() - t0) / 1e6;
        if (bench_dispatchers_ready(env, p, 60000) == 0) {
            long rss_load = bench_proc_kib(pid, "VmRSS");
            double base = scale_cpu_per_event(env, p, pid, events, "conversation.started", NULL, "sp");
            long rss = bench_proc_kib(pid, "VmRSS"), hwm = bench_proc_kib(pid, "VmHWM");
            snprintf(key, sizeof(key), "plain%ld_load_s", have);
            snprintf(label, sizeof(label), "%ld webhooks without filters: start to index loaded", have);
            report_fig(key, label, load_s, "s");
            snprintf(key, sizeof(key), "plain%ld_rss_load_mib", have);
            snprintf(label, sizeof(label), "%ld webhooks without filters: VmRSS after the load", have);
            report_fig(key, label, (double)rss_load / 1024.0, "MiB");
            snprintf(key, sizeof(key), "plain%ld_rss_mib", have);
            snprintf(label, sizeof(label), "%ld webhooks without filters: VmRSS after %ld events", have, 2 * events);
            report_fig(key, label, (double)rss / 1024.0, "MiB");
            snprintf(key, sizeof(key), "plain%ld_hwm_mib", have);
            snprintf(label, sizeof(label), "%ld webhooks without filters: VmHWM (peak)", have);
            report_fig(key, label, (double)hwm / 1024.0, "MiB");
            snprintf(key, sizeof(key), "plain%ld_cpu_base_us", have);
            snprintf(label, sizeof(label), "%ld webhooks without filters: CPU per event, no subscriber", have);
            report_fig(key, label, base, "us");
            char name[96];
            snprintf(name, sizeof(name), "dispatcher RSS with %ld webhooks (no filters, after traffic)", have);
            report_target(name, (double)rss / 1024.0, "MiB", "< 64 MiB", rss < 64 * 1024);
        } else {
            report_error("%ld plain webhooks: the dispatcher did not take every partition", have);
        }
        bench_dispatchers_stop(env);
    }
    bprod_free(p);
}
