/* metrics.c: the dispatcher's /metrics, /healthz and /readyz (see metrics.h).
 *
 * Two copies of the numbers: 'work', which only the loop thread touches
 * (counters, gauges, the librdkafka statistics callback), and 'snap', which
 * the loop copies 'work' into under 'lock' every METRICS_PUBLISH_MS and the
 * listener copies out under the same lock before it formats an answer.
 */
#include "metrics.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "dispatch.h"
#include "kafka.h"
#include "lanes.h"
#include "log.h"

#define METRICS_PUBLISH_MS 250
#define METRICS_LAG_MS 1000
#define METRICS_COUNT_MS 5000
#define METRICS_STATS_STALE_MS 5000   /* no statistics for this long: Kafka counts as down */
#define METRICS_STALL_MS 60000        /* no snapshot for this long: /healthz fails */
#define METRICS_PARTITIONS_MAX 256
#define METRICS_BODY_MAX (256 * 1024)

/* Upper bounds (seconds) of the attempt duration buckets; +Inf follows. */
static const double metrics_bounds[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30 };
#define METRICS_BUCKETS (sizeof(metrics_bounds) / sizeof(metrics_bounds[0]))

struct metrics_lag {
    int32_t partition;
    int64_t lag;
};

struct metrics_snap {
    long long published_ms;         /* CLOCK_MONOTONIC; 0 = never */
    struct dispatch_stats stats;
    unsigned long long buckets[METRICS_BUCKETS + 1];   /* not cumulative; last is +Inf */
    unsigned long long attempts;
    double attempt_seconds;
    long in_flight, waiting, unrecorded, index_size, sealed_shut, assigned, lanes_held;
    long retries_pending;           /* -1 until the first count */
    bool paused;
    bool pg_ok;                     /* the last count query answered */
    bool kafka_up;                  /* a broker was UP in fresh statistics */
    bool group_steady;              /* statistics: the group assignment is in place */
    long long stats_ms;             /* when statistics last came */
    int64_t fetch_pos[METRICS_PARTITIONS_MAX];  /* statistics: next offset to fetch; -1 unknown */
    int nlag;
    struct metrics_lag lag[METRICS_PARTITIONS_MAX];
};

struct metrics {
    struct MHD_Daemon *mhd;
    pthread_mutex_t lock;
    struct metrics_snap snap;       /* under 'lock' */
    struct metrics_snap work;       /* loop thread only */
    long long next_publish_ms, next_lag_ms, next_count_ms;
};

static long long metrics_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- loop thread ------------------------------------------------------------ */

void metrics_attempt(struct metrics *m, long duration_ms)
{
    if (m == NULL)
        return;
    double s = duration_ms > 0 ? (double)duration_ms / 1000.0 : 0.0;
    size_t i = 0;
    while (i < METRICS_BUCKETS && s > metrics_bounds[i])
        i++;
    m->work.buckets[i]++;
    m->work.attempts++;
    m->work.attempt_seconds += s;
}

/* librdkafka statistics (served by rd_kafka_consumer_poll on the loop
 * thread): is any broker connection UP, is the group assignment settled. */
static int metrics_on_kafka_stats(rd_kafka_t *rk, char *text, size_t len, void *opaque)
{
    (void)rk;
    struct dispatcher *dsp = opaque;
    struct metrics *m = dsp ? dsp->metrics : NULL;
    if (m == NULL)
        return 0;
    json_t *st = json_loadb(text, len, 0, NULL);
    if (st == NULL)
        return 0;
    bool up = false;
    const char *name;
    json_t *b;
    json_object_foreach(json_object_get(st, "brokers"), name, b) {
        const char *state = json_string_value(json_object_get(b, "state"));
        if (state && strcmp(state, "UP") == 0)
            up = true;
    }
    const char *join = json_string_value(json_object_get(json_object_get(st, "cgrp"), "join_state"));
    json_t *parts = json_object_get(json_object_get(json_object_get(st, "topics"), HL_TOPIC_EVENTS), "partitions");
    json_t *p;
    for (int i = 0; i < METRICS_PARTITIONS_MAX; i++)
        m->work.fetch_pos[i] = -1;
    json_object_foreach(parts, name, p) {
        json_int_t n = json_integer_value(json_object_get(p, "partition"));
        json_int_t next = json_integer_value(json_object_get(p, "next_offset"));
        json_int_t committed = json_integer_value(json_object_get(p, "committed_offset"));
        if (n >= 0 && n < METRICS_PARTITIONS_MAX)
            m->work.fetch_pos[n] = next >= 0 ? next : committed >= 0 ? committed : -1;
    }
    m->work.kafka_up = up;
    m->work.group_steady = join && strcmp(join, "steady") == 0;
    m->work.stats_ms = metrics_now_ms();
    json_decref(st);
    return 0;   /* librdkafka frees 'text' */
}

int metrics_kafka_conf(rd_kafka_conf_t *conf, struct hl_error *err)
{
    if (kafka_conf_set(conf, "statistics.interval.ms", "1000", err) < 0)
        return HL_EINVAL;
    rd_kafka_conf_set_stats_cb(conf, metrics_on_kafka_stats);
    return 0;
}

/* Lag of every assigned partition: cached high watermark minus the
 * position (next offset to consume). Both are local reads. */
static void metrics_sample_lag(struct metrics *m, struct dispatcher *dsp)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    m->work.nlag = 0;
    m->work.assigned = 0;
    if (rd_kafka_assignment(dsp->rk, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == NULL)
        return;
    m->work.assigned = parts->cnt;
    rd_kafka_position(dsp->rk, parts);
    for (int i = 0; i < parts->cnt && m->work.nlag < METRICS_PARTITIONS_MAX; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t lo = -1, hi = -1;
        if (rd_kafka_get_watermark_offsets(dsp->rk, p->topic, p->partition, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi < 0)
            continue;
        /* nothing consumed here since the assignment: the fetcher's position
         * (from the statistics) is where consuming resumes */
        int64_t pos = p->offset >= 0 ? p->offset
                    : p->partition >= 0 && p->partition < METRICS_PARTITIONS_MAX ? m->work.fetch_pos[p->partition] : -1;
        if (pos < 0)
            continue;
        m->work.lag[m->work.nlag++] = (struct metrics_lag){ .partition = p->partition, .lag = hi > pos ? hi - pos : 0 };
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

/* Pending retries of the whole deployment: counted up to 100,000, the
 * planner's estimate above (a count of millions would hold the loop);
 * the answer (or its absence) also says whether PostgreSQL is reachable
 * from this process. */
static void metrics_count_retries(struct metrics *m, struct dispatcher *dsp)
{
    struct hl_error err = { 0 };
    PGconn *pg = attempts_pg(dsp->at);
    PGresult *res = pg != NULL ? db_query(pg, &err,
        "SELECT CASE WHEN n < 100000 THEN n "
        "ELSE greatest(n, (SELECT reltuples::bigint FROM pg_class WHERE oid = 'retries'::regclass)) END "
        "FROM (SELECT count(*) AS n FROM (SELECT 1 FROM retries LIMIT 100000) s) c", 0, NULL) : NULL;
    m->work.pg_ok = res != NULL;
    if (res != NULL)
        m->work.retries_pending = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
}

void metrics_tick(struct metrics *m, struct dispatcher *dsp)
{
    if (m == NULL)
        return;
    long long now = metrics_now_ms();
    if (now < m->next_publish_ms)
        return;
    m->next_publish_ms = now + METRICS_PUBLISH_MS;
    if (now >= m->next_lag_ms) {
        metrics_sample_lag(m, dsp);
        m->next_lag_ms = now + METRICS_LAG_MS;
    }
    if (now >= m->next_count_ms) {
        metrics_count_retries(m, dsp);
        m->next_count_ms = now + METRICS_COUNT_MS;
    }
    struct metrics_snap *w = &m->work;
    w->stats = dsp->stats;
    w->in_flight = (long)queue_in_flight(dsp->q);
    w->waiting = (long)queue_waiting(dsp->q);
    w->unrecorded = (long)attempts_batched(dsp->at);
    w->index_size = (long)sub_index_size(dsp->idx);
    w->sealed_shut = (long)sub_index_sealed_shut(dsp->idx);
    w->lanes_held = (long)lanes_held(dsp->lanes);
    w->paused = dsp->paused;
    w->published_ms = now;
    pthread_mutex_lock(&m->lock);
    m->snap = *w;
    pthread_mutex_unlock(&m->lock);
}

/* ---- listener thread ---------------------------------------------------------- */

/* Is Kafka up per the snapshot, as of 'now'? */
static bool metrics_kafka_ok(const struct metrics_snap *s, long long now)
{
    return s->kafka_up && s->stats_ms > 0 && now - s->stats_ms < METRICS_STATS_STALE_MS;
}

static bool metrics_ready(const struct metrics_snap *s, long long now)
{
    return metrics_kafka_ok(s, now) && s->pg_ok && (s->assigned > 0 || s->group_steady);
}

static void metrics_format(FILE *out, const struct metrics_snap *s, long long now)
{
    const struct dispatch_stats *st = &s->stats;
    fprintf(out, "# HELP hookline_build_info Version of this process.\n# TYPE hookline_build_info gauge\n"
                 "hookline_build_info{component=\"dispatcher\",version=\"%s\"} 1\n", HOOKLINE_VERSION);
    fprintf(out, "# HELP hookline_dispatcher_events_consumed_total Messages read from " HL_TOPIC_EVENTS ".\n"
                 "# TYPE hookline_dispatcher_events_consumed_total counter\n"
                 "hookline_dispatcher_events_consumed_total %ld\n", st->events);
    fprintf(out, "# HELP hookline_dispatcher_events_skipped_total Messages skipped, by reason.\n"
                 "# TYPE hookline_dispatcher_events_skipped_total counter\n"
                 "hookline_dispatcher_events_skipped_total{reason=\"malformed\"} %ld\n"
                 "hookline_dispatcher_events_skipped_total{reason=\"unknown_tenant\"} %ld\n"
                 "hookline_dispatcher_events_skipped_total{reason=\"lost\"} %ld\n",
            st->malformed, st->unknown_tenant, st->lost);
    fprintf(out, "# HELP hookline_dispatcher_spilled_total Deliveries from Kafka written to their endpoint's slow "
                 "lane in PostgreSQL instead of waiting in memory.\n"
                 "# TYPE hookline_dispatcher_spilled_total counter\nhookline_dispatcher_spilled_total %ld\n",
            st->spilled);
    fprintf(out, "# HELP hookline_dispatcher_lanes_held Slow lanes (endpoints) this process leases and serves.\n"
                 "# TYPE hookline_dispatcher_lanes_held gauge\nhookline_dispatcher_lanes_held %ld\n", s->lanes_held);
    fprintf(out, "# HELP hookline_dispatcher_deliveries_total Finished delivery attempts, by result.\n"
                 "# TYPE hookline_dispatcher_deliveries_total counter\n"
                 "hookline_dispatcher_deliveries_total{result=\"success\"} %ld\n"
                 "hookline_dispatcher_deliveries_total{result=\"retry\"} %ld\n"
                 "hookline_dispatcher_deliveries_total{result=\"failed\"} %ld\n",
            st->delivered, st->retried, st->failed);
    fprintf(out, "# HELP hookline_dispatcher_attempts_recorded_total Attempts written to PostgreSQL.\n"
                 "# TYPE hookline_dispatcher_attempts_recorded_total counter\n"
                 "hookline_dispatcher_attempts_recorded_total %ld\n", st->recorded);
    fprintf(out, "# HELP hookline_dispatcher_attempt_duration_seconds Time from sending a delivery to its end.\n"
                 "# TYPE hookline_dispatcher_attempt_duration_seconds histogram\n");
    unsigned long long cum = 0;
    for (size_t i = 0; i < METRICS_BUCKETS; i++) {
        cum += s->buckets[i];
        fprintf(out, "hookline_dispatcher_attempt_duration_seconds_bucket{le=\"%g\"} %llu\n", metrics_bounds[i], cum);
    }
    cum += s->buckets[METRICS_BUCKETS];
    fprintf(out, "hookline_dispatcher_attempt_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                 "hookline_dispatcher_attempt_duration_seconds_sum %.6f\n"
                 "hookline_dispatcher_attempt_duration_seconds_count %llu\n",
            cum, s->attempt_seconds, s->attempts);
    fprintf(out, "# HELP hookline_dispatcher_in_flight Deliveries being sent now.\n"
                 "# TYPE hookline_dispatcher_in_flight gauge\nhookline_dispatcher_in_flight %ld\n", s->in_flight);
    fprintf(out, "# HELP hookline_dispatcher_waiting Deliveries queued for their endpoint's turn.\n"
                 "# TYPE hookline_dispatcher_waiting gauge\nhookline_dispatcher_waiting %ld\n", s->waiting);
    fprintf(out, "# HELP hookline_dispatcher_unrecorded_attempts Finished attempts not yet written to PostgreSQL.\n"
                 "# TYPE hookline_dispatcher_unrecorded_attempts gauge\nhookline_dispatcher_unrecorded_attempts %ld\n",
            s->unrecorded);
    if (s->retries_pending >= 0)
        fprintf(out, "# HELP hookline_dispatcher_retries_pending Deliveries waiting for a retry (whole deployment; "
                     "counted every 5 s; exact to 100,000, estimated above).\n# TYPE hookline_dispatcher_retries_pending gauge\n"
                     "hookline_dispatcher_retries_pending %ld\n", s->retries_pending);
    fprintf(out, "# HELP hookline_dispatcher_subscriptions Webhooks in the in-memory matching index.\n"
                 "# TYPE hookline_dispatcher_subscriptions gauge\nhookline_dispatcher_subscriptions %ld\n",
            s->index_size);
    fprintf(out, "# HELP hookline_dispatcher_subscriptions_sealed_shut Webhooks left out of the index because their "
                 "secrets do not open with HOOKLINE_SECRETS_KEY.\n"
                 "# TYPE hookline_dispatcher_subscriptions_sealed_shut gauge\n"
                 "hookline_dispatcher_subscriptions_sealed_shut %ld\n", s->sealed_shut);
    fprintf(out, "# HELP hookline_dispatcher_assigned_partitions Partitions of " HL_TOPIC_EVENTS " assigned here.\n"
                 "# TYPE hookline_dispatcher_assigned_partitions gauge\nhookline_dispatcher_assigned_partitions %ld\n",
            s->assigned);
    fprintf(out, "# HELP hookline_dispatcher_consumer_lag Messages between the high watermark and this consumer's "
                 "position.\n# TYPE hookline_dispatcher_consumer_lag gauge\n");
    for (int i = 0; i < s->nlag; i++)
        fprintf(out, "hookline_dispatcher_consumer_lag{topic=\"" HL_TOPIC_EVENTS "\",partition=\"%d\"} %lld\n",
                (int)s->lag[i].partition, (long long)s->lag[i].lag);
    fprintf(out, "# HELP hookline_dispatcher_paused 1 while reading from Kafka is paused (too much waiting).\n"
                 "# TYPE hookline_dispatcher_paused gauge\nhookline_dispatcher_paused %d\n", s->paused ? 1 : 0);
    fprintf(out, "# HELP hookline_dispatcher_up Whether a dependency answers, as this process last saw it.\n"
                 "# TYPE hookline_dispatcher_up gauge\n"
                 "hookline_dispatcher_up{dependency=\"kafka\"} %d\n"
                 "hookline_dispatcher_up{dependency=\"postgres\"} %d\n",
            metrics_kafka_ok(s, now) ? 1 : 0, s->pg_ok ? 1 : 0);
    fprintf(out, "# HELP hookline_dispatcher_ready 1 when /readyz answers 200.\n"
                 "# TYPE hookline_dispatcher_ready gauge\nhookline_dispatcher_ready %d\n",
            metrics_ready(s, now) ? 1 : 0);
}

static enum MHD_Result metrics_send(struct MHD_Connection *conn, unsigned status, const char *type, char *body,
                                    size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result metrics_send_json(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result metrics_send_json(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
{
    char *body = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&body, fmt, ap);
    va_end(ap);
    if (n < 0)
        return MHD_NO;
    return metrics_send(conn, status, "application/json", body, (size_t)n);
}

static enum MHD_Result metrics_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                          const char *version, const char *upload_data, size_t *upload_data_size,
                                          void **con_cls)
{
    struct metrics *m = cls;
    (void)version;
    (void)upload_data;
    (void)con_cls;
    if (*upload_data_size != 0) {
        *upload_data_size = 0;      /* ignore any body */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return metrics_send_json(conn, 405, "{\"error\":\"Method not allowed.\"}");

    /* the snapshot is a plain copy: the lock is held for a memcpy only */
    struct metrics_snap *s = malloc(sizeof(*s));
    if (s == NULL)
        return MHD_NO;
    pthread_mutex_lock(&m->lock);
    *s = m->snap;
    pthread_mutex_unlock(&m->lock);
    long long now = metrics_now_ms();
    enum MHD_Result rc;

    if (strcmp(url, "/metrics") == 0) {
        char *body = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&body, &len);
        if (out == NULL) {
            rc = MHD_NO;
        } else {
            metrics_format(out, s, now);
            fclose(out);
            if (len <= METRICS_BODY_MAX) {
                rc = metrics_send(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
            } else {
                free(body);
                rc = MHD_NO;
            }
        }
    } else if (strcmp(url, "/healthz") == 0) {
        /* alive while the loop keeps publishing (a revocation may hold it
         * for the delivery timeout and more: the bound is generous) */
        bool alive = s->published_ms > 0 && now - s->published_ms < METRICS_STALL_MS;
        rc = metrics_send_json(conn, alive ? 200 : 503, "{\"status\":\"%s\"}", alive ? "ok" : "stalled");
    } else if (strcmp(url, "/readyz") == 0) {
        bool ready = metrics_ready(s, now);
        rc = metrics_send_json(conn, ready ? 200 : 503,
                               "{\"status\":\"%s\",\"postgres\":\"%s\",\"kafka\":\"%s\",\"assignment\":\"%s\","
                               "\"events_lost\":%ld}",
                               ready ? "ready" : "not ready", s->pg_ok ? "ok" : "unreachable",
                               metrics_kafka_ok(s, now) ? "ok" : "unreachable",
                               s->assigned > 0 || s->group_steady ? "ok" : "waiting", s->stats.lost);
    } else {
        rc = metrics_send_json(conn, 404, "{\"error\":\"Not found.\"}");
    }
    free(s);
    return rc;
}

/* libmicrohttpd's own messages, as our log lines. */
static void metrics_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof(text), fmt, ap);
    text[strcspn(text, "\r\n")] = '\0';
    log_warn("metrics listener: %s", text);
}

struct metrics *metrics_start(int port, struct hl_error *err)
{
    struct metrics *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        hl_error_set(err, HL_ENOMEM, "metrics: out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->lock, NULL);
    m->work.retries_pending = -1;
    m->snap.retries_pending = -1;
    for (int i = 0; i < METRICS_PARTITIONS_MAX; i++)
        m->work.fetch_pos[i] = -1;
    m->snap.published_ms = metrics_now_ms();   /* alive from the start; the loop takes over */
    m->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port, NULL, NULL,
                              metrics_on_request, m,
                              MHD_OPTION_EXTERNAL_LOGGER, metrics_mhd_log, NULL,
                              MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                              MHD_OPTION_END);
    if (m->mhd == NULL) {
        hl_error_set(err, HL_EIO, "HOOKLINE_METRICS_PORT: cannot listen on port %d (in use?)", port);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    log_info("metrics, /healthz and /readyz on port %d", port);
    return m;
}

void metrics_stop(struct metrics *m)
{
    if (m == NULL)
        return;
    MHD_stop_daemon(m->mhd);
    pthread_mutex_destroy(&m->lock);
    free(m);
}
