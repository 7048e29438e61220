/* isolation_e2e.h: helpers shared by the end-to-end tests of isolation,
 * back-pressure and scaling (test_isolation_*.c, test_dispatch_scaling.c,
 * test_dispatch_pg_freeze.c, test_dispatch_memory.c): events produced with
 * any key at a set pace, what a dispatcher's /metrics says, a thread that
 * watches how far the dispatchers' reading trails Kafka, a tally of
 * (path, webhook-id) over many receivers, and a wait that gives up when
 * progress stops rather than at a fixed time.
 *
 * Header-only (static inline) like dispatch_e2e.h, which it builds on.
 */
#ifndef HL_ISOLATION_E2E_H
#define HL_ISOLATION_E2E_H

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "dispatch_e2e.h"

/* AddressSanitizer builds: slower, and their RSS says nothing of ours */
#if defined(__SANITIZE_ADDRESS__)
#define ISO_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ISO_SANITIZED 1
#endif
#endif
#ifndef ISO_SANITIZED
#define ISO_SANITIZED 0
#endif

#define ISO_PARTITIONS 12   /* hookline.events on the devbroker */
#define ISO_MAX_URLS 8
#define ISO_MAX_RECEIVERS 64

#define ISO_SUCCESS "hookline_dispatcher_deliveries_total{result=\"success\"}"
#define ISO_LOST "hookline_dispatcher_events_skipped_total{reason=\"lost\"}"
#define ISO_CONSUMED "hookline_dispatcher_events_consumed_total"
#define ISO_LAG "hookline_dispatcher_consumer_lag"
#define ISO_ASSIGNED "hookline_dispatcher_assigned_partitions"
#define ISO_SUBSCRIPTIONS "hookline_dispatcher_subscriptions"

/* ---- producing ------------------------------------------------------------------ */

/* Produce one event of 'tenant' with Kafka key 'key' (NULL: the tenant, the
 * default); 'data' is JSON text. The id goes to 'id_out' (cap >= 64, may
 * be NULL). */
static inline void iso_produce(struct de_producer *p, const char *key, const char *tenant, const char *type,
                               const char *data, char *id_out)
{
    char id[64];
    de_event_id(id, sizeof(id));
    char *env = de_envelope(id, type, tenant, data);
    de_produce_raw(p, key ? key : tenant, env, strlen(env));
    free(env);
    if (id_out)
        snprintf(id_out, 64, "%s", id);
}

/* The same keyed by the event's own id: a tenant's events spread over
 * every partition. */
static inline void iso_produce_spread(struct de_producer *p, const char *tenant, const char *type, const char *data,
                                      char *id_out)
{
    char id[64];
    de_event_id(id, sizeof(id));
    char *env = de_envelope(id, type, tenant, data);
    de_produce_raw(p, id, env, strlen(env));
    free(env);
    if (id_out)
        snprintf(id_out, 64, "%s", id);
}

/* Wait until event 'i' of a stream of 'rate' per second started at 't0'
 * (hx_now_ms) is due, serving the producer's callbacks meanwhile. */
static inline void iso_pace(struct de_producer *p, long long t0, long i, int rate)
{
    long long due = t0 + (long long)i * 1000 / rate;
    for (long long now = hx_now_ms(); now < due; now = hx_now_ms())
        rd_kafka_poll(p->rk, (int)(due - now));
    rd_kafka_poll(p->rk, 0);
}

/* ---- a dispatcher's /metrics -------------------------------------------------------- */

/* GET <url>/metrics (caller frees), or NULL unless 200. Thread-safe. */
static inline char *iso_scrape(const char *url)
{
    char full[256];
    struct hx_resp resp;
    snprintf(full, sizeof(full), "%s/metrics", url);
    long status = hx_http("GET", full, NULL, NULL, NULL, &resp);
    char *text = status == 200 && resp.body ? strdup(resp.body) : NULL;
    hx_resp_free(&resp);
    return text;
}

/* The value of 'series' (name and labels exactly as printed) in 'text',
 * or NAN if absent. */
static inline double iso_metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return NAN;
}

/* Sum of every series of metric 'name' (any labels); 0 if there is none. */
static inline double iso_metric_sum(const char *text, const char *name)
{
    size_t n = strlen(name);
    double sum = 0;
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, name, n) != 0 || (p[n] != '{' && p[n] != ' '))
            continue;
        const char *sp = p[n] == ' ' ? p + n : strstr(p, "} ");
        const char *eol = strchr(p, '\n');
        if (sp && (!eol || sp < eol))
            sum += strtod(sp + (p[n] == ' ' ? 1 : 2), NULL);
    }
    return sum;
}

/* One series of dispatcher 'pid' (NAN if it cannot be read or is absent). */
static inline double iso_dispatcher_metric(struct hx_stack *st, pid_t pid, const char *series)
{
    const char *url = hx_dispatcher_url(st, pid);
    char *text = url ? iso_scrape(url) : NULL;
    double v = text ? iso_metric(text, series) : NAN;
    free(text);
    return v;
}

/* Whether the 'n' dispatchers 'pids' together own every partition of
 * hookline.events, each some: the group has settled. */
static inline bool iso_group_settled(struct hx_stack *st, const pid_t *pids, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) {
        double a = iso_dispatcher_metric(st, pids[i], ISO_ASSIGNED);
        if (!(a > 0))
            return false;
        sum += a;
    }
    return sum == ISO_PARTITIONS;
}

/* Print what each dispatcher says of its reading and delivering: for the
 * reader of a failure. */
static inline void iso_print_dispatchers(struct hx_stack *st, const pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        const char *url = hx_dispatcher_url(st, pids[i]);
        char *text = url ? iso_scrape(url) : NULL;
        if (text == NULL) {
            printf("    dispatcher %ld: no metrics\n", (long)pids[i]);
            continue;
        }
        printf("    dispatcher %ld: %.0f partitions, lag %.0f, paused %.0f, consumed %.0f, %.0f successful "
               "deliveries, %.0f in flight, %.0f waiting\n",
               (long)pids[i], iso_metric(text, ISO_ASSIGNED), iso_metric_sum(text, ISO_LAG),
               iso_metric(text, "hookline_dispatcher_paused"), iso_metric(text, ISO_CONSUMED),
               iso_metric(text, ISO_SUCCESS), iso_metric(text, "hookline_dispatcher_in_flight"),
               iso_metric(text, "hookline_dispatcher_waiting"));
        free(text);
    }
}

/* ---- how far reading trails Kafka ----------------------------------------------------- */

/* A thread that scrapes the dispatchers at 'urls' every 100 ms and keeps
 * the largest trail seen two ways: the sum of their consumer_lag series,
 * and the messages Kafka acknowledged to producer 'p' (the only producer
 * of the stack) minus the events the dispatchers say they consumed, which
 * does not depend on the dispatchers knowing their high watermarks. */
struct iso_lag_watch {
    char urls[ISO_MAX_URLS][64];
    int nurls;
    struct de_producer *p;
    pthread_t thread;
    atomic_bool stop;
    long long t0;
    /* results: read them after iso_lag_watch_stop() */
    long max_lag, max_unread;
    long long max_lag_at, max_unread_at;    /* ms after the start */
    long samples, failed;
};

static inline void *iso_lag_watch_run(void *arg)
{
    struct iso_lag_watch *w = arg;
    while (!atomic_load(&w->stop)) {
        long acked = atomic_load(&w->p->acked);
        double lag = 0, consumed = 0;
        bool ok = true;
        for (int i = 0; i < w->nurls && ok; i++) {
            char *text = iso_scrape(w->urls[i]);
            double c = text ? iso_metric(text, ISO_CONSUMED) : NAN;
            ok = text != NULL && !isnan(c);
            if (ok) {
                lag += iso_metric_sum(text, ISO_LAG);
                consumed += c;
            }
            free(text);
        }
        long long at = hx_now_ms() - w->t0;
        if (ok) {
            long unread = acked - (long)consumed;
            w->samples++;
            if ((long)lag > w->max_lag) {
                w->max_lag = (long)lag;
                w->max_lag_at = at;
            }
            if (unread > w->max_unread) {
                w->max_unread = unread;
                w->max_unread_at = at;
            }
        } else {
            w->failed++;
        }
        hx_sleep_ms(100);
    }
    return NULL;
}

/* Start watching the dispatchers 'pids' of 'st'. */
static inline void iso_lag_watch_start(struct iso_lag_watch *w, struct hx_stack *st, const pid_t *pids, int n,
                                       struct de_producer *p)
{
    memset(w, 0, sizeof(*w));
    CHECK_FATAL(n <= ISO_MAX_URLS);
    for (int i = 0; i < n; i++) {
        const char *url = hx_dispatcher_url(st, pids[i]);
        CHECK_FATAL(url != NULL);
        snprintf(w->urls[i], sizeof(w->urls[i]), "%s", url);
    }
    w->nurls = n;
    w->p = p;
    w->t0 = hx_now_ms();
    atomic_store(&w->stop, false);
    CHECK_FATAL(pthread_create(&w->thread, NULL, iso_lag_watch_run, w) == 0);
}

static inline void iso_lag_watch_stop(struct iso_lag_watch *w)
{
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    printf("reading trailed Kafka by at most %ld events by consumer_lag (at +%lld ms) and %ld by events "
           "consumed (at +%lld ms); %ld samples, %ld failed scrapes\n",
           w->max_lag, w->max_lag_at, w->max_unread, w->max_unread_at, w->samples, w->failed);
}

/* Events consumed by the dispatchers at 'urls' minus acked: how far
 * behind they are now (-1 if a scrape failed). */
static inline long iso_unread(struct de_producer *p, char (*urls)[64], int n)
{
    rd_kafka_poll(p->rk, 0);
    long acked = atomic_load(&p->acked);
    double consumed = 0;
    for (int i = 0; i < n; i++) {
        char *text = iso_scrape(urls[i]);
        double c = text ? iso_metric(text, ISO_CONSUMED) : NAN;
        free(text);
        if (isnan(c))
            return -1;
        consumed += c;
    }
    return acked - (long)consumed;
}

/* ---- what the receivers saw ------------------------------------------------------------ */

/* Every request of a set of receivers, read incrementally, counted by
 * "<path> <webhook-id>". */
struct iso_tally {
    struct hx_receiver *r[ISO_MAX_RECEIVERS];
    int nr;
    size_t done[ISO_MAX_RECEIVERS];
    json_t *count;      /* "<path> <webhook-id>" -> requests */
    long requests;
    long extra;         /* requests beyond the first of their pair */
    long unnamed;       /* requests without a webhook-id */
};

static inline void iso_tally_add(struct iso_tally *t, struct hx_receiver *r)
{
    CHECK_FATAL(t->nr < ISO_MAX_RECEIVERS);
    t->r[t->nr++] = r;
    if (t->count == NULL)
        t->count = json_object();
}

static inline void iso_tally_update(struct iso_tally *t)
{
    char key[384];
    for (int k = 0; k < t->nr; k++) {
        size_t total = hx_receiver_count(t->r[k], NULL);
        for (; t->done[k] < total; t->done[k]++) {
            struct hx_received *rec = hx_receiver_get(t->r[k], t->done[k]);
            if (rec == NULL)
                break;
            const char *id = de_hdr(rec, "webhook-id");
            t->requests++;
            if (id == NULL) {
                t->unnamed++;
            } else {
                snprintf(key, sizeof(key), "%.255s %.127s", rec->path, id);
                json_t *c = json_object_get(t->count, key);
                if (c)
                    t->extra++;
                json_object_set_new(t->count, key, json_integer(c ? json_integer_value(c) + 1 : 1));
            }
            hx_received_free(rec);
        }
    }
}

/* Requests to 'path' with webhook-id 'id' (after the last update). */
static inline long iso_tally_get(const struct iso_tally *t, const char *path, const char *id)
{
    char key[384];
    snprintf(key, sizeof(key), "%.255s %.127s", path, id);
    return (long)json_integer_value(json_object_get(t->count, key));
}

/* Distinct (path, webhook-id) pairs seen, after an update. */
static inline long iso_tally_pairs(struct iso_tally *t)
{
    iso_tally_update(t);
    return (long)json_object_size(t->count);
}

static inline void iso_tally_free(struct iso_tally *t)
{
    json_decref(t->count);
    t->count = NULL;
}

/* ---- waiting on progress ------------------------------------------------------------- */

/* Poll 'count(arg)' every 100 ms until it reaches 'want'. Gives up when it
 * has not grown for 'stall_ms' or after 'max_ms'; prints progress every
 * 10 s as 'what'. Returns whether 'want' was reached. */
static inline bool iso_wait_count(long (*count)(void *arg), void *arg, long want, long stall_ms, long max_ms,
                                  const char *what)
{
    long long start = hx_now_ms(), last_growth = start, next_print = start + 10000;
    long best = -1;
    for (;;) {
        long n = count(arg);
        long long now = hx_now_ms();
        if (n >= want)
            return true;
        if (n > best) {
            best = n;
            last_growth = now;
        }
        if (now >= next_print) {
            printf("  %s: %ld of %ld after %lld ms\n", what, n, want, now - start);
            fflush(stdout);
            next_print = now + 10000;
        }
        if (now - last_growth >= stall_ms || now - start >= max_ms) {
            printf("  %s: %ld of %ld; gave up after %lld ms (%lld ms without progress)\n", what, n, want, now - start,
                   now - last_growth);
            return false;
        }
        hx_sleep_ms(100);
    }
}

static inline long iso_count_tally_pairs(void *arg)
{
    return iso_tally_pairs(arg);
}

/* ---- processes ------------------------------------------------------------------------ */

/* VmRSS of 'pid' in KiB, or -1. */
static inline long iso_rss_kib(pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return -1;
    while (fgets(line, sizeof(line), fp))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(fp);
    return kib;
}

/* ---- numbers ------------------------------------------------------------------------ */

static inline int iso_cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0 < q <= 1) of the 'n' values 'v' by the nearest rank
 * (sorts 'v'); -1 if n == 0. */
static inline long long iso_quantile(long long *v, size_t n, double q)
{
    if (n == 0)
        return -1;
    qsort(v, n, sizeof(*v), iso_cmp_ll);
    size_t rank = (size_t)ceil(q * (double)n);
    return v[rank > 0 ? rank - 1 : 0];
}

#endif
