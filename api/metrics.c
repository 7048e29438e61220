/* metrics.c: request counters and latency histograms per route, and the
 * GET /metrics route that prints them in the Prometheus text format with
 * the outbox backlog and the retention job's counts.
 *
 * Routes are registered on their first request (a short mutex, once per
 * route); after that recording is a few relaxed atomic increments.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc_cache.h"
#include "retention.h"

#define AM_ROUTES_MAX 96
#define AM_STATUS_MIN 100
#define AM_STATUS_MAX 599

/* Upper bounds (seconds) of the latency buckets; +Inf follows. */
static const double am_bounds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
#define AM_BUCKETS (sizeof(am_bounds) / sizeof(am_bounds[0]))

struct am_route {
    const char *method;
    const char *pattern;
    atomic_ulong status[AM_STATUS_MAX - AM_STATUS_MIN + 1];
    atomic_ulong buckets[AM_BUCKETS + 1];   /* not cumulative; last is +Inf */
    atomic_ulong count;
    atomic_ullong sum_us;
};

static struct am_route am_routes[AM_ROUTES_MAX];
static atomic_int am_nroutes;
static pthread_mutex_t am_lock = PTHREAD_MUTEX_INITIALIZER;

/* The slot of ('method', 'pattern'), registered if new; NULL when full. */
static struct am_route *am_route_get(const char *method, const char *pattern)
{
    int n = atomic_load_explicit(&am_nroutes, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (am_routes[i].method == method && am_routes[i].pattern == pattern)
            return &am_routes[i];
    struct am_route *r = NULL;
    pthread_mutex_lock(&am_lock);
    n = atomic_load_explicit(&am_nroutes, memory_order_relaxed);
    for (int i = 0; i < n && r == NULL; i++)
        if (am_routes[i].method == method && am_routes[i].pattern == pattern)
            r = &am_routes[i];
    if (r == NULL && n < AM_ROUTES_MAX) {
        r = &am_routes[n];
        r->method = method;
        r->pattern = pattern;
        /* readers see the slot only once it is filled in */
        atomic_store_explicit(&am_nroutes, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&am_lock);
    return r;
}

void api_metrics_observe(const char *method, const char *pattern, long status, long long elapsed_us)
{
    static const char unmatched_method[] = "any", unmatched_pattern[] = "(unmatched)";
    if (pattern == NULL) {
        /* a client's made-up method or path never becomes a label */
        method = unmatched_method;
        pattern = unmatched_pattern;
    }
    struct am_route *r = am_route_get(method, pattern);
    if (r == NULL)
        return;
    if (status < AM_STATUS_MIN || status > AM_STATUS_MAX)
        status = 500;
    double s = elapsed_us > 0 ? (double)elapsed_us / 1e6 : 0.0;
    size_t b = 0;
    while (b < AM_BUCKETS && s > am_bounds[b])
        b++;
    atomic_fetch_add_explicit(&r->status[status - AM_STATUS_MIN], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sum_us, (unsigned long long)(elapsed_us > 0 ? elapsed_us : 0), memory_order_relaxed);
}

/* Print a label value: patterns are ours, but escape as the format asks. */
static void am_label(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

static void am_format(FILE *out, struct api_ctx *ctx)
{
    int n = atomic_load_explicit(&am_nroutes, memory_order_acquire);
    fprintf(out, "# HELP hookline_build_info Version of this process.\n# TYPE hookline_build_info gauge\n"
                 "hookline_build_info{component=\"api\",version=\"%s\"} 1\n", HOOKLINE_VERSION);

    fprintf(out, "# HELP hookline_api_requests_total Answered requests by route pattern and status.\n"
                 "# TYPE hookline_api_requests_total counter\n");
    for (int i = 0; i < n; i++) {
        const struct am_route *r = &am_routes[i];
        for (int st = AM_STATUS_MIN; st <= AM_STATUS_MAX; st++) {
            unsigned long v = atomic_load_explicit(&r->status[st - AM_STATUS_MIN], memory_order_relaxed);
            if (v == 0)
                continue;
            fputs("hookline_api_requests_total{method=\"", out);
            am_label(out, r->method);
            fputs("\",route=\"", out);
            am_label(out, r->pattern);
            fprintf(out, "\",status=\"%d\"} %lu\n", st, v);
        }
    }

    fprintf(out, "# HELP hookline_api_request_duration_seconds Time to answer a request, by route pattern.\n"
                 "# TYPE hookline_api_request_duration_seconds histogram\n");
    for (int i = 0; i < n; i++) {
        const struct am_route *r = &am_routes[i];
        unsigned long cum = 0;
        for (size_t b = 0; b <= AM_BUCKETS; b++) {
            cum += atomic_load_explicit(&r->buckets[b], memory_order_relaxed);
            fputs("hookline_api_request_duration_seconds_bucket{method=\"", out);
            am_label(out, r->method);
            fputs("\",route=\"", out);
            am_label(out, r->pattern);
            if (b < AM_BUCKETS)
                fprintf(out, "\",le=\"%g\"} %lu\n", am_bounds[b], cum);
            else
                fprintf(out, "\",le=\"+Inf\"} %lu\n", cum);
        }
        /* the count printed is the +Inf bucket's, so a scrape is consistent */
        unsigned long long sum_us = atomic_load_explicit(&r->sum_us, memory_order_relaxed);
        for (int k = 0; k < 2; k++) {
            fprintf(out, "hookline_api_request_duration_seconds_%s{method=\"", k ? "count" : "sum");
            am_label(out, r->method);
            fputs("\",route=\"", out);
            am_label(out, r->pattern);
            if (k)
                fprintf(out, "\"} %lu\n", cum);
            else
                fprintf(out, "\"} %.6f\n", (double)sum_us / 1e6);
        }
    }

    fprintf(out, "# HELP hookline_outbox_backlog Lifecycle events not yet published to Kafka, as the relay last saw "
                 "(0 on an api that is not the active relay).\n# TYPE hookline_outbox_backlog gauge\n"
                 "hookline_outbox_backlog %ld\n", outbox_relay_backlog(ctx->relay));

    struct retention_stats rs;
    retention_stats_get(ctx->retention, &rs);
    fprintf(out, "# HELP hookline_retention_deleted_total Rows deleted by the retention job of this process.\n"
                 "# TYPE hookline_retention_deleted_total counter\n"
                 "hookline_retention_deleted_total{table=\"attempts\"} %ld\n"
                 "hookline_retention_deleted_total{table=\"outbox\"} %ld\n"
                 "hookline_retention_deleted_total{table=\"idempotency_keys\"} %ld\n"
                 "hookline_retention_deleted_total{table=\"portal_sessions\"} %ld\n"
                 "hookline_retention_deleted_total{table=\"poll_events\"} %ld\n",
            rs.attempts, rs.outbox, rs.idempotency_keys, rs.portal_sessions, rs.poll_events);
    fprintf(out, "# HELP hookline_retention_batches_total DELETE statements of the retention job (1000 rows at most "
                 "each).\n# TYPE hookline_retention_batches_total counter\nhookline_retention_batches_total %ld\n",
            rs.batches);
    fprintf(out, "# HELP hookline_retention_partitions_dropped_total Day partitions dropped by the retention job of "
                 "this process.\n# TYPE hookline_retention_partitions_dropped_total counter\n"
                 "hookline_retention_partitions_dropped_total{table=\"attempts\"} %ld\n"
                 "hookline_retention_partitions_dropped_total{table=\"bodies\"} %ld\n",
            rs.partitions_attempts, rs.partitions_bodies);
    fprintf(out, "# HELP hookline_retention_bodies_carried_total Pending retries whose body the retention job "
                 "carried into today's partition before dropping its day.\n"
                 "# TYPE hookline_retention_bodies_carried_total counter\nhookline_retention_bodies_carried_total "
                 "%ld\n", rs.carried);
    fprintf(out, "# HELP hookline_retention_runs_total Retention passes completed by this process.\n"
                 "# TYPE hookline_retention_runs_total counter\nhookline_retention_runs_total %ld\n", rs.runs);
    fprintf(out, "# HELP hookline_retention_active 1 on the api instance that runs the retention job.\n"
                 "# TYPE hookline_retention_active gauge\nhookline_retention_active %d\n", rs.active ? 1 : 0);
    struct doc_cache_stats ds;
    doc_cache_stats_get(ctx->docs, &ds);
    fprintf(out, "# HELP hookline_api_doc_cache_lookups_total GET /v1/webhooks/{id} against the document cache: hit, "
                 "miss, or bypass (cache off while its listener is not connected).\n"
                 "# TYPE hookline_api_doc_cache_lookups_total counter\n"
                 "hookline_api_doc_cache_lookups_total{result=\"hit\"} %lu\n"
                 "hookline_api_doc_cache_lookups_total{result=\"miss\"} %lu\n"
                 "hookline_api_doc_cache_lookups_total{result=\"bypass\"} %lu\n",
            ds.hits, ds.misses, ds.bypasses);
    fprintf(out, "# HELP hookline_api_doc_cache_fills_total Documents read from PostgreSQL after a miss: stored, or "
                 "dropped (a change raced the read, or over the size limit).\n"
                 "# TYPE hookline_api_doc_cache_fills_total counter\n"
                 "hookline_api_doc_cache_fills_total{result=\"stored\"} %lu\n"
                 "hookline_api_doc_cache_fills_total{result=\"dropped\"} %lu\n",
            ds.fills, ds.fills_dropped);
    fprintf(out, "# HELP hookline_api_doc_cache_evictions_total Webhook ids evicted: notified changes and this "
                 "process's own writes.\n# TYPE hookline_api_doc_cache_evictions_total counter\n"
                 "hookline_api_doc_cache_evictions_total %lu\n", ds.evictions);
    fprintf(out, "# HELP hookline_api_doc_cache_flushes_total Whole-cache flushes (listener lost or reconnected, "
                 "TRUNCATE).\n# TYPE hookline_api_doc_cache_flushes_total counter\n"
                 "hookline_api_doc_cache_flushes_total %lu\n", ds.flushes);
    fprintf(out, "# HELP hookline_api_doc_cache_entries Documents in the cache.\n"
                 "# TYPE hookline_api_doc_cache_entries gauge\nhookline_api_doc_cache_entries %zu\n", ds.entries);
    fprintf(out, "# HELP hookline_api_doc_cache_enabled 1 while the cache's listener is connected and the cache in "
                 "use.\n# TYPE hookline_api_doc_cache_enabled gauge\nhookline_api_doc_cache_enabled %d\n",
            ds.enabled ? 1 : 0);
    if (rs.last_run_ms > 0)
        fprintf(out, "# HELP hookline_retention_last_run_timestamp_seconds End of the last retention pass.\n"
                     "# TYPE hookline_retention_last_run_timestamp_seconds gauge\n"
                     "hookline_retention_last_run_timestamp_seconds %.3f\n", (double)rs.last_run_ms / 1000.0);
}

static int metrics_get(struct api_call *call)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (out == NULL)
        return hl_error_set(&call->err, HL_ENOMEM, "metrics: out of memory");
    am_format(out, call->ctx);
    if (fclose(out) != 0 || text == NULL) {
        free(text);
        return hl_error_set(&call->err, HL_ENOMEM, "metrics: out of memory");
    }
    int rc = ulfius_set_binary_body_response(call->resp, 200, text, len) == U_OK ? 0
           : hl_error_set(&call->err, HL_ENOMEM, "metrics: cannot set the body");
    free(text);
    if (rc == 0) {
        u_map_put(call->resp->map_header, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        call->status = 200;     /* no call->reply: the body set here is sent as it is */
    }
    return rc;
}

const struct api_route routes_metrics[] = {
    { "GET", "/metrics", SCOPE_NONE, false, metrics_get },
    { NULL, NULL, 0, false, NULL },
};
