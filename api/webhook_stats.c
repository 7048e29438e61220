/* webhook_stats.c: the webhook list's success_rate_24h, read for a whole
 * page in one query from the hourly aggregate (at most 24 rows per
 * webhook, through its primary key), never from the attempt log. */
#include "webhook_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

int webhook_stats_rates(PGconn *pg, const char *tenant, const char *const *ids, int n, double *rates,
                        struct hl_error *err)
{
    for (int i = 0; i < n; i++)
        rates[i] = -1;
    if (n == 0)
        return 0;
    json_t *arr = json_array();
    for (int i = 0; arr != NULL && i < n; i++)
        if (json_array_append_new(arr, json_string(ids[i])) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    char *text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    if (text == NULL)
        return hl_error_set(err, HL_ENOMEM, "out of memory");
    const char *params[2] = { tenant, text };
    PGresult *res = db_query(pg, err,
        "SELECT webhook_id, sum(succeeded), sum(failed) FROM webhook_stats "
        "WHERE webhook_id = ANY(ARRAY(SELECT json_array_elements_text($2::json))) AND tenant_id = $1 "
        "AND hour >= date_trunc('hour', now(), 'UTC') - interval '23 hours' GROUP BY webhook_id", 2, params);
    free(text);
    if (res == NULL)
        return HL_EDB;
    for (int r = 0; r < PQntuples(res); r++) {
        double ok = atof(PQgetvalue(res, r, 1)), bad = atof(PQgetvalue(res, r, 2));
        if (ok + bad <= 0)
            continue;
        for (int i = 0; i < n; i++)
            if (strcmp(ids[i], PQgetvalue(res, r, 0)) == 0)
                rates[i] = ok / (ok + bad);
    }
    PQclear(res);
    return 0;
}

int webhook_stats_rate_field(double rate, char *out, size_t cap)
{
    int len = rate < 0 ? snprintf(out, cap, ",\"success_rate_24h\":null")
                       : snprintf(out, cap, ",\"success_rate_24h\":%.4f", rate);
    return len < 0 ? 0 : (size_t)len >= cap ? (int)cap - 1 : len;
}
