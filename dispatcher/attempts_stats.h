/* attempts_stats.h: a batch of attempts added to the per-webhook, per-hour
 * delivery health (webhook_stats, sql/015_webhook_stats.sql). */
#ifndef HL_ATTEMPTS_STATS_H
#define HL_ATTEMPTS_STATS_H

#include "dispatcher.h"

/* The attempts among the 'n' deliveries of 'v' (borrowed; not reordered;
 * deferred ones are not attempts and are left out) grouped by webhook and
 * UTC hour, in that order, as the JSON array attempts_stats_write reads:
 * per group the counts succeeded and failed, the longest duration and
 * every duration. New string (free() it), or NULL when the batch holds no
 * attempt. Aborts when out of memory, as the writer does. */
char *attempts_stats_rows(struct delivery *const *v, size_t n);

/* Add 'rows' (from attempts_stats_rows) to webhook_stats on 'pg', inside
 * the caller's transaction. Returns 0, or HL_EDB with the reason in 'err'. */
int attempts_stats_write(PGconn *pg, const char *rows, struct hl_error *err) HL_MUST_CHECK;

#endif
