/* attempts_stats.c: each batch of attempts added to webhook_stats (sql/
 * 015_webhook_stats.sql) in the writer's transaction, so the delivery
 * health of GET /v1/webhooks/{id}/stats costs a few rows per webhook and
 * hour whatever the number of attempts. The batch is grouped here, in
 * memory, and goes in with one INSERT ... ON CONFLICT DO UPDATE whose rows
 * come in key order (webhook, hour, sorted by PostgreSQL), as the last
 * statement before the commit: two dispatchers adding to the same rows
 * lock them in one order and hold nothing else they could wait on, so
 * they never deadlock. The histogram buckets
 * are PostgreSQL's (hl_stats_hist), so their bounds live in one place.
 */
#include "attempts_stats.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"

#define HOUR_MS 3600000LL

static int stats_by_group(const void *a, const void *b)
{
    const struct delivery *x = *(struct delivery *const *)a, *y = *(struct delivery *const *)b;
    int c = strcmp(x->sub->id, y->sub->id);
    if (c != 0)
        return c;
    long long hx = x->sent_ms / HOUR_MS, hy = y->sent_ms / HOUR_MS;
    return (hx > hy) - (hx < hy);
}

static void *stats_must(void *p)
{
    if (p == NULL)
        abort();                /* cannot keep the record: better to crash and redeliver */
    return p;
}

char *attempts_stats_rows(struct delivery *const *v, size_t n)
{
    struct delivery **sorted = stats_must(malloc((n ? n : 1) * sizeof(*sorted)));
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i]->outcome != DELIVERY_DEFERRED)
            sorted[m++] = v[i];
    char *text = NULL;
    if (m == 0)
        goto out;
    qsort(sorted, m, sizeof(*sorted), stats_by_group);
    json_t *rows = stats_must(json_array());
    for (size_t i = 0; i < m;) {
        const struct delivery *first = sorted[i];
        long long hour = first->sent_ms / HOUR_MS;
        long ok = 0, failed = 0, max_ms = 0;
        json_t *durations = stats_must(json_array());
        size_t j = i;
        for (; j < m && strcmp(sorted[j]->sub->id, first->sub->id) == 0 && sorted[j]->sent_ms / HOUR_MS == hour;
             j++) {
            const struct delivery *d = sorted[j];
            if (d->outcome == DELIVERY_SUCCESS)
                ok++;
            else
                failed++;
            long ms = d->duration_ms > 0 ? d->duration_ms : 0;
            if (ms > max_ms)
                max_ms = ms;
            json_array_append_new(durations, json_integer(ms));
        }
        json_t *row = stats_must(json_pack("{s:s,s:s,s:I,s:i,s:i,s:i,s:o}", "w", first->sub->id, "t",
                                           first->sub->tenant, "h", (json_int_t)(hour * 3600), "s", (int)ok,
                                           "f", (int)failed, "m", (int)max_ms, "d", durations));
        json_array_append_new(rows, row);
        i = j;
    }
    text = stats_must(json_dumps(rows, JSON_COMPACT));
    json_decref(rows);
out:
    free(sorted);
    return text;
}

int attempts_stats_write(PGconn *pg, const char *rows, struct hl_error *err)
{
    const char *params[1] = { rows };
    return db_exec_prepared(pg, err,
        "INSERT INTO webhook_stats AS s (webhook_id, hour, tenant_id, succeeded, failed, max_ms, hist) "
        "SELECT x.w, to_timestamp(x.h), x.t, x.s, x.f, x.m, hl_stats_hist(x.d) "
        "FROM json_to_recordset($1::json) AS x(w text, t text, h bigint, s int, f int, m int, d int[]) "
        "ORDER BY x.w, x.h "
        "ON CONFLICT (webhook_id, hour) DO UPDATE SET succeeded = s.succeeded + EXCLUDED.succeeded, "
        "failed = s.failed + EXCLUDED.failed, max_ms = greatest(s.max_ms, EXCLUDED.max_ms), "
        "hist = hl_stats_hist_add(s.hist, EXCLUDED.hist)",
        1, params) < 0 ? HL_EDB : 0;
}
