/* webhook_stats.c: the webhook list's success_rate_24h, read from the
 * hourly aggregate (at most 24 rows per webhook, through its primary key),
 * never from the attempt log, and kept for WEBHOOK_STATS_RATE_TTL_MS in a
 * small process-wide cache: a figure over a day need not be fresher, and
 * a page of the list then costs no query for it at all. The webhooks a
 * page misses are read in one query. The cache is direct-mapped, of a
 * fixed size (a colliding id takes the slot), and keyed by webhook and
 * tenant.
 */
#include "webhook_stats.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "envelope.h"
#include "hl_limits.h"
#include "ids.h"

#define RATE_SLOTS 4096                 /* a power of two */

struct rate_slot {
    char id[HL_ID_MAX];
    char tenant[LIMIT_TENANT_ID_MAX + 1];
    double rate;
    long long at_ms;                    /* when it was read; 0: empty */
};

static struct rate_slot rate_slots[RATE_SLOTS];
/* readers (every page of the list) share it; a page's misses write */
static pthread_rwlock_t rate_lock = PTHREAD_RWLOCK_INITIALIZER;

static struct rate_slot *rate_slot_of(const char *id)
{
    uint32_t h = 2166136261u;           /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &rate_slots[h & (RATE_SLOTS - 1)];
}

static bool rate_cacheable(const char *tenant, const char *id)
{
    return strlen(id) < HL_ID_MAX && strlen(tenant) <= LIMIT_TENANT_ID_MAX;
}

/* Cached rates into rates[]; the indexes of the others into miss[]. */
static int rate_cache_get(const char *tenant, const char *const *ids, int n, double *rates, int *miss,
                          long long now_ms)
{
    int nmiss = 0;
    for (int i = 0; i < n; i++) {
        /* hashed outside the lock, held for one slot at a time */
        const struct rate_slot *sl = rate_cacheable(tenant, ids[i]) ? rate_slot_of(ids[i]) : NULL;
        bool hit = false;
        if (sl != NULL) {
            pthread_rwlock_rdlock(&rate_lock);
            hit = sl->at_ms > now_ms - WEBHOOK_STATS_RATE_TTL_MS && sl->at_ms <= now_ms &&
                  strcmp(sl->id, ids[i]) == 0 && strcmp(sl->tenant, tenant) == 0;
            if (hit)
                rates[i] = sl->rate;
            pthread_rwlock_unlock(&rate_lock);
        }
        if (!hit)
            miss[nmiss++] = i;
    }
    return nmiss;
}

static void rate_cache_put(const char *tenant, const char *const *ids, const int *miss, int nmiss,
                           const double *rates, long long now_ms)
{
    pthread_rwlock_wrlock(&rate_lock);
    for (int m = 0; m < nmiss; m++) {
        const char *id = ids[miss[m]];
        if (!rate_cacheable(tenant, id))
            continue;
        struct rate_slot *sl = rate_slot_of(id);
        snprintf(sl->id, sizeof(sl->id), "%s", id);
        snprintf(sl->tenant, sizeof(sl->tenant), "%s", tenant);
        sl->rate = rates[miss[m]];
        sl->at_ms = now_ms;
    }
    pthread_rwlock_unlock(&rate_lock);
}

int webhook_stats_rates(PGconn *pg, const char *tenant, const char *const *ids, int n, double *rates,
                        struct hl_error *err)
{
    for (int i = 0; i < n; i++)
        rates[i] = -1;
    if (n <= 0)
        return 0;
    long long now_ms = hl_time_now_ms();
    int *miss = malloc((size_t)n * sizeof(*miss));
    if (miss == NULL)
        return hl_error_set(err, HL_ENOMEM, "out of memory");
    int nmiss = rate_cache_get(tenant, ids, n, rates, miss, now_ms);
    if (nmiss == 0) {
        free(miss);
        return 0;
    }
    json_t *arr = json_array();
    for (int m = 0; arr != NULL && m < nmiss; m++)
        if (json_array_append_new(arr, json_string(ids[miss[m]])) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (text == NULL) {
        free(miss);
        return hl_error_set(err, HL_ENOMEM, "out of memory");
    }
    const char *params[2] = { tenant, text };
    PGresult *res = db_query(pg, err,
        "SELECT webhook_id, sum(succeeded), sum(failed) FROM webhook_stats "
        "WHERE webhook_id = ANY(ARRAY(SELECT json_array_elements_text($2::json))) AND tenant_id = $1 "
        "AND hour >= date_trunc('hour', now(), 'UTC') - interval '23 hours' GROUP BY webhook_id", 2, params);
    free(text);
    if (res == NULL) {
        free(miss);
        return HL_EDB;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        double ok = atof(PQgetvalue(res, r, 1)), bad = atof(PQgetvalue(res, r, 2));
        if (ok + bad <= 0)
            continue;
        for (int m = 0; m < nmiss; m++)
            if (strcmp(ids[miss[m]], PQgetvalue(res, r, 0)) == 0)
                rates[miss[m]] = ok / (ok + bad);
    }
    PQclear(res);
    rate_cache_put(tenant, ids, miss, nmiss, rates, now_ms);
    free(miss);
    return 0;
}

/* Written by hand: a page formats 100 of these, and printf's floating
 * point was a measurable share of a cached page's cost. */
int webhook_stats_rate_field(double rate, char *out, size_t cap)
{
    static const char head[] = ",\"success_rate_24h\":";
    size_t n = sizeof(head) - 1;
    if (cap < n + 8)
        return 0;
    memcpy(out, head, n);
    if (rate < 0) {
        memcpy(out + n, "null", 5);
        return (int)n + 4;
    }
    long v = (long)(rate * 10000 + 0.5);         /* 4 decimals */
    if (v > 10000)
        v = 10000;
    out[n++] = (char)('0' + v / 10000);
    out[n++] = '.';
    for (long d = 1000; d > 0; d /= 10)
        out[n++] = (char)('0' + v / d % 10);
    out[n] = '\0';
    return (int)n;
}
