/* webhook_stats.h: reads of the hourly delivery health that the
 * dispatchers keep (webhook_stats, sql/015_webhook_stats.sql).
 */
#ifndef HL_WEBHOOK_STATS_H
#define HL_WEBHOOK_STATS_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "hl_error.h"

/* The window of success_rate_24h: the current UTC hour and the 23 before. */
#define WEBHOOK_STATS_RATE_HOURS 24
/* How long a webhook's rate is served from the process's cache. */
#define WEBHOOK_STATS_RATE_TTL_MS 10000

/* The success rate over the last WEBHOOK_STATS_RATE_HOURS hours of each of
 * the 'n' webhooks 'ids' (borrowed) of 'tenant', at most
 * WEBHOOK_STATS_RATE_TTL_MS old: from the cache, the others in one query
 * (none when all are cached). Any thread. rates[i]
 * gets succeeded / (succeeded + failed) of ids[i], or a negative value when
 * it made no attempt in the window. Returns 0, or HL_EDB / HL_ENOMEM with
 * the reason in 'err'. */
int webhook_stats_rates(PGconn *pg, const char *tenant, const char *const *ids, int n, double *rates,
                        struct hl_error *err) HL_MUST_CHECK;

/* ",\"success_rate_24h\":<rate>" (or null for a negative 'rate') into
 * 'out' ('cap' >= 40). Returns its length. */
int webhook_stats_rate_field(double rate, char *out, size_t cap);

#endif
